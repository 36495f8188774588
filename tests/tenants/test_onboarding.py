"""Onboarding in one step: provider API, management command, template checks."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from apps.accounts.models import StaffUser
from apps.loyalty.models import EarningRule, Tier
from tenants import template
from tenants.errors import TemplateStaleError
from tenants.models import Domain, Tenant
from tests.conftest import BASE, PASSWORD, Api


def _create(provider_api, slug="new-mall", **extra):
    body = {
        "name": "新商场 New Mall",
        "slug": slug,
        "kind": "commercial_street",
        "operator": {"username": "Alice", "email": "alice@example.invalid"},
        **extra,
    }
    return provider_api.post("/api/provider/v1/tenants", body)


def test_provider_api_onboards_a_tenant_end_to_end(provider_api):
    response = _create(provider_api)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["kind"], body["status"], body["schema_name"]) == (
        "new-mall",
        "commercial_street",
        "active",
        "t_new_mall",
    )
    assert body["domains"] == [{"domain": f"new-mall.{BASE}", "is_primary": True}]
    assert (body["timezone"], body["currency"], body["locale"]) == (
        "Asia/Shanghai",
        "CNY",
        "zh-hans",
    )
    assert body["operator_username"] == "alice"
    prefix = f"http://new-mall.{BASE}/console/invitation/"
    assert body["invitation_url"].startswith(prefix)
    token = body["invitation_url"].removeprefix(prefix)

    tenant = Tenant.objects.get(slug="new-mall")
    assert schema_exists("t_new_mall")
    with tenant_context(tenant):
        assert list(Tier.objects.values_list("name", "growth_threshold")) == [
            ("普卡", 0),
            ("银卡", 2000),
            ("金卡", 10000),
            ("钻石卡", 50000),
        ]
        rule = EarningRule.objects.get(is_base=True)
        assert rule.points_per_yuan == Decimal("1.0000")
        owner = StaffUser.objects.get()
        assert (owner.username, owner.role, owner.has_password) == ("alice", "owner", False)
    connection.set_schema_to_public()

    console = Api(f"new-mall.{BASE}")
    accepted = console.post(
        "/api/console/v1/auth/accept-invitation", {"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.content
    me = console.as_token(accepted.json()["access_token"]).get("/api/console/v1/me")
    assert (me.json()["username"], me.json()["role"], me.json()["tenant"]) == (
        "alice",
        "owner",
        "new-mall",
    )
    again = console.post(
        "/api/console/v1/auth/accept-invitation", {"token": token, "password": PASSWORD}
    )
    assert (again.status_code, again.json()["code"]) == (400, "auth.invitation_invalid")


def test_the_new_schema_has_every_tenant_table_and_migration(provider_api):
    _create(provider_api, slug="fresh-mall")
    assert template.stale_schemas(["t_fresh_mall"]) == []
    assert template.applied_migrations("t_fresh_mall") >= template.expected_migrations()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 't_fresh_mall'"
        )
        fresh = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            [template.template_schema()],
        )
        assert fresh == cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("slug", "code", "status"),
    [
        ("Bad_Slug", "tenant.slug_invalid", 400),
        ("ab", "request.invalid", 422),
        ("has_underscore", "tenant.slug_invalid", 400),
        ("-leading", "tenant.slug_invalid", 400),
        ("double--hyphen", "tenant.slug_invalid", 400),
        ("www", "tenant.slug_invalid", 400),
        ("mall-a", "tenant.slug_taken", 409),
    ],
)
def test_bad_or_taken_slugs_are_refused_and_nothing_is_written(
    provider_api, two_malls, slug, code, status
):
    before = (Tenant.objects.count(), Domain.objects.count())
    response = _create(provider_api, slug=slug)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (Tenant.objects.count(), Domain.objects.count()) == before


def test_onboarding_rolls_back_everything_when_the_operator_is_invalid(provider_api):
    response = provider_api.post(
        "/api/provider/v1/tenants",
        {"name": "X", "slug": "half-mall", "operator": {"username": "bad name!"}},
    )
    assert response.status_code == 422
    assert not Tenant.objects.filter(slug="half-mall").exists()
    assert not schema_exists("t_half_mall")


def test_create_tenant_command_onboards_with_a_password(db, capsys):
    call_command(
        "create_tenant",
        name="Street",
        slug="cli-street",
        kind="commercial_street",
        operator_username="boss",
        operator_password=PASSWORD,
    )
    out = capsys.readouterr().out
    assert "tenant cli-street (t_cli_street) ready" in out
    assert "invitation:" not in out
    tenant = Tenant.objects.get(slug="cli-street")
    api = Api(f"cli-street.{BASE}")
    login = api.post("/api/console/v1/auth/login", {"username": "boss", "password": PASSWORD})
    assert login.status_code == 200
    assert tenant.kind == "commercial_street"


def test_create_tenant_command_prints_an_invitation_without_a_password(db, capsys):
    call_command("create_tenant", name="Plaza", slug="cli-plaza", operator_username="ops")
    out = capsys.readouterr().out
    assert f"invitation: http://cli-plaza.{BASE}/console/invitation/" in out


def test_create_tenant_command_reports_domain_errors(db, two_malls):
    with pytest.raises(CommandError, match=r"tenant\.slug_taken"):
        call_command("create_tenant", name="Dup", slug="mall-a", operator_username="ops")


def test_a_stale_template_is_refused_instead_of_cloned(db):
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{template.template_schema()}".django_migrations '
            "WHERE app = 'members' AND name = '0001_initial'"
        )
    with pytest.raises(TemplateStaleError) as caught:
        template.clone_into("t_should_not_exist")
    assert caught.value.extra["missing"] == ["members.0001_initial"]
    assert not schema_exists("t_should_not_exist")


def test_stale_schemas_are_found_with_constant_queries(db, two_malls, django_assert_num_queries):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM t_mall_b.django_migrations WHERE app = 'loyalty' AND name = '0001_initial'"
        )
    # Loading the migrations from disk costs no query; finding the stale ones costs one catalog
    # query and one UNION over all schemas, whatever their number.
    template.expected_migrations()
    with django_assert_num_queries(2):
        assert template.stale_schemas(["t_mall_a", "t_mall_b"]) == ["t_mall_b"]
