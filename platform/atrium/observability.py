"""Error reporting: Sentry with the Django and Celery integrations, no personal data.

The tenant is set as a Sentry tag where the tenant becomes known: per request in
`tenants.middleware`, per task in `atrium.celery`, per socket in `atrium.realtime`.
"""

from __future__ import annotations

import warnings
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from atrium.logging import mask_deep


def init_sentry(*, dsn: str, environment: str, release: str | None = None) -> None:
    """Start reporting errors to `dsn` (called by the settings when SENTRY_DSN is set)."""
    with warnings.catch_warnings():
        # sentry-sdk 2.75 deprecates send_default_pii for `data_collection`, whose defaults
        # collect cookies and headers; send_default_pii=False is the stricter of the two.
        warnings.simplefilter("ignore", DeprecationWarning)
        _init(dsn=dsn, environment=environment, release=release)


def _init(*, dsn: str, environment: str, release: str | None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
        ],
        # Frame locals would carry phone numbers and tokens past every scrubber.
        include_local_variables=False,
        before_send=scrub_event,
        traces_sample_rate=0.0,
    )


def scrub_event(event: Any, hint: Any) -> Any:
    """Mask phone numbers and tokens anywhere in an event (messages, exceptions, breadcrumbs,
    which Sentry records before our log filter runs)."""
    return mask_deep(event)
