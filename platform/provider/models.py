"""Provider-side records in the public schema."""

from __future__ import annotations

from atrium.models import AbstractAuthSession


class ProviderSession(AbstractAuthSession):
    """Logins of provider admins (Django users of the public schema)."""
