"""Concurrency on real PostgreSQL: redemptions racing on one member never overspend."""

from django_tenants.utils import tenant_context

from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.loyalty.services import ledger
from apps.members.services import create_member
from tests.concurrency import race


def test_fifty_concurrent_redemptions_spend_exactly_what_the_balance_allows(
    committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):
        member = create_member(display_name="Racer")
        ledger.earn_points(
            member=member,
            points=1000,
            idempotency_key="seed",
            source_type="sale",
            source_id="s",
            pending_days=0,
        )

        def redeem(index):
            with tenant_context(committed_tenant):
                try:
                    ledger.redeem_points(member=member, points=30, idempotency_key=f"r-{index}")
                except InsufficientPointsError:
                    return "refused"
                return "spent"

        results = race(50, redeem)
        assert (results.count("spent"), results.count("refused")) == (33, 17)
        balance = PointsAccount.objects.get(member=member).balance
        assert (balance, posted_balance(member=member), open_lots_balance(member=member)) == (
            10,
            10,
            10,
        )


def test_fifty_concurrent_retries_of_one_earn_award_once(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):
        member = create_member(display_name="Retry")

        def earn(_):
            with tenant_context(committed_tenant):
                return ledger.earn_points(
                    member=member,
                    points=88,
                    idempotency_key="one-sale",
                    source_type="sale",
                    source_id="s1",
                    pending_days=0,
                ).pk

        entry_ids = race(50, earn)
        assert len(set(entry_ids)) == 1
        assert PointsAccount.objects.get(member=member).balance == 88
