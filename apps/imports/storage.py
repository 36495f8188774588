"""Uploaded import files in tenant-private storage: PRIVATE_ROOT/<schema>/imports/<uuid>.csv.

The folder is never served; the worker reads the file back in the job's own schema, and the path
is rebuilt from the current schema, so a job row can never point at another mall's folder.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from atrium.tenancy import current_schema


def _tenant_folder() -> Path:
    schema = current_schema()
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("import files belong to a tenant schema")
    return (Path(settings.PRIVATE_ROOT) / schema).resolve()


def _path(relative: str) -> Path:
    folder = _tenant_folder()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise RuntimeError("import file path leaves the tenant folder")
    return path


def save_upload(content: bytes) -> str:
    """Write an uploaded file; returns its path relative to the tenant's private folder."""
    relative = f"imports/{uuid.uuid4().hex}.csv"
    path = _path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return relative


def read_upload(relative: str) -> bytes:
    """The stored file's bytes. Raises OSError when it is gone."""
    return _path(relative).read_bytes()


def delete_upload(relative: str) -> None:
    """Remove a file whose job was not saved."""
    _path(relative).unlink(missing_ok=True)
