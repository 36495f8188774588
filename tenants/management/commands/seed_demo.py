"""`manage.py seed_demo`: the provider admin and the demo mall 「演示广场 / Demo Plaza」 (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from apps.members.models import Member
from apps.members.services import create_member
from apps.merchants.models import Merchant
from apps.merchants.services import create_merchant
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
            if not Member.objects.exists():
                for name in DEMO_MEMBERS:
                    create_member(display_name=name)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
