"""`manage.py compile_translations`: compile every `locale/*/LC_MESSAGES/*.po` to `.mo` with polib.

Django's own `compilemessages` needs GNU gettext (`msgfmt`), which a fresh machine lacks; polib is
pure Python and pinned in pyproject.toml. `.mo` files are build output (git-ignored), so
`make setup` and the image build run this command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib  # type: ignore[import-untyped]  # polib ships no type hints
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def catalogues(roots: list[Path]) -> list[Path]:
    """Every `.po` file under `<root>/<language>/LC_MESSAGES/`."""
    return sorted(po for root in roots if root.is_dir() for po in root.glob("*/LC_MESSAGES/*.po"))


def compile_catalogue(po_path: Path) -> Path:
    """Write the `.mo` beside the `.po` (fuzzy entries left out, as msgfmt does) and return it."""
    catalogue = polib.pofile(str(po_path))
    for entry in catalogue.fuzzy_entries():
        catalogue.remove(entry)
    mo_path = po_path.with_suffix(".mo")
    catalogue.save_as_mofile(str(mo_path))
    return mo_path


class Command(BaseCommand):
    help = "Compile the .po translation catalogues to .mo with polib (no GNU gettext needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--locale-dir",
            action="append",
            default=[],
            help="a folder holding <language>/LC_MESSAGES/*.po (default: LOCALE_PATHS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        roots = [Path(path) for path in options["locale_dir"]] or [
            Path(path) for path in settings.LOCALE_PATHS
        ]
        found = catalogues(roots)
        if not found:
            raise CommandError(f"no .po files under {', '.join(map(str, roots))}")
        for po_path in found:
            try:
                mo_path = compile_catalogue(po_path)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{po_path}: {exc}") from exc
            self.stdout.write(f"compiled {mo_path}")
