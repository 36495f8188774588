"""WSGI entry point: gunicorn serves HTTP (see ARCHITECTURE.md's serving measurements)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.base")

application = get_wsgi_application()
