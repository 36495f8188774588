"""Fixtures for the clearing tests: two shops in mall A and a member holding three lots
(500 points issued by shop X 10 days ago, 300 granted by the mall 5 days ago), under a policy
that splits merchant-issued points half and half with the mall."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.clearing.models import ClearingLine
from apps.clearing.services import set_funding_policy
from apps.loyalty.models import JournalEntry, LotMovement, PointsLot
from apps.loyalty.services import ledger
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.models import Sale, SalePayment
from apps.sales.services import PaymentLine, record_sale, refund_sale


@pytest.fixture
def shops(mall):
    return create_merchant(name="X Issuer"), create_merchant(name="Y Acceptor")


@pytest.fixture
def member(shops):
    shop_x, _ = shops
    now = timezone.now()
    set_funding_policy(source="shared", merchant_share=Decimal("0.5"), now=now - dt.timedelta(30))
    member = create_member(display_name="Alliance")
    ledger.earn_points(
        member=member, points=500, idempotency_key="lot-x", issuer_merchant_id=shop_x.pk,
        source_type="sale", source_id="x1", now=now - dt.timedelta(days=10), pending_days=0,
    )  # fmt: skip
    ledger.adjust_points(
        member=member, points=300, reason="gift", idempotency_key="lot-mall", actor="op",
        now=now - dt.timedelta(days=5),
    )  # fmt: skip
    return member


def pay_with_points(shop, member, external_id, points_amount, total="20.00"):
    cash = Decimal(total) - Decimal(points_amount)
    payments = [PaymentLine("points", points_amount)]
    if cash:
        payments.append(PaymentLine("cash", str(cash)))
    return record_sale(
        merchant=shop, external_id=external_id, occurred_at=None, total=total,
        payments=payments, member=member,
    )  # fmt: skip


def refund(shop, external_id, refund_id, amount):
    return refund_sale(merchant=shop, external_id=external_id, refund_id=refund_id, amount=amount)


def lines_of(sale_id, refund_id=""):
    """(merchant name or 'mall', role, points, amount) of a sale's lines, in a stable order."""
    rows = ClearingLine.objects.filter(sale_id=sale_id, refund_id=refund_id).select_related(
        "merchant"
    )
    return sorted(
        (
            line.merchant.name if line.merchant else "mall",
            line.role,
            line.points,
            str(line.amount),
        )
        for line in rows
    )


def counts():
    return (
        Sale.objects.count(),
        SalePayment.objects.count(),
        JournalEntry.objects.count(),
        LotMovement.objects.count(),
        PointsLot.objects.count(),
        ClearingLine.objects.count(),
    )
