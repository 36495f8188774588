"""Concurrency on real PostgreSQL: racing partial refunds of one sale (and new sales beside them)
write lines that negate the sale exactly, with nothing lost or doubled."""

from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.merchants.services import create_contract, create_merchant
from apps.sales.models import Sale
from apps.sales.services import PaymentLine, record_sale, refund_sale
from apps.settlement.models import SplitLine
from apps.settlement.services.rules import create_rule, publish_rule
from atrium.errors import DomainError
from tests.concurrency import race


def test_racing_refunds_and_sales_keep_every_cent(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Split Race")
            create_contract(
                merchant=merchant,
                kind="concession",
                commission_rate="0.1800",
                effective_from=timezone.localdate(),
            )
            publish_rule(
                rule=create_rule(
                    values={
                        "name": "fee",
                        "kind": "channel_fee",
                        "rate": "0.0060",
                        "payment_method": "alipay",
                    }
                )
            )
            record_sale(
                merchant=merchant,
                external_id="SPLIT-RACE",
                occurred_at=timezone.now(),
                total="100.00",
                payments=[PaymentLine("alipay", "100.00")],
            )
        connection.set_schema_to_public()

        def work(index):
            with tenant_context(committed_tenant):
                try:
                    if index % 2:
                        record_sale(
                            merchant=merchant,
                            external_id=f"SIDE-{index}",
                            occurred_at=timezone.now(),
                            total="33.33",
                            payments=[PaymentLine("alipay", "33.33")],
                        )
                        return "sold"
                    refund_sale(
                        merchant=merchant,
                        external_id="SPLIT-RACE",
                        refund_id=f"R-{index}",
                        amount="13.00",
                    )
                except DomainError as exc:
                    return exc.code
                return "refunded"

        results = race(20, work)
        # Ten refunds of ¥13 race for ¥100: seven fit (¥91), three find only ¥9 left.
        assert (
            results.count("refunded"),
            results.count("sales.refund_exceeds_sale"),
            results.count("sold"),
        ) == (7, 3, 10)
        with tenant_context(committed_tenant):
            sale = Sale.objects.get(external_id="SPLIT-RACE")
            refund_sale(
                merchant=merchant, external_id="SPLIT-RACE", refund_id="LAST", amount="9.00"
            )
            totals: dict[str, Decimal] = {}
            for line in SplitLine.objects.filter(sale=sale):
                totals[line.kind] = totals.get(line.kind, Decimal(0)) + line.amount
            assert totals == {"channel_fee": 0, "commission": 0, "merchant_share": 0}
            for side in Sale.objects.filter(external_id__startswith="SIDE-"):
                amounts = sorted(
                    SplitLine.objects.filter(sale=side).values_list("amount", flat=True)
                )
                assert amounts == [Decimal("0.20"), Decimal("6.00"), Decimal("27.13")]
        connection.set_schema_to_public()
