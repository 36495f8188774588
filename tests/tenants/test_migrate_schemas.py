"""`migrate_schemas` migrates public, the template, then only the stale tenant schemas."""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from tenants import template
from tenants.models import Tenant


def _make_stale(schema):
    # The outbox table has no dependents, so its migration can be undone and redone alone.
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{schema}".atrium_outboxevent')
        cursor.execute(
            f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s',
            ["atrium", "0002_outboxevent"],
        )


def _has_table(schema, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".{table}'])
        return cursor.fetchone()[0]


def test_only_stale_schemas_are_migrated_in_parallel(committed_tenant, django_db_blocker, capsys):
    from tenants.services import onboard_tenant

    with django_db_blocker.unblock():
        second = onboard_tenant(
            name="Second", slug=f"{committed_tenant.slug}-2", operator_username="o"
        ).tenant
        try:
            for tenant in (committed_tenant, second):
                _make_stale(tenant.schema_name)
            schemas = [committed_tenant.schema_name, second.schema_name, "t_mall_a"]
            assert template.stale_schemas(schemas) == schemas[:2]

            call_command("migrate_schemas", "--noinput", "--executor", "multiprocessing")

            out = capsys.readouterr().out
            total = Tenant.objects.count()
            assert f"2 of {total} tenant schemas need migrating" in out.splitlines()
            assert template.stale_schemas(schemas) == []
            assert _has_table(committed_tenant.schema_name, "atrium_outboxevent")
            assert _has_table(second.schema_name, "atrium_outboxevent")
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{second.schema_name}" CASCADE')
            second.domains.all().delete()
            second.delete()


def test_nothing_to_do_when_every_schema_is_current(db, two_malls, capsys):
    call_command("migrate_schemas", "--noinput")
    out = capsys.readouterr().out
    assert f"0 of {Tenant.objects.count()} tenant schemas need migrating" in out.splitlines()


def test_createsuperuser_noinput_makes_a_provider_admin(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "provider-pass-2026")
    call_command(
        "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@atrium.invalid"
    )
    user = get_user_model().objects.get(username="ops")
    assert (user.is_staff, user.is_superuser, user.check_password("provider-pass-2026")) == (
        True,
        True,
        True,
    )
    assert os.environ["DJANGO_SUPERUSER_PASSWORD"] == "provider-pass-2026"
