"""The migrated template schema that new tenants are cloned from.

`migrate_schemas` migrates the template first. Onboarding replays a schema-only dump of it
(taken once per process and per migration state) into the new schema inside the onboarding
transaction, which costs about the same at 1 or 1,000 tenants and at 10 or 500 migrations.
A stale template is refused rather than cloned: cloning it would record migrations whose tables
the new schema lacks.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists

from tenants.errors import BackupToolError, TemplateStaleError

_SQL_CACHE: dict[str, str] = {}
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def template_schema() -> str:
    return str(settings.TENANT_TEMPLATE_SCHEMA)


def tenant_app_labels() -> set[str]:
    from django.apps import apps

    labels = set()
    for app in settings.TENANT_APPS:
        config = next(c for c in apps.get_app_configs() if c.name == app)
        labels.add(config.label)
    return labels


def expected_migrations() -> set[tuple[str, str]]:
    """Every migration on disk for the tenant apps."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    labels = tenant_app_labels()
    return {key for key in loader.disk_migrations if key[0] in labels}


def applied_migrations(schema_name: str) -> set[tuple[str, str]]:
    """Migrations recorded in one schema (empty if it has no migrations table)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema_name}".django_migrations'])
        if not cursor.fetchone()[0]:
            return set()
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations')  # noqa: S608
        return {(app, name) for app, name in cursor.fetchall()}


def stale_schemas(schema_names: list[str]) -> list[str]:
    """The schemas missing any tenant migration, found with one query over all of them."""
    if not schema_names:
        return []
    expected = expected_migrations()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid "
            "WHERE c.relname = 'django_migrations' AND n.nspname = ANY(%s)",
            [schema_names],
        )
        with_table = [row[0] for row in cursor.fetchall()]
        counts: dict[str, int] = {}
        if with_table and expected:
            union = " UNION ALL ".join(
                f"SELECT '{name}' AS schema, app, name FROM \"{name}\".django_migrations"  # noqa: S608
                for name in with_table
            )
            cursor.execute(
                f"SELECT schema, count(*) FROM ({union}) m "  # noqa: S608
                "WHERE (app || '.' || name) = ANY(%s) GROUP BY schema",
                [[f"{app}.{name}" for app, name in expected]],
            )
            counts = dict(cursor.fetchall())
    return [name for name in schema_names if counts.get(name, 0) < len(expected)]


def ensure_template_fresh() -> None:
    """Raises TemplateStaleError unless the template has every tenant migration."""
    missing = expected_migrations() - applied_migrations(template_schema())
    if missing:
        raise TemplateStaleError(
            "the tenant template schema is not migrated; run `manage.py migrate_schemas`",
            missing=sorted(f"{app}.{name}" for app, name in missing)[:20],
        )


def create_template_schema() -> bool:
    """Create the template schema if missing; True when it was created."""
    if schema_exists(template_schema()):
        return False
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{template_schema()}"')
    return True


def pg_tool_env() -> tuple[list[str], dict[str, str]]:
    """Connection arguments and environment for pg_dump / pg_restore."""
    params: dict[str, Any] = connection.settings_dict
    args = ["--dbname", str(params["NAME"])]
    if params.get("HOST"):
        args += ["--host", str(params["HOST"])]
    if params.get("PORT"):
        args += ["--port", str(params["PORT"])]
    if params.get("USER"):
        args += ["--username", str(params["USER"])]
    env = {**os.environ, "PGPASSWORD": str(params.get("PASSWORD") or "")}
    return args, env


def pg_tool(name: str) -> str:
    return str(Path(settings.PG_BIN_DIR) / name)


def _dump_template() -> str:
    args, env = pg_tool_env()
    result = subprocess.run(  # noqa: S603 - fixed binary, arguments from settings, no shell
        [
            pg_tool("pg_dump"), *args, "--schema-only", "--schema", template_schema(),
            "--no-owner", "--no-privileges", "--no-comments", "--no-publications",
            "--no-subscriptions", "--no-security-labels", "--no-tablespaces",
        ],
        capture_output=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise BackupToolError(
            "pg_dump of the template failed", stderr=result.stderr.decode()[-500:]
        )
    return _to_clone_script(result.stdout.decode())


def _to_clone_script(dump: str) -> str:
    """Turn the dump into statements that build `{schema}` instead of the template."""
    template = template_schema()
    kept = []
    for line in dump.splitlines():
        stripped = line.strip()
        # Session settings and psql meta-commands would leak into the onboarding connection.
        if stripped.startswith(("SET ", "\\")) or "pg_catalog.set_config" in stripped:
            continue
        if stripped.startswith("--") or not stripped:
            continue
        kept.append(line)
    script = "\n".join(kept)
    script = script.replace(f"CREATE SCHEMA {template};", "")
    return re.sub(rf"\b{re.escape(template)}\.", "{schema}.", script)


def clone_script() -> str:
    """The cached clone script for the template's current migration state."""
    fingerprint = hashlib.sha256(
        repr(sorted(applied_migrations(template_schema()))).encode()
    ).hexdigest()
    if fingerprint not in _SQL_CACHE:
        _SQL_CACHE.clear()
        _SQL_CACHE[fingerprint] = _dump_template()
    return _SQL_CACHE[fingerprint]


def clone_into(schema_name: str) -> None:
    """Create `schema_name` as a copy of the template (run inside the onboarding transaction).

    Raises TemplateStaleError.
    """
    if not SCHEMA_NAME_RE.match(schema_name):
        raise ValueError(f"bad schema name {schema_name!r}")
    ensure_template_fresh()
    script = clone_script().replace("{schema}", f'"{schema_name}"')
    template = template_schema()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        cursor.execute(script)
        cursor.execute(
            f'INSERT INTO "{schema_name}".django_migrations (app, name, applied) '  # noqa: S608
            f'SELECT app, name, applied FROM "{template}".django_migrations'
        )
