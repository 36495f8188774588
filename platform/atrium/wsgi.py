"""WSGI entry point: gunicorn serves HTTP (see ARCHITECTURE.md's serving measurements)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.base")

application = get_wsgi_application()

from atrium.runtime import settle_for_serving  # noqa: E402 - needs the apps loaded

settle_for_serving()
