"""`manage.py seed_demo`: the provider admin and the demo mall 「演示广场 / Demo Plaza」 (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from apps.members.models import Member
from apps.members.services import create_member
from apps.merchants.models import Contract, Merchant
from apps.merchants.services import create_contract, create_merchant
from apps.settlement.services.rules import create_rule, publish_rule
from tenants.models import Tenant
from tenants.services import onboard_tenant

DEMO_SLUG = "demo-plaza"
DEMO_MERCHANTS = (
    ("星巴克 Starbucks", "fnb", "L1-05"),
    ("优衣库 UNIQLO", "retail", "L2-12"),
    ("海底捞 Haidilao", "fnb", "L5-01"),
    ("万达影城 Wanda Cinema", "entertainment", "L6-01"),
    ("盒马鲜生 Freshippo", "supermarket", "B1-01"),
)
DEMO_MEMBERS = ("王小明", "李华", "张伟", "刘洋", "陈静")
# Contract terms per demo merchant (kind, commission rate, monthly rent, guaranteed minimum).
DEMO_CONTRACTS = (
    ("concession", "0.1000", "0", "0"),
    ("concession", "0.1800", "0", "0"),
    ("guaranteed_minimum", "0.0800", "0", "30000.00"),
    ("rent_plus_commission", "0.0500", "50000.00", "0"),
    ("fixed_rent", "0", "80000.00", "0"),
)
DEMO_FEES = (("alipay", "0.0060"), ("wechat", "0.0060"), ("card", "0.0038"))


class Command(BaseCommand):
    help = "Create the demo provider admin and the demo mall with merchants and members."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("ATRIUM_DEMO_PASSWORD", "atrium-demo-2026")
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@atrium.invalid", password)
            self.stdout.write("provider admin `admin` created")
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            tenant = onboard_tenant(
                name="演示广场 Demo Plaza",
                slug=DEMO_SLUG,
                display_name="演示广场",
                operator_username="owner",
                operator_email="owner@demo-plaza.invalid",
                operator_password=password,
            ).tenant
            self.stdout.write(f"demo tenant `{DEMO_SLUG}` onboarded")
        with tenant_context(tenant):
            if not Merchant.objects.exists():
                merchants = [
                    create_merchant(name=name, business_format=fmt, unit=unit)
                    for name, fmt, unit in DEMO_MERCHANTS
                ]
                invite_staff(
                    username="cashier",
                    display_name="收银员小周",
                    role=StaffRole.MERCHANT_CASHIER,
                    merchant=merchants[0],
                    password=password,
                )
                if not StaffUser.objects.filter(username="marketing").exists():
                    invite_staff(
                        username="marketing",
                        display_name="市场部小林",
                        role=StaffRole.MARKETING,
                        password=password,
                    )
            if not Contract.objects.exists():
                today = timezone.localdate()
                by_name = {m.name: m for m in Merchant.objects.all()}
                for (name, _, _), (kind, rate, rent, minimum) in zip(
                    DEMO_MERCHANTS, DEMO_CONTRACTS, strict=True
                ):
                    if name in by_name:
                        create_contract(
                            merchant=by_name[name],
                            kind=kind,
                            commission_rate=rate,
                            rent_amount=rent,
                            minimum_amount=minimum,
                            effective_from=today,
                        )
                for method, rate in DEMO_FEES:
                    values = {"name": f"{method} fee", "kind": "channel_fee", "rate": rate}
                    draft = create_rule(values={**values, "payment_method": method})
                    publish_rule(rule=draft)
            if not Member.objects.exists():
                for name in DEMO_MEMBERS:
                    create_member(display_name=name)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
