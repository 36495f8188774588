#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

The `atrium` package lives in `platform/`, which is not put on sys.path here: the editable
install (`make setup`) maps the packages, and `platform/` must never shadow the standard
library's `platform` module.
"""

import importlib.util
import os
import sys


def main() -> None:
    """Run a management command (settings default to the development ones)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.dev")
    if importlib.util.find_spec("atrium") is None:
        sys.exit(
            "error: the `atrium` package is not installed in this Python "
            f"({sys.executable}).\nRun `make setup`, then use `.venv/bin/python manage.py ...`."
        )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
