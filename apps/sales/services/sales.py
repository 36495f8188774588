"""Recording sales and refunds: the one write path of every till (POS, portal, import, receipts).

Money arrives as decimal strings in yuan (or `Decimal`), never floats: at most two places, not
negative, payments summing exactly to the total, and items too when a till sends them.

Idempotency: a sale is unique per (merchant, external id). `record_sale` takes an advisory lock
on that pair before anything else, so concurrent retries queue behind the first attempt; a retry
whose canonical body hashes the same gets the first result back (`created=False`), another body
is refused with `idempotency.conflict`. The unique constraint is the backstop. A refund is unique
per (sale, refund id) in the same way, under the sale's row lock.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from apps.clearing.services import clear_points_payment, clear_points_refund
from apps.loyalty.services.earning import (
    SaleFacts,
    eligible_amount,
    proportional_share,
    reverse_sale_award,
)
from apps.loyalty.services.earning import SaleItem as FactItem
from apps.loyalty.services.earning import SalePayment as FactPayment
from apps.loyalty.services.sale_awards import (
    Awarded,
    LockedAccounts,
    SaleToAward,
    account_lock_statements,
    lock_award_accounts,
    plan_awards,
    settle_awards,
    speculate_awards,
)
from apps.members.choices import MemberStatus, RegistrationChannel
from apps.members.errors import MemberNotActiveError, MemberNotFoundError
from apps.members.models import Member
from apps.members.selectors import (
    find_member,
    members_by_number_statement,
    members_from_rows,
    surviving_member,
)
from apps.members.services import join_member, resolve_member_code
from apps.merchants.models import Merchant
from apps.sales import events, locks, selectors
from apps.sales.choices import Channel, MemberRefKind, PaymentMethod, SaleStatus
from apps.sales.errors import (
    InvalidAmountError,
    MemberRefInvalidError,
    RefundExceedsSaleError,
    SaleInvalidError,
    TotalMismatchError,
)
from apps.sales.models import Refund, Sale, SaleItem, SalePayment
from apps.settlement.services.split import (
    PlannedSplit,
    SaleToSplit,
    cursor_statements,
    plan_sales_split,
    write_refund_split,
)
from atrium.crypto import keyed_hash
from atrium.errors import DomainError, IdempotencyConflictError
from atrium.events import DomainEvent, publish_many_draft, publish_many_statement
from atrium.money import CENT, to_cny
from atrium.sql import Draft, Statement, insert_draft, insert_rows, run_statements, write_together

MAX_MONEY = Decimal("999999999999.99")  # DecimalField(14, 2)
MAX_QUANTITY = Decimal("999999999.999")
MAX_PAYMENTS = 20
MAX_ITEMS = 200
# A till's clock may run a little ahead of ours; a sale further in the future is a typo.
MAX_CLOCK_AHEAD = dt.timedelta(minutes=10)
EARLIEST_SALE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
_MONEY_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")  # ASCII digits only: not "１２"
# What tills send: at most 12 digits and 2 places, so finite, in range and exact to the cent.
_PLAIN_MONEY_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?\Z")
# From this many member sales in one write, the awards are planned before the accounts' locks
# (ADR 0019); below it, the extra round trip costs more than the shorter locks save.
SPECULATE_FROM = 16
# `json.dumps(…, sort_keys=True, ensure_ascii=False)`, without building an encoder per call.
_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
_METHODS = frozenset(PaymentMethod.values)  # `.values` builds a new list on every read
_CHANNELS = frozenset(Channel.values)


# --- input -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentLine:
    method: str
    amount: Decimal | str
    trade_no: str = ""


@dataclass(frozen=True)
class ItemLine:
    amount: Decimal | str
    sku: str = ""
    name: str = ""
    category: str = ""
    quantity: Decimal | int | str = 1


@dataclass(frozen=True)
class MemberRef:
    """How a till names the member: exactly one of a scanned code, a phone or a member number."""

    code: str | None = None
    phone: str | None = None
    member_no: str | None = None

    def chosen(self) -> tuple[str, str]:
        """(kind, value) of the one key given. Raises MemberRefInvalidError."""
        given = [
            (kind, value.strip())
            for kind, value in (
                (MemberRefKind.CODE, self.code),
                (MemberRefKind.PHONE, self.phone),
                (MemberRefKind.MEMBER_NO, self.member_no),
            )
            if value is not None and value.strip()
        ]
        if len(given) != 1:
            raise MemberRefInvalidError("name the member by exactly one of code, phone, member_no")
        return str(given[0][0]), given[0][1]


@dataclass(frozen=True)
class CleanPayment:
    method: str
    amount: Decimal
    trade_no: str


@dataclass(frozen=True)
class CleanItem:
    sku: str
    name: str
    category: str
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CleanSale:
    """A sale's fields, checked: what is stored, hashed and given to the earning engine."""

    external_id: str
    occurred_at: dt.datetime
    total: Decimal
    payments: tuple[CleanPayment, ...]
    items: tuple[CleanItem, ...]

    @property
    def points_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments if p.method == PaymentMethod.POINTS), CENT * 0)

    def facts(self, merchant: Merchant) -> SaleFacts:
        return SaleFacts(
            total=self.total,
            occurred_at=self.occurred_at,
            merchant_id=merchant.pk,
            business_format=merchant.business_format,
            payments=tuple(FactPayment(method=p.method, amount=p.amount) for p in self.payments),
            items=tuple(FactItem(amount=i.amount, category=i.category) for i in self.items),
        )


