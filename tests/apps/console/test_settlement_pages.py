"""Console pages of the merchants directory, contracts and the split-rule editor with preview."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.models import Contract, Merchant
from apps.merchants.services import create_merchant
from apps.settlement.models import SplitRule
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text


@pytest.fixture
def owner(mall_a):
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "owner")
    return browser


def test_a_merchant_is_added_searched_edited_and_given_a_contract(owner, mall_a):
    added = owner.post(
        "/console/merchants/",
        {
            "name": "海底捞",
            "unit": "L5-01",
            "business_format": "fnb",
            "brand": "Haidilao",
            "floor": "L5",
            "contact_name": "王经理",
            "contact_phone": "13812341234",
        },
    )
    assert added.status_code == 302, text(added)
    with tenant_context(mall_a):
        shop = Merchant.objects.get()
        create_merchant(name="喜茶")
    connection.set_schema_to_public()
    found = text(owner.get("/console/merchants/?q=haidilao"))
    assert ("海底捞" in found, "喜茶" in found) == (True, False)
    page = f"/console/merchants/{shop.pk}/"
    assert "13812341234" in text(owner.get(page))
    edited = owner.post(
        f"/console/merchants/{shop.pk}/edit/",
        {
            "edit-name": "海底捞火锅",
            "edit-unit": "L5-01",
            "edit-business_format": "fnb",
            "edit-status": "suspended",
            "edit-contact_phone": "13812341234",
        },
        follow=True,
    )
    assert "商户资料已保存。" in text(edited)
    start = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    contract = owner.post(
        f"/console/merchants/{shop.pk}/contracts/",
        {
            "kind": "concession",
            "commission_rate": "0.18",
            "rent_amount": "0",
            "minimum_amount": "0",
            "cycle": "monthly",
            "payout_method": "bank",
            "payout_account": "6222021234567890",
            "effective_from": start,
        },
        follow=True,
    )
    body = text(contract)
    assert ("合同已生效登记。" in body, "************7890" in body, "6222021234567890" in body) == (
        True,
        True,
        False,
    )
    with tenant_context(mall_a):
        shop.refresh_from_db()
        assert (shop.name, shop.status, shop.is_active) == ("海底捞火锅", "suspended", False)
        assert str(Contract.objects.get().commission_rate) == "0.1800"
    connection.set_schema_to_public()


def test_a_backdated_contract_is_refused_with_a_message(owner, mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
    connection.set_schema_to_public()
    response = owner.post(
        f"/console/merchants/{shop.pk}/contracts/",
        {
            "kind": "concession",
            "commission_rate": "0.18",
            "rent_amount": "0",
            "minimum_amount": "0",
            "cycle": "monthly",
            "payout_method": "bank",
            "effective_from": "2020-01-01",
        },
        follow=True,
    )
    assert response.status_code == 200
    with tenant_context(mall_a):
        assert Contract.objects.count() == 0
    connection.set_schema_to_public()


def test_a_split_rule_is_drafted_published_and_previewed(owner, mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
    connection.set_schema_to_public()
    created = owner.post(
        "/console/split-rules/",
        {
            "action": "create",
            "name": "支付宝手续费",
            "kind": "channel_fee",
            "rate": "0.006",
            "priority": "0",
            "payment_method": "alipay",
            "effective_from": timezone.localdate().isoformat(),
        },
    )
    assert created.status_code == 302, text(created)
    with tenant_context(mall_a):
        rule = SplitRule.objects.get()
    connection.set_schema_to_public()
    owner.post("/console/split-rules/", {"action": "publish", "rule_id": str(rule.pk)})
    preview = owner.post(
        "/console/split-rules/",
        {
            "action": "preview",
            "merchant": str(shop.pk),
            "total": "100.00",
            "payment_method": "alipay",
        },
    )
    body = text(preview)
    assert preview.status_code == 200
    assert ("¥0.60" in body, "rule 支付宝手续费 v1: 0.6%" in body, "¥99.40" in body) == (
        True,
        True,
        True,
    )
    with tenant_context(mall_a):
        assert SplitRule.objects.get().status == "published"
    connection.set_schema_to_public()


def test_marketing_cannot_see_split_rules(mall_a):
    with tenant_context(mall_a):
        invite_staff(username="mkt", role=StaffRole.MARKETING, password=PASSWORD)
    connection.set_schema_to_public()
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "mkt")
    assert browser.get("/console/split-rules/").status_code == 403
