"""Export a tenant's schema with pg_dump, download it, and restore it."""

import subprocess

from django.db import connection
from django_tenants.utils import tenant_context

from apps.merchants.models import Merchant
from apps.merchants.services import create_merchant
from tenants import template
from tenants.models import TenantExport
from tests.conftest import BASE, PASSWORD, Api


def _provider_api(django_db_blocker):
    from django.contrib.auth import get_user_model

    with django_db_blocker.unblock():
        user_model = get_user_model()
        if not user_model.objects.filter(username="export-admin").exists():
            user_model.objects.create_superuser("export-admin", "", PASSWORD)
    api = Api(BASE)
    with django_db_blocker.unblock():
        token = api.post(
            "/api/provider/v1/auth/login", {"username": "export-admin", "password": PASSWORD}
        ).json()["access_token"]
    return api.as_token(token)


def test_export_download_then_restore_brings_the_data_back(committed_tenant, django_db_blocker):
    tenant = committed_tenant
    api = _provider_api(django_db_blocker)
    with django_db_blocker.unblock():
        with tenant_context(tenant):
            create_merchant(name="Before Export")
        connection.set_schema_to_public()

        exported = api.post(f"/api/provider/v1/tenants/{tenant.pk}/export")
        assert exported.status_code == 201, exported.content
        body = exported.json()
        assert body["status"] == "ready"
        assert body["size_bytes"] > 0
        assert body["file_name"].startswith(f"{tenant.slug}-")
        assert body["file_name"].endswith(".dump")

        download = api.get(body["download_url"])
        assert download.status_code == 200
        archive = b"".join(download.streaming_content)
        assert archive[:5] == b"PGDMP"
        assert len(archive) == body["size_bytes"]
        listing = subprocess.run(
            [template.pg_tool("pg_restore"), "--list"],
            input=archive,
            capture_output=True,
            check=True,
        ).stdout.decode()
        assert f"TABLE {tenant.schema_name} merchants_merchant" in listing

        with tenant_context(tenant):
            Merchant.objects.all().delete()
            create_merchant(name="After Export")
        connection.set_schema_to_public()

        restored = api.post(
            f"/api/provider/v1/tenants/{tenant.pk}/restore", {"export_id": body["id"]}
        )
        assert restored.status_code == 200, restored.content
        with tenant_context(tenant):
            assert list(Merchant.objects.values_list("name", flat=True)) == ["Before Export"]
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
                [f"{tenant.schema_name[:40]}_old_%"],
            )
            assert cursor.fetchone()[0] == 0
        console = Api(f"{tenant.slug}.{BASE}")
        login = console.post(
            "/api/console/v1/auth/login", {"username": "owner", "password": PASSWORD}
        )
        assert login.status_code == 200


def test_restore_of_another_tenants_export_is_refused(
    committed_tenant, two_malls, django_db_blocker
):
    api = _provider_api(django_db_blocker)
    with django_db_blocker.unblock():
        export = api.post(f"/api/provider/v1/tenants/{committed_tenant.pk}/export").json()
        other = two_malls["mall-a"]
        response = api.post(
            f"/api/provider/v1/tenants/{other.pk}/restore", {"export_id": export["id"]}
        )
        assert (response.status_code, response.json()["code"]) == (404, "tenant.export_not_found")
        download = api.get(f"/api/provider/v1/tenants/{other.pk}/exports/{export['id']}/download")
        assert download.status_code == 404
        assert TenantExport.objects.filter(tenant=other).count() == 0


def test_exports_need_a_provider_admin(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        response = Api(BASE).post(f"/api/provider/v1/tenants/{committed_tenant.pk}/export")
        assert (response.status_code, response.json()["code"]) == (401, "auth.unauthenticated")
        assert committed_tenant.exports.count() == 0
