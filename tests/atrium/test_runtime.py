"""A serving process settles its garbage collector once the app is loaded."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import django
django.setup()
before = {m: m in sys.modules for m in ("atrium.urls_public", "atrium.urls_tenant")}
frozen_before = gc.get_freeze_count()
from atrium.runtime import settle_for_serving
settle_for_serving()
print(json.dumps({
    "before": before,
    "after": {m: m in sys.modules for m in ("atrium.urls_public", "atrium.urls_tenant")},
    "frozen_before": frozen_before,
    "frozen": gc.get_freeze_count(),
    "thresholds": gc.get_threshold(),
}))
"""


def test_a_serving_process_loads_its_url_confs_then_freezes_them():
    """In a fresh process (as a gunicorn worker starts): the URL confs, which the first request
    would load, are loaded first; then everything loaded is frozen and collections are rarer."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "atrium.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=120,
    ).stdout  # fmt: skip
    seen = json.loads(out.splitlines()[-1])
    assert seen["before"] == {"atrium.urls_public": False, "atrium.urls_tenant": False}
    assert seen["after"] == {"atrium.urls_public": True, "atrium.urls_tenant": True}
    assert seen["frozen_before"] == 0
    assert seen["frozen"] > 100_000  # Django, the apps, their URL confs and API schemas
    assert seen["thresholds"] == [10_000, 20, 100]