@dataclass(frozen=True)
class SaleResult:
    sale: Sale
    created: bool  # False: a retry got the first result back

    @property
    def points_earned(self) -> int:
        return self.sale.points_earned

    @property
    def growth_earned(self) -> int:
        return self.sale.growth_earned

    @property
    def points_balance(self) -> int | None:
        return self.sale.points_balance

    @property
    def tier(self) -> str | None:
        return self.sale.tier_code or None


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    sale: Sale
    created: bool


def parse_money(value: object, *, field: str, positive: bool = False) -> Decimal:
    """A money amount from a decimal string (or Decimal/int): two places at most, not negative.

    Raises InvalidAmountError (floats included: money is never a float).
    """
    if type(value) is str and _PLAIN_MONEY_RE.match(value):
        amount = Decimal(value).quantize(CENT)  # exact: two places at most
        if positive and not amount:
            raise InvalidAmountError("amount must be positive", field=field, value=str(amount))
        return amount
    if isinstance(value, bool | float) or not isinstance(value, str | Decimal | int):
        raise InvalidAmountError(
            'money must be a decimal string such as "12.30"',
            field=field,
            type=type(value).__name__,
        )
    if isinstance(value, str):
        if not _MONEY_RE.match(value):
            raise InvalidAmountError("not a decimal amount", field=field, value=value[:32])
        value = Decimal(value)
    amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidAmountError("not a decimal amount", field=field)
    if amount < 0:
        raise InvalidAmountError("amount must not be negative", field=field, value=str(amount))
    if amount > MAX_MONEY:
        raise InvalidAmountError("amount is too large", field=field, value=str(amount))
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise InvalidAmountError("at most two decimal places", field=field, value=str(amount))
    if positive and amount == 0:
        raise InvalidAmountError("amount must be positive", field=field, value=str(amount))
    return to_cny(amount)


def _quantity(value: object, *, field: str) -> Decimal:
    try:
        if isinstance(value, bool | float) or not isinstance(value, str | Decimal | int):
            raise InvalidOperation
        quantity = Decimal(value)
    except InvalidOperation as exc:
        raise SaleInvalidError("quantity must be a number", field=field) from exc
    if not quantity.is_finite() or not 0 < quantity <= MAX_QUANTITY:
        raise SaleInvalidError("quantity must be positive", field=field)
    if quantity != quantity.quantize(Decimal("0.001"), rounding=ROUND_DOWN):
        raise SaleInvalidError("quantity has at most three decimal places", field=field)
    return quantity.quantize(Decimal("0.001"))


