"""Atrium: the Django project package (settings, URLconfs, API root, shared kernel)."""

# Every `@app.task` and `.delay()` must go through the tenant-aware app: loaded with the package.
from atrium.celery import app as celery_app

__all__ = ("celery_app",)
