"""Hypothesis: random sequences of earn, redeem, expire, reverse, adjust, merge and forfeit (an
account closing) keep every ledger invariant: postings of every entry sum to zero; each member's balance equals the sum of
their postings and of their open lots; no balance is ever negative; retries change nothing."""

import datetime as dt
import uuid

from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount, Posting
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.loyalty.services import ledger
from apps.members.services import create_member

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

operation = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500), st.integers(0, 2), st.integers(0, 10)),
    st.tuples(st.just("redeem"), st.integers(1, 600), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(1, 300), st.integers(0, 2), st.integers(0, 10)),
    st.tuples(
        st.just("adjust"), st.integers(-300, 300).filter(bool), st.integers(0, 2), st.just(0)
    ),
    st.tuples(st.just("advance"), st.integers(1, 200), st.just(0), st.just(0)),
    st.tuples(st.just("merge"), st.just(0), st.integers(1, 2), st.just(0)),
    st.tuples(st.just("retry"), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("forfeit"), st.just(0), st.integers(0, 2), st.just(0)),
)


def _check_invariants(members):
    unbalanced = (
        Posting.objects.values("entry").annotate(total=Sum("amount")).exclude(total=0).count()
    )
    assert unbalanced == 0
    for member in members:
        account = PointsAccount.objects.filter(member=member).first()
        balance = account.balance if account else 0
        assert balance >= 0
        assert balance == posted_balance(member=member) == open_lots_balance(member=member)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_random_ledger_histories_keep_the_invariants(mall, operations):
    members = [create_member(display_name=f"p{i}") for i in range(3)]
    now = START
    keys: list[tuple[str, dict]] = []
    for kind, amount, who, source in operations:
        member = members[who]
        key = f"{uuid.uuid4()}"
        try:
            if kind == "earn":
                args = {
                    "member": member,
                    "points": amount,
                    "idempotency_key": key,
                    "source_type": "sale",
                    "source_id": f"s{source}",
                    "now": now,
                    "pending_days": source % 3,
                }
                ledger.earn_points(**args)
                keys.append(("earn", args))
            elif kind == "redeem":
                ledger.redeem_points(member=member, points=amount, idempotency_key=key, now=now)
            elif kind == "reverse":
                ledger.reverse_points(
                    member=member,
                    points=amount,
                    idempotency_key=key,
                    source_type="sale",
                    source_id=f"s{source}",
                )
            elif kind == "adjust":
                ledger.adjust_points(
                    member=member,
                    points=amount,
                    reason="p",
                    idempotency_key=key,
                    actor="op",
                    now=now,
                )
            elif kind == "advance":
                now += dt.timedelta(days=amount * 3)
                ledger.expire_due_lots(now=now)
            elif kind == "merge":
                ledger.merge_member_ledgers(
                    source=members[who], target=members[0], idempotency_key=key
                )
            elif kind == "forfeit":
                # a closing account: the same key again changes nothing, and nothing is left
                ledger.forfeit_points(
                    member=member, idempotency_key=f"close:{member.pk}", reason="c"
                )
                ledger.forfeit_points(
                    member=member, idempotency_key=f"close:{member.pk}", reason="c"
                )
                if PointsAccount.objects.get(member=member).balance != 0:
                    # the member earned again after the first close: a new closing forfeits it
                    ledger.forfeit_points(member=member, idempotency_key=key, reason="c")
                assert PointsAccount.objects.get(member=member).balance == 0
            elif kind == "retry" and keys:
                _, args = keys[-1]
                before = PointsAccount.objects.get(member=args["member"]).balance
                ledger.earn_points(**args)
                assert PointsAccount.objects.get(member=args["member"]).balance == before
        except InsufficientPointsError:
            pass
        _check_invariants(members)
