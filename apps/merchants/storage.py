"""Merchant logos in tenant-private storage: PRIVATE_ROOT/<schema>/logos/<uuid>.<ext>.

Never served by the web server: a logo leaves only through a view that found the merchant in the
caller's own schema, and the path is rebuilt from the current schema.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from apps.merchants.errors import LogoInvalidError
from atrium.tenancy import current_schema

MAX_LOGO_BYTES = 2 * 1024 * 1024
_SIGNATURES: tuple[tuple[str, str, bytes, int], ...] = (
    ("image/jpeg", "jpg", b"\xff\xd8\xff", 0),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/webp", "webp", b"WEBP", 8),
)


def _folder() -> Path:
    schema = current_schema()
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("logos belong to a tenant schema")
    return Path(settings.PRIVATE_ROOT) / schema


def sniff(content: bytes) -> tuple[str, str]:
    """(content type, extension) of a JPEG, PNG or WebP image. Raises LogoInvalidError."""
    if not content:
        raise LogoInvalidError("the logo is empty")
    if len(content) > MAX_LOGO_BYTES:
        raise LogoInvalidError("the logo is too large", max_bytes=MAX_LOGO_BYTES)
    for content_type, extension, signature, offset in _SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            if content_type == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return content_type, extension
    raise LogoInvalidError("the logo must be a JPEG, PNG or WebP image")


def save_logo(content: bytes, extension: str) -> str:
    """Write a logo; returns its path relative to the tenant's private folder."""
    relative = f"logos/{uuid.uuid4().hex}.{extension}"
    path = _folder() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return relative


def logo_path(relative: str) -> Path:
    """The absolute path of a stored logo, inside this tenant's folder only."""
    folder = _folder().resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise LogoInvalidError("logo path leaves the tenant folder")
    return path
