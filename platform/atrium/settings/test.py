"""Test settings: the same services as production, faster hashing, a fixed test domain."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("BASE_DOMAIN", "atrium.test")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")

from atrium.settings.base import *  # noqa: E402, F403

LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
PRIVATE_ROOT = BASE_DIR / ".devdata" / "test-private"  # noqa: F405
MEDIA_ROOT = BASE_DIR / ".devdata" / "test-media"  # noqa: F405
