"""Settings for the demo and local development (DEBUG on, insecure cookies allowed)."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")

from atrium.settings.base import *  # noqa: F403
