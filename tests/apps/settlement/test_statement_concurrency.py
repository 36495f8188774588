"""Closes and line writers at the same time, on real PostgreSQL: one statement per period, and
every line lands either in the closed statement or in the next period, never lost or counted
twice."""

import datetime as dt
import threading
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.settlement.models import SettlementCursor, SplitLine, Statement
from apps.settlement.services import statements as svc
from apps.settlement.statement_errors import PeriodNotClosableError
from tests.apps.settlement.statement_helpers import at, concession_sale, contract


def test_concurrent_closes_and_writers(committed_tenant, django_db_blocker):
    # Committed data in a tenant of its own (dropped afterwards): a transactional test would
    # flush the malls the rest of the suite shares.
    mall = committed_tenant
    with django_db_blocker.unblock(), tenant_context(mall):
        shop = create_merchant(name="并发店")
        terms = contract(shop, effective_from=dt.date(2026, 11, 1))
        concession_sale(shop, "100.00", "0.20", at(dt.date(2026, 11, 2)))
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def closer() -> None:
        with django_db_blocker.unblock(), tenant_context(mall):
            start.wait(5)
            try:
                svc.close_period(merchant=shop, start=dt.date(2026, 11, 1),
                                 end=dt.date(2026, 11, 30), contract=terms, actor="c")  # fmt: skip
                outcomes.append("closed")
            except PeriodNotClosableError:
                outcomes.append("refused")
        connection.close()

    def writer(n: int) -> None:
        with django_db_blocker.unblock(), tenant_context(mall):
            start.wait(5)
            for i in range(5):
                concession_sale(shop, f"{10 + n}.00", "0.20", at(dt.date(2026, 11, 10 + i)))
        connection.close()

    threads = [threading.Thread(target=closer) for _ in range(3)]
    threads += [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with django_db_blocker.unblock(), tenant_context(mall):
        assert sorted(outcomes) == ["closed", "refused", "refused"]
        [statement] = Statement.objects.filter(merchant=shop)
        in_statement = statement.gross_sales
        rolled = SplitLine.objects.filter(merchant=shop, settle_on=dt.date(2026, 12, 1))
        rolled_total = rolled.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
        # 100 + 5 × (10 + 11 + 12) = 265, split between the statement and December 1st.
        assert in_statement + rolled_total == Decimal("265.00")
        assert SplitLine.objects.filter(merchant=shop).count() == 32
        assert statement.line_count + rolled.count() == 32
        assert SettlementCursor.objects.get(merchant=shop).closed_through == dt.date(2026, 11, 30)
