"""Idempotency-Key: a retry returns the first result; the same key with another body is 409."""

import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.merchants.models import Merchant
from atrium.models import IdempotencyRecord
from tests.conftest import Api, host_of


def _merchants(mall):
    with tenant_context(mall):
        names = list(Merchant.objects.order_by("name").values_list("name", flat=True))
    connection.set_schema_to_public()
    return names


def test_a_retry_with_the_same_key_returns_the_first_result(console_a, mall_a):
    first = console_a.post(
        "/api/console/v1/merchants", {"name": "Once"}, headers={"Idempotency-Key": "k-1"}
    )
    again = console_a.post(
        "/api/console/v1/merchants", {"name": "Once"}, headers={"Idempotency-Key": "k-1"}
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert _merchants(mall_a) == ["Once"]


def test_the_same_key_with_another_body_is_refused(console_a, mall_a):
    console_a.post("/api/console/v1/merchants", {"name": "One"}, headers={"Idempotency-Key": "k-2"})
    other = console_a.post(
        "/api/console/v1/merchants", {"name": "Two"}, headers={"Idempotency-Key": "k-2"}
    )
    assert (other.status_code, other.json()["code"]) == (409, "idempotency.conflict")
    assert _merchants(mall_a) == ["One"]


def test_key_order_in_the_body_does_not_matter(console_a, mall_a):
    a = console_a.post(
        "/api/console/v1/merchants",
        {"name": "Same", "unit": "L1"},
        headers={"Idempotency-Key": "k-3"},
    )
    b = console_a.post(
        "/api/console/v1/merchants",
        {"unit": "L1", "name": "Same"},
        headers={"Idempotency-Key": "k-3"},
    )
    assert a.json()["id"] == b.json()["id"]


def test_keys_are_scoped_to_the_caller(console_a, mall_a):
    from apps.accounts.choices import StaffRole
    from apps.accounts.services import invite_staff
    from tests.conftest import PASSWORD, login

    with tenant_context(mall_a):
        invite_staff(username="admin2", role=StaffRole.ADMIN, password=PASSWORD)
    connection.set_schema_to_public()
    other = Api(host_of("mall-a"))
    other = other.as_token(login(other, "console", "admin2")["access_token"])
    console_a.post(
        "/api/console/v1/merchants", {"name": "Mine"}, headers={"Idempotency-Key": "shared"}
    )
    theirs = other.post(
        "/api/console/v1/merchants", {"name": "Theirs"}, headers={"Idempotency-Key": "shared"}
    )
    assert theirs.status_code == 201
    assert _merchants(mall_a) == ["Mine", "Theirs"]


def test_a_failed_request_leaves_no_record_and_can_be_retried(console_a, mall_a):
    bad = console_a.post(
        "/api/console/v1/staff",
        {"username": "owner", "role": "finance"},
        headers={"Idempotency-Key": "k-4"},
    )
    assert bad.json()["code"] == "staff.username_taken"
    with tenant_context(mall_a):
        assert IdempotencyRecord.objects.filter(key="k-4").count() == 0
    connection.set_schema_to_public()
    good = console_a.post(
        "/api/console/v1/staff",
        {"username": "owner", "role": "finance"},
        headers={"Idempotency-Key": "k-4"},
    )
    assert good.json()["code"] == "staff.username_taken"


@pytest.mark.parametrize("key", ["x" * 201, "bad\tkey"])
def test_malformed_keys_are_400(console_a, mall_a, key):
    response = console_a.post(
        "/api/console/v1/merchants", {"name": "X"}, headers={"Idempotency-Key": key}
    )
    assert (response.status_code, response.json()["code"]) == (400, "idempotency.key_invalid")
    assert _merchants(mall_a) == []


def test_concurrent_retries_create_once(committed_tenant, django_db_blocker):
    from tests.conftest import login

    host = host_of(committed_tenant.slug)
    with django_db_blocker.unblock():
        token = login(Api(host), "console", "owner")["access_token"]
        results: list[int] = []
        ids: list[str] = []
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            response = Api(host, token).post(
                "/api/console/v1/merchants", {"name": "Race"}, headers={"Idempotency-Key": "race"}
            )
            results.append(response.status_code)
            ids.append(response.json()["id"])
            connection.close()

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [201] * 8
        assert len(set(ids)) == 1
        with tenant_context(committed_tenant):
            assert Merchant.objects.filter(name="Race").count() == 1
