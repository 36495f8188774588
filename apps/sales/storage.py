"""Receipt photos in tenant-private storage: PRIVATE_ROOT/<schema>/receipts/<uuid>.<ext>.

The folder is never served by the web server; a photo leaves only through an API that looked the
receipt up in the caller's own schema first, and the path is rebuilt from the current schema, so
a row can never point a mall at another mall's folder.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from apps.sales.errors import ReceiptPhotoInvalidError
from atrium.tenancy import current_schema

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# What the photo's first bytes must be, per type we accept (the client's content type is not
# trusted).
_SIGNATURES: tuple[tuple[str, str, bytes, int], ...] = (
    ("image/jpeg", "jpg", b"\xff\xd8\xff", 0),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/webp", "webp", b"WEBP", 8),
)


def tenant_folder() -> Path:
    """This tenant's private folder (refuses the public schema)."""
    schema = current_schema()
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("receipt photos belong to a tenant schema")
    return Path(settings.PRIVATE_ROOT) / schema


def sniff(content: bytes) -> tuple[str, str]:
    """(content type, extension) of a JPEG, PNG or WebP photo. Raises ReceiptPhotoInvalidError."""
    if not content:
        raise ReceiptPhotoInvalidError("the photo is empty")
    if len(content) > MAX_PHOTO_BYTES:
        raise ReceiptPhotoInvalidError("the photo is too large", max_bytes=MAX_PHOTO_BYTES)
    for content_type, extension, signature, offset in _SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            if content_type == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return content_type, extension
    raise ReceiptPhotoInvalidError("the photo must be a JPEG, PNG or WebP image")


def save_photo(content: bytes, extension: str) -> str:
    """Write a photo; returns its path relative to the tenant's private folder."""
    relative = f"receipts/{uuid.uuid4().hex}.{extension}"
    path = tenant_folder() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return relative


def photo_path(relative: str) -> Path:
    """The absolute path of a stored photo, inside this tenant's folder only."""
    folder = tenant_folder().resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise ReceiptPhotoInvalidError("photo path leaves the tenant folder")
    return path


def delete_photo(relative: str) -> None:
    """Remove a photo whose receipt was not saved."""
    photo_path(relative).unlink(missing_ok=True)
