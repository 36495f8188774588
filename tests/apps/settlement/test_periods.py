"""The settlement cursor: a money line's date rolls past closed periods, never into them."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.settlement import locks
from apps.settlement.models import SettlementCursor
from apps.settlement.selectors import settle_on

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_line_keeps_its_local_date_while_nothing_is_closed(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Cursor Shop")
        # 23:30 UTC on the 9th is 07:30 on the 10th in Shanghai: the mall's local date counts.
        moment = dt.datetime(2026, 11, 9, 23, 30, tzinfo=dt.UTC)
        assert settle_on(merchant_id=shop.pk, moment=moment) == dt.date(2026, 11, 10)


def test_a_late_line_rolls_into_the_day_after_the_closed_periods(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Cursor Shop")
        other = create_merchant(name="Other Shop")
        SettlementCursor.objects.create(merchant=shop, closed_through=dt.date(2026, 10, 31))
        late = dt.datetime(2026, 10, 20, 12, tzinfo=SHANGHAI)
        on_time = dt.datetime(2026, 11, 3, 12, tzinfo=SHANGHAI)
        boundary = dt.datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI)
        assert settle_on(merchant_id=shop.pk, moment=late) == dt.date(2026, 11, 1)
        assert settle_on(merchant_id=shop.pk, moment=boundary) == dt.date(2026, 11, 1)
        assert settle_on(merchant_id=shop.pk, moment=on_time) == dt.date(2026, 11, 3)
        # Another merchant's cursor is its own.
        assert settle_on(merchant_id=other.pk, moment=late) == dt.date(2026, 10, 20)


def test_a_close_waits_for_lines_being_written(committed_tenant, django_db_blocker):
    # Committed data in a tenant of its own: a transactional test would flush the shared malls.
    mall = committed_tenant
    with django_db_blocker.unblock(), tenant_context(mall):
        shop = create_merchant(name="Lock Shop")
    writer_holds = threading.Event()
    release_writer = threading.Event()
    order: list[str] = []

    def writer() -> None:
        with django_db_blocker.unblock(), tenant_context(mall), transaction.atomic():
            locks.lines_lock(merchant_ids=[shop.pk, shop.pk])
            writer_holds.set()
            release_writer.wait(5)
            order.append("line written")
        connection.close()

    def closer() -> None:
        writer_holds.wait(5)
        with django_db_blocker.unblock(), tenant_context(mall), transaction.atomic():
            locks.close_lock(merchant_id=shop.pk)
            order.append("period closed")
        connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=closer)]
    for thread in threads:
        thread.start()
    writer_holds.wait(5)
    threading.Event().wait(0.3)  # the closer is now queued on the lock
    assert order == []
    release_writer.set()
    for thread in threads:
        thread.join(10)
    assert order == ["line written", "period closed"]
