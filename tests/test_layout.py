"""The project's shape: stdlib `platform` not shadowed; every model in exactly one schema."""

import importlib
import sys
import sysconfig
from pathlib import Path

from django.apps import apps
from django.conf import settings

REPO = Path(__file__).resolve().parents[1]


def test_stdlib_platform_module_is_not_shadowed():
    module = importlib.import_module("platform")
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(module.__file__).resolve().parent == stdlib
    assert module.python_version() == ".".join(map(str, sys.version_info[:3]))
    assert not (REPO / "platform" / "__init__.py").exists()


def test_uuid_still_imports_next_to_the_platform_folder():
    import uuid

    assert len(uuid.uuid4().hex) == 32


def test_every_model_belongs_to_exactly_one_schema_list():
    shared = set(settings.SHARED_APPS)
    tenant = set(settings.TENANT_APPS)
    assert shared & tenant == set()
    misplaced = []
    for model in apps.get_models(include_auto_created=True):
        app_name = apps.get_app_config(model._meta.app_label).name
        homes = (app_name in shared) + (app_name in tenant)
        if homes != 1:
            misplaced.append((model._meta.label, homes))
    assert misplaced == []


def test_tenant_owned_apps_are_tenant_apps():
    tenant_labels = {
        apps.get_app_config(label).name
        for label in ("accounts", "merchants", "members", "loyalty", "atrium")
    }
    assert tenant_labels <= set(settings.TENANT_APPS)
    assert {"tenants", "provider", "billing", "django.contrib.auth"} <= set(settings.SHARED_APPS)


def test_no_test_flushes_the_shared_malls():
    """A transactional test (`django_db` with `transaction` on) truncates every table after it runs,
    the public tenants included, and every later test that needs the two shared malls fails, in
    whatever order the run happens to take. Tests that need committed data use the
    `committed_tenant` fixture instead (a tenant of their own, dropped afterwards)."""
    tests = Path(__file__).parent
    marker = "transaction" + "=True"  # not spelled out, or this file would match itself
    offenders = sorted(
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if marker in path.read_text(encoding="utf-8")
    )
    assert offenders == []
