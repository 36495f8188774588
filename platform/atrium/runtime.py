"""How a serving process settles once its app is loaded: the garbage collector's share of a
busy worker (docs/adr/0016-sale-writer-round-trips.md, docs/adr/0020-sales-bench-contention-and-encoding.md)."""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver

# Young collections every 10,000 new containers (Python's default is 700), and a full one only
# after 100 middle ones (default 10). Garbage without cycles is freed at once whatever these
# say; cyclic garbage just waits a little longer, a few megabytes at most.
GC_THRESHOLDS = (10_000, 20, 100)


def settle_for_serving() -> None:
    """Load what the first request would (the URL confs, and through them every API module,
    schema and router), then move everything loaded so far out of the collector's reach and
    make collections rarer. Long-lived objects are then never scanned again, and the full
    collections that a busy worker's allocations trigger scan only what requests leave
    behind."""
    for urlconf in {settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF}:
        get_resolver(urlconf).url_patterns  # noqa: B018 - imports the URL conf
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
