"""Receipt points (小票积分): a member uploads a photo, staff approve (the sale is recorded once)
or reject it; duplicates are refused; photos stay in the tenant's private folder."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.members.services import issue_member_tokens
from apps.sales.models import Receipt, Sale
from apps.sales.services.sales import local_noon
from tests.apps.sales.conftest import HOST_A, balance_of, in_schema, sale_body, table_counts
from tests.conftest import Api

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
RECEIPTS = "/api/member/v1/receipts"
QUEUE = "/api/console/v1/receipts"


@pytest.fixture
def member_api(member, mall_a):
    with tenant_context(mall_a):
        token = issue_member_tokens(member=member.member).access_token
    connection.set_schema_to_public()
    return Api(HOST_A, token)


def upload(api, shop, photo=JPEG, name="r.jpg", **fields):
    form = {
        "merchant_id": str(shop.merchant.pk),
        "receipt_no": "NO-1",
        "amount": "88.80",
        "occurred_on": timezone.localdate().isoformat(),
        **fields,
    }
    form["photo"] = SimpleUploadedFile(name, photo, content_type="image/jpeg")
    response = Client(HTTP_HOST=HOST_A).post(
        RECEIPTS, form, HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    connection.set_schema_to_public()
    return response


def test_a_member_uploads_a_receipt_and_staff_approve_it_once(
    member_api, console_a, shop, member, mall_a
):
    uploaded = upload(member_api, shop)
    assert uploaded.status_code == 201, uploaded.content
    receipt = uploaded.json()
    assert (receipt["status"], receipt["amount"], receipt["merchant_name"], receipt["sale_id"]) == (
        "pending",
        "88.80",
        "Tea House",
        None,
    )
    stored = in_schema(mall_a, lambda: Receipt.objects.get(pk=receipt["id"]))
    photo = Path(settings.PRIVATE_ROOT) / mall_a.schema_name / stored.photo_path
    assert (photo.read_bytes(), stored.photo_path.startswith("receipts/")) == (JPEG, True)

    queue = console_a.get(f"{QUEUE}?status=pending").json()["results"]
    assert [(r["id"], r["member_id"]) for r in queue] == [(receipt["id"], str(member.member.pk))]
    served = Client(HTTP_HOST=HOST_A).get(
        f"{QUEUE}/{receipt['id']}/photo", HTTP_AUTHORIZATION=f"Bearer {console_a.token}"
    )
    connection.set_schema_to_public()
    assert (served.status_code, served["Content-Type"], b"".join(served.streaming_content)) == (
        200,
        "image/jpeg",
        JPEG,
    )

    approved = console_a.post(f"{QUEUE}/{receipt['id']}/approve", {})
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    with tenant_context(mall_a):
        sale = Sale.objects.get(pk=approved.json()["sale_id"])
        assert (sale.channel, sale.external_id, sale.member_id, sale.total, sale.points_earned) == (
            "receipt",
            "NO-1",
            member.member.pk,
            Decimal("88.80"),
            88,
        )
    connection.set_schema_to_public()
    assert balance_of(mall_a, member.member) == (88, 88)
    counts = table_counts(mall_a)
    again = console_a.post(f"{QUEUE}/{receipt['id']}/approve", {})
    assert (again.status_code, again.json()["code"]) == (409, "sales.receipt_decided")
    assert table_counts(mall_a) == counts
    mine = member_api.get(RECEIPTS).json()["results"]
    assert [(r["status"], r["sale_id"]) for r in mine] == [("approved", str(sale.pk))]


def test_the_reviewer_may_correct_the_amount(member_api, console_a, shop, member, mall_a):
    receipt = upload(member_api, shop).json()
    body = {"amount": "80.00", "payment_method": "card"}
    approved = console_a.post(f"{QUEUE}/{receipt['id']}/approve", body).json()
    assert approved["amount"] == "80.00"
    assert balance_of(mall_a, member.member) == (80, 80)


def test_a_rejected_receipt_says_why_and_may_be_sent_again(member_api, console_a, shop, mall_a):
    receipt = upload(member_api, shop).json()
    counts = table_counts(mall_a)
    no_reason = console_a.post(f"{QUEUE}/{receipt['id']}/reject", {"reason": ""})
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "request.invalid")
    rejected = console_a.post(f"{QUEUE}/{receipt['id']}/reject", {"reason": "照片模糊"})
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["reason"]) == (
        200,
        "rejected",
        "照片模糊",
    )
    assert table_counts(mall_a)["Sale"] == counts["Sale"]
    approve = console_a.post(f"{QUEUE}/{receipt['id']}/approve", {})
    assert (approve.status_code, approve.json()["code"]) == (409, "sales.receipt_decided")
    assert upload(member_api, shop, photo=PNG, name="r.png").status_code == 201


def test_duplicate_receipt_numbers_are_refused(member_api, shop, other_shop, pos, mall_a):
    assert upload(member_api, shop).status_code == 201
    duplicate = upload(member_api, shop)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "sales.receipt_duplicate")
    pos.sale(sale_body("POS-9", total="10.00"))
    counts = table_counts(mall_a)
    recorded = upload(member_api, shop, receipt_no="POS-9")
    assert (recorded.status_code, recorded.json()["code"]) == (409, "sales.receipt_duplicate")
    assert table_counts(mall_a) == counts
    assert upload(member_api, other_shop).status_code == 201  # another merchant's number space


def _days_ago(days):
    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("fields", "photo", "status", "code"),
    [
        ({"amount": "88.888"}, JPEG, 400, "sales.invalid_amount"),
        ({"amount": "-1"}, JPEG, 400, "sales.invalid_amount"),
        ({"amount": "0"}, JPEG, 400, "sales.invalid_amount"),
        ({"occurred_on": _days_ago(-1)}, JPEG, 400, "sales.receipt_invalid"),
        ({"occurred_on": _days_ago(31)}, JPEG, 400, "sales.receipt_invalid"),
        ({"occurred_on": "yesterday"}, JPEG, 422, "request.invalid"),
        ({"receipt_no": "no spaces"}, JPEG, 400, "sales.receipt_invalid"),
        ({"merchant_id": "00000000-0000-0000-0000-000000000000"}, JPEG, 404, "merchant.not_found"),
        ({}, b"GIF89a not accepted", 400, "sales.receipt_photo_invalid"),
        ({}, b"", 400, "sales.receipt_photo_invalid"),
    ],
)
def test_bad_receipts_are_refused_and_change_nothing(
    member_api, shop, mall_a, fields, photo, status, code
):
    folder = Path(settings.PRIVATE_ROOT) / mall_a.schema_name / "receipts"
    files = set(folder.glob("*")) if folder.exists() else set()
    counts = table_counts(mall_a)
    response = upload(member_api, shop, photo=photo, **fields)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert table_counts(mall_a) == counts
    assert (set(folder.glob("*")) if folder.exists() else set()) == files


def test_a_member_sees_only_their_own_receipts(member_api, make_member, shop, mall_a):
    mine = upload(member_api, shop).json()
    other = make_member()
    with tenant_context(mall_a):
        other_token = issue_member_tokens(member=other.member).access_token
    connection.set_schema_to_public()
    other_api = Api(HOST_A, other_token)
    assert other_api.get(RECEIPTS).json()["results"] == []
    response = other_api.get(f"{RECEIPTS}/{mine['id']}")
    assert (response.status_code, response.json()["code"]) == (404, "sales.receipt_not_found")
    assert member_api.get(f"{RECEIPTS}/{mine['id']}").json()["id"] == mine["id"]


def test_reviewing_needs_the_members_permission_and_an_existing_receipt(console_a, mall_a):
    from apps.accounts.choices import StaffRole
    from apps.accounts.services import invite_staff
    from tests.conftest import PASSWORD, login

    missing = "00000000-0000-0000-0000-000000000000"
    for action, body in (("approve", {}), ("reject", {"reason": "x"})):
        response = console_a.post(f"{QUEUE}/{missing}/{action}", body)
        assert (response.status_code, response.json()["code"]) == (404, "sales.receipt_not_found")
    with tenant_context(mall_a):
        invite_staff(username="mkt", role=StaffRole.MARKETING, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(HOST_A)
    marketing = api.as_token(login(api, "console", "mkt")["access_token"])
    response = marketing.get(QUEUE)
    assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden")


def test_a_receipt_of_today_approved_before_noon_is_not_dated_in_the_future():
    zone = timezone.get_default_timezone()
    just_after_midnight = dt.datetime(2026, 11, 24, 0, 10, tzinfo=zone)
    assert local_noon(dt.date(2026, 11, 24), now=just_after_midnight) == just_after_midnight
    assert local_noon(dt.date(2026, 11, 23), now=just_after_midnight) == dt.datetime(
        2026, 11, 23, 12, tzinfo=zone
    )
