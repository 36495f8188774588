"""Benchmark settings (`bench/onboarding.py`): the test settings on the benchmark's own database.

`bench/onboarding.py` creates its database (`atrium_bench` by default) and exports its
DATABASE_URL before these settings load; they refuse to start without it, so a benchmark can
never onboard hundreds of tenants into the demo's or the tests' database. A model-less tenant app
(`bench/bench_noop`) lets the benchmark add one no-op migration at a time
(`ATRIUM_BENCH_MIGRATION_STEP`).
"""

import os
import sys

if not os.environ.get("ATRIUM_BENCH_DATABASE"):
    raise RuntimeError(
        "atrium.settings.bench is for bench/onboarding.py, which creates its own database"
    )

from atrium.settings.test import *  # noqa: F403

if env.db_url("DATABASE_URL")["NAME"] != os.environ["ATRIUM_BENCH_DATABASE"]:  # noqa: F405
    raise RuntimeError("DATABASE_URL does not point at the benchmark database")

sys.path.insert(0, str(BASE_DIR / "bench"))  # noqa: F405
TENANT_APPS = [*TENANT_APPS, "bench_noop"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "bench_noop"]  # noqa: F405
MIGRATION_MODULES = {
    "bench_noop": f"bench_noop.migrations.step{int(os.environ.get('ATRIUM_BENCH_MIGRATION_STEP', '1'))}"
}

# Route-cache keys of the benchmark's tenants never meet the demo's or the tests'.
CACHES["default"]["KEY_PREFIX"] = "atrium-bench"  # noqa: F405
