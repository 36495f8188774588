"""Atrium: the Django project package (settings, URLconfs, API root, shared kernel)."""
