"""Concurrent points payments against one member on real PostgreSQL never overspend, and the
clearing lines match exactly the payments that went through."""

from decimal import Decimal

from django.db.models import Sum
from django_tenants.utils import tenant_context

from apps.clearing.models import ClearingLine
from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount
from apps.loyalty.selectors import open_lots_balance
from apps.loyalty.services import ledger
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.models import Sale
from apps.sales.services import PaymentLine, record_sale
from tests.concurrency import race


def test_concurrent_points_payments_never_overspend(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):
        issuer, acceptor = create_merchant(name="Issuer"), create_merchant(name="Acceptor")
        member = create_member(display_name="Racer")
        ledger.earn_points(
            member=member, points=1000, idempotency_key="seed", source_type="sale",
            source_id="s", issuer_merchant_id=issuer.pk, pending_days=0,
        )  # fmt: skip

        def pay(index):
            with tenant_context(committed_tenant):
                try:
                    record_sale(
                        merchant=acceptor, external_id=f"C-{index}", occurred_at=None,
                        total="0.60", payments=[PaymentLine("points", "0.60")], member=member,
                    )  # fmt: skip
                except InsufficientPointsError:
                    return "refused"
                return "paid"

        results = race(20, pay)
        assert (results.count("paid"), results.count("refused")) == (16, 4)
        assert PointsAccount.objects.get(member=member).balance == 40
        assert open_lots_balance(member=member) == 40
        assert Sale.objects.count() == 16
        totals = dict(
            ClearingLine.objects.values_list("merchant__name").annotate(total=Sum("amount"))
        )
        assert totals == {"Acceptor": Decimal("9.60"), "Issuer": Decimal("-9.60")}
        assert ClearingLine.objects.count() == 32