def _text(value: str, *, field: str, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        raise SaleInvalidError("text is too long", field=field, max_length=max_length)
    return text


def clean_external_id(external_id: str, *, field: str = "external_id") -> str:
    """Letters, digits and `._:-`, 1 to 64 characters. Raises SaleInvalidError."""
    if not isinstance(external_id, str) or not EXTERNAL_ID_RE.match(external_id):
        raise SaleInvalidError(
            "use 1 to 64 letters, digits or ._:- (starting with a letter or digit)", field=field
        )
    return external_id


def clean_sale(
    *,
    external_id: str,
    occurred_at: dt.datetime,
    total: Decimal | str,
    payments: Sequence[PaymentLine],
    items: Sequence[ItemLine] = (),
    now: dt.datetime | None = None,
) -> CleanSale:
    """Check a sale's fields. Raises SaleInvalidError, InvalidAmountError, TotalMismatchError."""
    clean_external_id(external_id)
    if not isinstance(occurred_at, dt.datetime):
        raise SaleInvalidError("occurred_at must be a date and time", field="occurred_at")
    if timezone.is_naive(occurred_at):
        # Tills in China send local time without an offset: read it in the mall's time zone.
        occurred_at = timezone.make_aware(occurred_at)
    now = now or timezone.now()
    if not EARLIEST_SALE <= occurred_at <= now + MAX_CLOCK_AHEAD:
        raise SaleInvalidError(
            "occurred_at is in the future or implausibly old", field="occurred_at"
        )
    amount = parse_money(total, field="total", positive=True)
    if not 1 <= len(payments) <= MAX_PAYMENTS:
        raise SaleInvalidError(f"a sale has 1 to {MAX_PAYMENTS} payments", field="payments")
    if len(items) > MAX_ITEMS:
        raise SaleInvalidError(f"a sale has at most {MAX_ITEMS} items", field="items")
    clean_payments = []
    for index, payment in enumerate(payments):
        if payment.method not in _METHODS:
            raise SaleInvalidError(
                "unknown payment method",
                field=f"payments[{index}].method",
                allowed=list(PaymentMethod.values),
            )
        clean_payments.append(
            CleanPayment(
                method=payment.method,
                amount=parse_money(
                    payment.amount, field=f"payments[{index}].amount", positive=True
                ),
                trade_no=_text(
                    payment.trade_no, field=f"payments[{index}].trade_no", max_length=64
                ),
            )
        )
    paid = sum((p.amount for p in clean_payments), Decimal(0))
    if paid != amount:
        raise TotalMismatchError(
            "payments must add up to the total", total=str(amount), payments=str(paid)
        )
    clean_items = tuple(
        CleanItem(
            sku=_text(item.sku, field=f"items[{index}].sku", max_length=64),
            name=_text(item.name, field=f"items[{index}].name", max_length=200),
            category=_text(item.category, field=f"items[{index}].category", max_length=64),
            quantity=_quantity(item.quantity, field=f"items[{index}].quantity"),
            amount=parse_money(item.amount, field=f"items[{index}].amount"),
        )
        for index, item in enumerate(items)
    )
    if clean_items:
        listed = sum((i.amount for i in clean_items), Decimal(0))
        if listed != amount:
            raise TotalMismatchError(
                "items must add up to the total", total=str(amount), items=str(listed)
            )
    return CleanSale(
        external_id=external_id,
        occurred_at=occurred_at,
        total=amount,
        payments=tuple(clean_payments),
        items=clean_items,
    )


def _request_hash(
    *,
    merchant: Merchant,
    sale: CleanSale,
    channel: str,
    member_key: tuple[str, str],
    time_given: bool,
) -> str:
    # Keyed: the body may hold a phone number, and this hash sits in the table for good.
    canonical = {
        "merchant": str(merchant.pk),
        "external_id": sale.external_id,
        # A time the server filled in is not part of what the caller asked.
        "occurred_at": sale.occurred_at.astimezone(dt.UTC).isoformat() if time_given else "",
        "total": str(sale.total),
        "payments": [[p.method, str(p.amount), p.trade_no] for p in sale.payments],
        "items": [[i.sku, i.name, i.category, str(i.quantity), str(i.amount)] for i in sale.items],
        "channel": channel,
        "member": list(member_key),
    }
    return keyed_hash(_canonical(canonical))


def _buyer(
    *, member_ref: MemberRef | None, member: Member | None, join_by_phone: bool
) -> Member | None:
    """The active member a sale is for. Raises the members app's errors for unknown or
    inactive members, expired or reused codes and malformed phones."""
    if member is not None:
        survivor = surviving_member(member)
        if survivor is None:
            raise MemberNotActiveError("member is closed", status=member.status)
        return survivor
    if member_ref is None:
        return None
    kind, value = member_ref.chosen()
    if kind == MemberRefKind.CODE:
        return resolve_member_code(value)  # consumes a dynamic code: only after the replay check
    if kind == MemberRefKind.PHONE and join_by_phone:
        # Joining at the till: the phone is typed at checkout and not verified.
        return join_member(channel=RegistrationChannel.TILL, phone=value).member
    found = (
        find_member(phone=value) if kind == MemberRefKind.PHONE else find_member(member_no=value)
    )
    if found is None:
        raise MemberNotFoundError("no member matches", by=kind)
    return found


@dataclass(frozen=True)
class SaleRequest:
    """One sale as a till sends it (the arguments of `record_sale`, for `record_sales`)."""

    external_id: str
    occurred_at: dt.datetime | None
    total: Decimal | str
    payments: Sequence[PaymentLine]
    items: Sequence[ItemLine] = ()
    member_ref: MemberRef | None = None
    member: Member | None = None
    channel: str = Channel.POS
    join_by_phone: bool = True
    actor: str = ""


def record_sale(
    *,
    merchant: Merchant,
    external_id: str,
    occurred_at: dt.datetime | None,
    total: Decimal | str,
    payments: Sequence[PaymentLine],
    items: Sequence[ItemLine] = (),
    member_ref: MemberRef | None = None,
    member: Member | None = None,
    channel: str = Channel.POS,
    join_by_phone: bool = True,
    actor: str = "",
    now: dt.datetime | None = None,
) -> SaleResult:
    """Record a sale once per (merchant, external id) and award its points and growth.

    A retry with the same body returns the first result (`created=False`). A sale without a
    member is recorded too. `join_by_phone` enrols an unknown phone at the till. Without
    `occurred_at` the sale happens now (and a retry need not repeat the time).
    Raises SaleInvalidError, InvalidAmountError, TotalMismatchError, MemberRefInvalidError,
    IdempotencyConflictError, and the members app's MemberCodeInvalidError,
    MemberCodeExpiredError, MemberCodeReusedError, MemberNotFoundError, MemberNotActiveError,
    PhoneInvalidError.
    """
    request = SaleRequest(
        external_id=external_id, occurred_at=occurred_at, total=total, payments=payments,
        items=items, member_ref=member_ref, member=member, channel=channel,
        join_by_phone=join_by_phone, actor=actor,
    )  # fmt: skip
    (result,) = record_sales(merchant=merchant, requests=[request], now=now)
    if isinstance(result, DomainError):
        raise result
    return result


class _Refused(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Rolls back a single call's transaction after its sale was refused."""


@dataclass
class _Planned:
    """A new sale on its way to the database (the writer's per-sale state)."""

    index: int
    merchant: Merchant
    sale: CleanSale
    request: SaleRequest
    request_hash: str
    member_key: tuple[str, str]
    buyer: Member | None = None
    row: Sale | None = None
    resolved: bool = False  # `buyer` is final: resolved by a transaction that deferred the sale
    # The ids of the new row, its merchant and its buyer as text, set with `row`: each is
    # needed several times (rows, events, keys) and `str()` of a UUID costs about a microsecond.
    sale_id: str = ""
    merchant_id: str = ""
    buyer_id: str | None = None

    def buyer_among(self, member_ids: Set[str]) -> bool:
        """Whether the sale's buyer is one of these members (ids as text)."""
        return self.buyer_id is not None and self.buyer_id in member_ids


def _prepare(
    merchant: Merchant, request: SaleRequest, now: dt.datetime
) -> tuple[CleanSale, tuple[str, str], str]:
    if request.member_ref is not None and request.member is not None:
        raise ValueError("record_sale takes member_ref or member, not both")
    if request.channel not in _CHANNELS:
        raise ValueError(f"unknown channel {request.channel!r}")
    sale = clean_sale(
        external_id=request.external_id,
        occurred_at=request.occurred_at or now,
        total=request.total,
        payments=request.payments,
        items=request.items,
        now=now,
    )
    if request.member is not None:
        member_key = (str(MemberRefKind.DIRECT), str(request.member.pk))
    elif request.member_ref is not None:
        member_key = request.member_ref.chosen()
    else:
        member_key = (str(MemberRefKind.NONE), "")
    request_hash = _request_hash(
        merchant=merchant,
        sale=sale,
        channel=request.channel,
        member_key=member_key,
        time_given=request.occurred_at is not None,
    )
    return sale, member_key, request_hash


def record_sales(
    *, merchant: Merchant, requests: Sequence[SaleRequest], now: dt.datetime | None = None
) -> list[SaleResult | DomainError]:
    """Record many sales of one merchant in one transaction, each on its own: the result of each
    (as `record_sale` would give it) or the DomainError that refused it, in order. Outside a
    caller's transaction, a large write leaves the sales of members whose accounts another
    transaction holds to a second transaction, once the first has committed (ADR 0020).

    The one writer of sales (`record_sale` is a batch of one). Set-based: every sale key locked
    in one statement, the recorded ones read in one, the members' awards by
    `loyalty.award_sales`, then sales, payments and items in one statement and the events in one
    (docs/adr/0015-set-based-sale-writer.md). Two sales of one member are applied in order; a
    sale whose external id came earlier in the same batch replays it (or conflicts).
    """
    return record_merchants_sales([(merchant, request) for request in requests], now=now)


def record_merchants_sales(
    sales: Sequence[tuple[Merchant, SaleRequest]], *, now: dt.datetime | None = None
) -> list[SaleResult | DomainError]:
    """`record_sales` for sales of several merchants of the mall, in one transaction (the group
    commit of concurrent POS calls, `group_commit`): each sale on its own, as in a batch."""
    now = now or timezone.now()
    results: list[SaleResult | DomainError | None] = [None] * len(sales)
    planned: list[_Planned] = []
    for index, (merchant, request) in enumerate(sales):
        try:
            sale, member_key, request_hash = _prepare(merchant, request, now)
        except DomainError as exc:
            results[index] = exc
            continue
        planned.append(_Planned(index, merchant, sale, request, request_hash, member_key))
    if planned:
        # Inside a caller's transaction every lock is held to its end: waiting there for the
        # accounts another write holds, after holding others, could deadlock.
        defer = not transaction.get_connection().in_atomic_block
        later: list[_Planned] = []
        try:
            with transaction.atomic():
                later = _write_sales(planned, results, now, defer=defer)
                if len(sales) == 1 and isinstance(results[0], DomainError):
                    raise _Refused  # a single call refused: nothing it wrote on the way stays
        except _Refused:
            pass
        if later:
            # The sales of members whose accounts another write held: written now that this
            # one has committed, waiting for those accounts (ADR 0020).
            with transaction.atomic():
                _write_sales(later, results, now, defer=False)
    assert all(result is not None for result in results)  # noqa: S101 - every sale answered
    return cast(list[SaleResult | DomainError], results)


def _write_sales(
    planned: list[_Planned],
    results: list[SaleResult | DomainError | None],
    now: dt.datetime,
    *,
    defer: bool,
) -> list[_Planned]:
    """Three round trips and the commit whatever the batch size (ADR 0016): the sale keys'
    locks with the replay check and the members by number; the member accounts' locks with the
    merchants' settlement cursors; then every row in one statement.

    With `defer`, a large write does not wait for the accounts another transaction holds: the
    sales of those members are left unanswered and returned, for a transaction of their own
    once this one has committed (ADR 0020)."""
    keys = [(p.merchant.pk, p.sale.external_id) for p in planned]
    numbers = [
        p.member_key[1]
        for p in planned
        if p.member_key[0] == MemberRefKind.MEMBER_NO and p.request.member_ref is not None
    ]
    found = run_statements(
        [
            locks.sale_keys_lock_statement(keys=keys),
            selectors.recorded_sales_statement(keys=keys),
            *([members_by_number_statement(numbers)] if numbers else []),
        ]
    )
    recorded = selectors.recorded_sale_hashes(found[1])
    by_number = members_from_rows(found[2]) if numbers else {}
    replays = {
        sale_id
        for p in planned
        if (done := recorded.get((p.merchant.pk, p.sale.external_id))) is not None
        and done[1] == p.request_hash
        for sale_id in (done[0],)
    }
    done_sales = selectors.sales_by_id(sale_ids=replays) if replays else {}
    new: list[_Planned] = []
    in_batch: dict[tuple[uuid.UUID, str], _Planned] = {}
    repeated = False  # a sale answered by an earlier one of this write (it must not be deferred)
    for p in planned:
        external_id = p.sale.external_id
        key = (p.merchant.pk, external_id)
        first = in_batch.get(key)
        try:
            if (done := recorded.get(key)) is not None:
                results[p.index] = _replay(
                    done_sales.get(done[0]), done[1], p.request_hash, external_id
                )
                continue
            if first is not None:
                repeated = True
                if first.row is None:  # the first one failed: this one is refused the same way
                    results[p.index] = results[first.index]
                else:
                    results[p.index] = _replay(
                        first.row, first.request_hash, p.request_hash, external_id
                    )
                continue
            in_batch[key] = p
            if not p.resolved:
                p.buyer = _resolve_buyer(p.request, batch=len(planned) > 1, by_number=by_number)
        except DomainError as exc:
            results[p.index] = exc
            continue
        _new_row(p, now)
        new.append(p)
    if not new:
        return []
    locked_already = any(p.sale.points_paid != 0 for p in new)
    if locked_already:
        # A points payment redeems first: clearing locks the batch's accounts and writes its
        # lines (under their merchants' lines locks) before this merchant's lines lock.
        new = _clear_points_payments(new, results)
        if not new:
            return []
    # What needs no account is worked out before the accounts are locked: the locks are held
    # until the commit, and concurrent sales of the same members wait for them.
    split = _plan_split(new)
    member_sales = [p for p in new if p.buyer is not None]
    to_award = [
        SaleToAward(
            member_id=p.buyer.pk,
            sale_id=p.sale_id,
            facts=p.sale.facts(p.merchant),
            idempotency_key=f"sale:{p.merchant_id}:{p.sale.external_id}",
        )
        for p in member_sales
        if p.buyer is not None and p.row is not None
    ]
    later: list[_Planned] = []
    if len(to_award) >= SPECULATE_FROM and not locked_already:
        fragments, later = _write_speculatively(
            new, member_sales, to_award, split, now, defer=defer and not repeated
        )
    else:
        locked, closed_through = _lock_accounts_and_cursor(new)
        awards, award_rows = plan_awards(to_award, locked=locked, now=now)
        published = _apply_awards(new, dict(zip(map(id, member_sales), awards, strict=True)))
        lines = split.fragment(closed_through)
        outbox = publish_many_statement(
            [event for _, sale_events in published for event in sale_events]
        )
        sales, payments = _sale_draft(new, now), _line_fragments(new)
        fragments = [
            *award_rows, sales.statement(), *payments, *([lines] if lines is not None else []),
            *([outbox] if outbox is not None else []),
        ]  # fmt: skip
    # The ledger, the sales with their payments and items, their settlement lines and the
    # events: one statement (foreign keys are checked at commit).
    write_together(fragments)
    alias = transaction.get_connection().alias
    waiting = {id(p) for p in later}
    for p in new:
        assert p.row is not None  # noqa: S101 - set above
        if id(p) in waiting:
            p.resolved = True
            continue
        p.row._state.adding = False
        p.row._state.db = alias
        results[p.index] = SaleResult(sale=p.row, created=True)
    return later


def _write_speculatively(
    new: list[_Planned],
    member_sales: list[_Planned],
    to_award: list[SaleToAward],
    split: PlannedSplit,
    now: dt.datetime,
    *,
    defer: bool,
) -> tuple[list[Statement], list[_Planned]]:
    """The fragments of a large write, worked out and encoded from an unlocked read of the
    accounts and cursors before their locks; once locked, what another transaction changed
    meanwhile (some members' accounts, rarely a cursor) is worked out again and its drafted rows
    left out (docs/adr/0019-awards-planned-before-the-locks.md). With `defer`, the accounts that
    another transaction holds are not waited for: their members' sales are left out too and
    returned, to be written after this transaction (ADR 0020)."""
    member_ids = sorted({str(award.member_id) for award in to_award})
    merchant_ids = sorted({p.merchant.pk for p in new})
    read = run_statements(
        [*account_lock_statements(member_ids, lock=False), cursor_statements(merchant_ids)[1]]
    )
    guessed_through = dict(read[2])
    plan = speculate_awards(to_award, read=LockedAccounts(tuple(read[1])), now=now)
    published = _apply_awards(new, dict(zip(map(id, member_sales), plan.results, strict=True)))
    outbox, event_ids = publish_many_draft(
        [event for _, sale_events in published for event in sale_events]
    )
    sales, payments = _sale_draft(new, now), _line_fragments(new)
    guessed_lines = split.fragment(guessed_through)

    locked, closed_through = _lock_accounts_and_cursor(new, create=False, skip_locked=defer)
    held = {row[0] for row in locked.rows}
    deferred = frozenset(member for member in member_ids if member not in held)
    if deferred and not defer:
        # An account read before the lock is gone (nothing deletes one today): create it again
        # as the lock-first path would; a new row is a changed row, planned again.
        locked = LockedAccounts(tuple(run_statements(account_lock_statements(member_ids))[1]))
        deferred = frozenset()
    # With `defer`, an account missing here is held by another transaction (or gone): its
    # member's sales wait for a transaction of their own, which locks (or creates) it.
    later = [p for p in new if p.buyer_among(deferred)]
    settled = settle_awards(plan, to_award, locked=locked, now=now, deferred=deferred)
    if later:
        kept = [p for p in new if not p.buyer_among(deferred)]
        payments = _line_fragments(kept)
        lines = split.without({p.sale_id for p in later if p.row}).fragment(closed_through)
    elif closed_through == guessed_through:
        lines = guessed_lines
    else:
        lines = split.fragment(closed_through)
    fragments = [*settled.fragments, *payments, *([lines] if lines is not None else [])]
    left_out = settled.changed | deferred
    if not left_out:
        return [*fragments, sales.statement(), outbox.statement()], later
    # The sales of the members planned again: their rows and events again; the drafted ones of
    # those and of the deferred members left out (by member for the sales, by id for the events).
    again = {
        id(p): award
        for p, award in zip(member_sales, settled.results, strict=True)
        if p.buyer_among(settled.changed)
    }
    redone = _apply_awards([p for p in member_sales if id(p) in again], again)
    stale: list[str] = []
    position = 0
    for p, sale_events in published:
        if p.buyer_among(left_out):
            stale.extend(event_ids[position : position + len(sale_events)])
        position += len(sale_events)
    fragments += [sales.statement(left_out), outbox.statement(stale)]
    if redone:
        again_sales = _sale_draft([p for p, _ in redone], now)
        again_outbox, _ = publish_many_draft([event for _, events_ in redone for event in events_])
        fragments += [again_sales.statement(), again_outbox.statement()]
    return fragments, later


def _apply_awards(
    sales: list[_Planned], awarded: dict[int, Awarded]
) -> list[tuple[_Planned, list[DomainEvent]]]:
    """Set each sale row's award (`awarded` by `id()` of the member sales) and list its events:
    the award's, then `SaleRecorded`."""
    published = []
    for p in sales:
        row = p.row
        assert row is not None  # noqa: S101 - set by the caller
        award = awarded.get(id(p))
        sale_events: list[DomainEvent] = []
        if award is None:
            row.eligible_amount = to_cny(eligible_amount(p.sale.facts(p.merchant)))
        else:
            row.points_earned = award.points
            row.growth_earned = award.growth
            row.points_balance = award.balance
            row.tier_code = award.tier or ""
            row.eligible_amount = to_cny(award.quote.eligible_amount)
            sale_events.extend(award.events)
        sale_events.append(
            events.SaleRecorded(
                sale_id=p.sale_id, merchant_id=p.merchant_id, member_id=p.buyer_id,
                external_id=row.external_id, channel=row.channel,
                occurred_at=row.occurred_at.isoformat(), total=str(row.total),
                eligible_amount=str(row.eligible_amount), points_earned=row.points_earned,
                growth_earned=row.growth_earned,
            )
        )  # fmt: skip
        published.append((p, sale_events))
    return published


def _lock_accounts_and_cursor(
    new: list[_Planned], *, create: bool = True, skip_locked: bool = False
) -> tuple[LockedAccounts, dict[uuid.UUID, dt.date]]:
    """Lock the buyers' accounts (creating missing ones, unless an earlier read did; with
    `skip_locked`, only those no other transaction holds), then hold the merchants' lines locks
    and read their settlement cursors: one round trip, in the cross-app lock order."""
    member_ids = sorted({p.buyer_id for p in new if p.buyer_id is not None})
    accounts = (
        account_lock_statements(member_ids, create=create, skip_locked=skip_locked)
        if member_ids
        else []
    )
    merchant_ids = sorted({p.merchant.pk for p in new})
    rows = run_statements([*accounts, *cursor_statements(merchant_ids)])
    locked = LockedAccounts(tuple(rows[len(accounts) - 1])) if member_ids else LockedAccounts(())
    return locked, dict(rows[-1])


def _plan_split(new: list[_Planned]) -> PlannedSplit:
    return plan_sales_split(
        sales=[
            SaleToSplit(sale=p.row, payments=p.sale.payments, items=p.sale.items)
            for p in new
            if p.row is not None
        ]
    )


def _clear_points_payments(
    new: list[_Planned],
    results: list[SaleResult | DomainError | None],
) -> list[_Planned]:
    """Redeem and clear the points payments of the new sales (`clearing.clear_points_payment`),
    after the sale-key locks and before the awards; the sales still to write are returned.

    The batch's member accounts are locked first, in key order (as `award_sales` locks them),
    and the redemptions run in member-key order, a member's sales in batch order. A sale that
    clearing refuses (no member, points not whole, not enough points) is answered with that
    error; its redemption ran in a savepoint, so nothing of it is left.
    """
    paying = [p for p in new if p.sale.points_paid != 0]
    if not paying:
        return new
    lock_award_accounts(member_ids=[str(p.buyer.pk) for p in new if p.buyer is not None])
    refused: set[int] = set()
    for p in sorted(paying, key=lambda p: (str(p.buyer.pk) if p.buyer else "", p.index)):
        assert p.row is not None  # noqa: S101 - set by the caller
        try:
            clear_points_payment(
                member=p.buyer, merchant=p.merchant, amount=p.sale.points_paid,
                sale_id=p.row.pk,
                idempotency_key=f"points-payment:{p.merchant.pk}:{p.sale.external_id}",
                occurred_at=p.row.occurred_at,
            )  # fmt: skip
        except DomainError as exc:
            results[p.index] = exc
            p.row = None  # a later sale of the batch with its external id is refused the same way
            refused.add(p.index)
    return [p for p in new if p.index not in refused]


def _replay(done: Sale | None, done_hash: str, request_hash: str, external_id: str) -> SaleResult:
    if done_hash != request_hash or done is None:
        raise IdempotencyConflictError(
            "this external_id was already used for a different sale", external_id=external_id
        )
    return SaleResult(sale=done, created=False)


def _resolve_buyer(
    request: SaleRequest, *, batch: bool, by_number: dict[str, Member]
) -> Member | None:
    """The active member of a sale (`by_number`: the batch's members by number, read at once).
    In a batch, a lookup that writes (a consumed code, a member joining at the till) runs in a
    savepoint, so a sale it refuses leaves nothing behind."""
    if request.member_ref is not None and request.member_ref.chosen()[0] == MemberRefKind.MEMBER_NO:
        found = by_number.get(request.member_ref.chosen()[1].upper())
        buyer = surviving_member(found) if found is not None else None
        if buyer is None:
            raise MemberNotFoundError("no member matches", by=str(MemberRefKind.MEMBER_NO))
        return buyer
    writes = request.member_ref is not None and request.member_ref.chosen()[0] in (
        MemberRefKind.CODE,
        MemberRefKind.PHONE,
    )
    if batch and writes:
        with transaction.atomic():
            buyer = _buyer(
                member_ref=request.member_ref, member=request.member,
                join_by_phone=request.join_by_phone,
            )  # fmt: skip
    else:
        buyer = _buyer(
            member_ref=request.member_ref, member=request.member,
            join_by_phone=request.join_by_phone,
        )  # fmt: skip
    if buyer is not None and buyer.status != MemberStatus.ACTIVE:
        raise MemberNotActiveError("member is not active", status=buyer.status)
    return buyer


_SALE_COLUMNS = (
    "id", "merchant_id", "member_id", "external_id", "channel", "occurred_at", "total",
    "eligible_amount", "points_earned", "growth_earned", "points_balance", "tier_code",
    "refunded_total", "points_reversed", "growth_reversed", "status", "member_ref_kind",
    "request_hash", "actor", "created_at",
)  # fmt: skip
_PAYMENT_COLUMNS = ("sale_id", "position", "method", "amount", "trade_no")
_ITEM_COLUMNS = ("sale_id", "position", "sku", "name", "category", "quantity", "amount")


_MERCHANT = Sale._meta.get_field("merchant")
_MEMBER = Sale._meta.get_field("member")
_RECORDED = SaleStatus.RECORDED
_NO_MONEY = Decimal(0)
# Django takes a row's values positionally in field order; the type checker's model plugin does
# not follow that call.
_POSITIONAL_SALE: Callable[..., Sale] = Sale


def _new_row(p: _Planned, now: dt.datetime) -> None:
    """Give a new sale its row (not saved: `write_together` writes it), and its ids as text.

    Built positionally, in `_SALE_COLUMNS` order (the model's own, checked by the tests): about
    half the cost of Django's keyword path, which sets every relation through its descriptor.
    The merchant and buyer are cached on the row as those descriptors would."""
    buyer = p.buyer
    values: tuple[Any, ...] = (
        uuid.uuid4(), p.merchant.pk, buyer.pk if buyer is not None else None, p.sale.external_id,
        p.request.channel, p.sale.occurred_at, p.sale.total, _NO_MONEY, 0, 0, None, "",
        _NO_MONEY, 0, 0, _RECORDED, p.member_key[0], p.request_hash, p.request.actor, now,
    )  # fmt: skip
    row = _POSITIONAL_SALE(*values)
    _MERCHANT.set_cached_value(row, p.merchant)
    _MEMBER.set_cached_value(row, buyer)
    p.row = row
    p.sale_id = str(row.pk)
    p.merchant_id = _id_text(p.merchant.pk)
    p.buyer_id = str(buyer.pk) if buyer is not None else None


@functools.lru_cache(maxsize=1024)
def _id_text(value: uuid.UUID) -> str:
    # A merchant's id, once for all its sales rather than once per sale.
    return str(value)


def _sale_draft(new: list[_Planned], now: dt.datetime) -> Draft:
    """The new sales' rows, as a draft for `write_together` whose rows can be left out by
    member (per-sale rows of other apps, such as settlement lines, go in the same statement)."""
    recorded = str(SaleStatus.RECORDED)
    at = now.isoformat()  # once, not once per row
    sales: list[tuple[Any, ...]] = []
    for p in new:
        row = p.row
        assert row is not None  # noqa: S101 - set by the caller
        sales.append(
            (p.sale_id, row.merchant_id, row.member_id, row.external_id, row.channel,
             row.occurred_at, row.total, row.eligible_amount, row.points_earned,
             row.growth_earned, row.points_balance, row.tier_code, 0, 0, 0, recorded,
             row.member_ref_kind, row.request_hash, row.actor, at)
        )  # fmt: skip
    return insert_draft(Sale._meta.db_table, _SALE_COLUMNS, sales, key="member_id")


def _line_fragments(new: list[_Planned]) -> list[Statement]:
    """The payments and items of the new sales: what the till sent, whatever the awards."""
    payments: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    for p in new:
        assert p.row is not None  # noqa: S101 - set by the caller
        sale_id = p.sale_id
        payments.extend(
            (sale_id, position, pay.method, pay.amount, pay.trade_no)
            for position, pay in enumerate(p.sale.payments)
        )
        items.extend(
            (sale_id, position, item.sku, item.name, item.category, item.quantity, item.amount)
            for position, item in enumerate(p.sale.items)
        )
    rows = [insert_rows(SalePayment._meta.db_table, _PAYMENT_COLUMNS, payments)]
    if items:
        rows.append(insert_rows(SaleItem._meta.db_table, _ITEM_COLUMNS, items))
    return rows


def refund_sale(
    *,
    merchant: Merchant,
    external_id: str,
    refund_id: str,
    amount: Decimal | str,
    actor: str = "",
) -> RefundResult:
    """Refund part or all of a merchant's sale, once per refund id, taking back its points and
    growth in proportion (all refunds together take back exactly floor(earned × refunded / total),
    never more than the sale earned, and never more than the member has left).

    Raises SaleNotFoundError, SaleInvalidError, InvalidAmountError, RefundExceedsSaleError,
    IdempotencyConflictError.
    """
    clean_external_id(refund_id, field="refund_id")
    refunding = parse_money(amount, field="amount", positive=True)
    with transaction.atomic():
        sale = locks.sale_for_update(merchant=merchant, external_id=external_id)
        done = Refund.objects.filter(sale=sale, refund_id=refund_id).first()
        if done is not None:
            if done.amount != refunding:
                raise IdempotencyConflictError(
                    "this refund_id was already used with another amount",
                    refund_id=refund_id,
                    amount=str(done.amount),
                )
            return RefundResult(refund=done, sale=sale, created=False)
        if refunding > sale.refundable:
            raise RefundExceedsSaleError(
                "the refund is larger than what is left of the sale",
                refundable=str(sale.refundable),
                requested=str(refunding),
            )
        points = proportional_share(sale.points_earned, sale.refunded_total, refunding, sale.total)
        growth = proportional_share(sale.growth_earned, sale.refunded_total, refunding, sale.total)
        holder = surviving_member(sale.member) if sale.member is not None else None
        # Give back the refunded share of a points payment and reverse its clearing lines.
        clear_points_refund(
            member=holder, sale_id=sale.pk, sale_total=sale.total,
            refunded_before=sale.refunded_total, refunding=refunding, refund_id=refund_id,
            idempotency_key=f"points-refund:{sale.pk}:{refund_id}", occurred_at=timezone.now(),
        )  # fmt: skip
        refund = Refund(
            sale=sale, refund_id=refund_id, amount=refunding, points_requested=points, actor=actor
        )
        if holder is not None:
            reversal = reverse_sale_award(
                member=holder,
                sale_id=str(sale.pk),
                refund_id=refund_id,
                points=points,
                growth=growth,
            )
            refund.points_reversed = reversal.points_reversed
            refund.growth_reversed = reversal.growth_reversed
            refund.points_balance = reversal.balance
        refund.save(force_insert=True)
        write_refund_split(refund=refund, sale=sale)
        sale.refunded_total += refunding
        sale.points_reversed += refund.points_reversed
        sale.growth_reversed += refund.growth_reversed
        sale.status = (
            SaleStatus.REFUNDED
            if sale.refunded_total == sale.total
            else SaleStatus.PARTIALLY_REFUNDED
        )
        sale.save(update_fields=["refunded_total", "points_reversed", "growth_reversed", "status"])
        events.publish(
            events.SaleRefunded(
                sale_id=str(sale.pk),
                merchant_id=str(merchant.pk),
                member_id=str(sale.member_id) if sale.member_id else None,
                external_id=sale.external_id,
                refund_id=refund_id,
                amount=str(refunding),
                refunded_total=str(sale.refunded_total),
                points_reversed=refund.points_reversed,
                growth_reversed=refund.growth_reversed,
            )
        )
    return RefundResult(refund=refund, sale=sale, created=True)


def local_noon(day: dt.date, *, now: dt.datetime | None = None) -> dt.datetime:
    """Midday of a local date, or now if that is still ahead: the time given to sales known only
    by their day (receipts), never in the future (a receipt of today approved before noon)."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_default_timezone())
    return min(noon, now or timezone.now())
