"""Reads for the tenant's pages: counts of the current schema, and what the member app, the
console's member and program pages and the cashier screen show (composed from the members,
loyalty and sales selectors; nothing here writes)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from apps.accounts.selectors import list_staff
from apps.loyalty.choices import AdjustmentStatus, TierEvaluation
from apps.loyalty.models import (
    AdjustmentRequest,
    EarningRule,
    GrowthEntry,
    JournalEntry,
    Tier,
    TierChange,
)
from apps.loyalty.selectors import (
    PointsSummary,
    list_adjustments,
    list_entries,
    list_growth_entries,
    list_rules,
    list_tier_changes,
    points_summary,
    program_settings,
    window_growth,
)
from apps.loyalty.services.earning import checked_in
from apps.loyalty.services.growth import window_start
from apps.members.errors import PhoneInvalidError
from apps.members.identities import mask_phone, normalize_phone
from apps.members.models import Member, MemberConsent, MemberMerge
from apps.members.selectors import (
    IdentityView,
    current_consents,
    get_member,
    identity_views,
    list_consents,
    list_identities,
    list_merges,
    phone_of,
    primary_phone,
    search_members,
)
from apps.merchants.models import Merchant
from apps.merchants.selectors import list_api_keys, list_merchants
from apps.sales.models import Receipt, Sale
from apps.sales.selectors import list_receipts, list_sales

MEMBER_NO_RE = re.compile(r"^[Mm]\d{10}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class MallCounts:
    """How big a mall is: counts only, never rows (the provider reads these too)."""

    merchants: int
    mall_staff: int
    merchant_staff: int
    members: int


def mall_counts() -> MallCounts:
    """Active merchants, staff and members of the current tenant schema."""
    staff = (
        list_staff()
        .filter(is_active=True)
        .aggregate(
            mall=Count("pk", filter=Q(merchant__isnull=True)),
            merchant=Count("pk", filter=Q(merchant__isnull=False)),
        )
    )
    # Members have no count selector yet; `is_active` is "may log in and earn".
    members = Member.objects.filter(is_active=True).count()
    return MallCounts(
        merchants=list_merchants().filter(is_active=True).count(),
        mall_staff=staff["mall"],
        merchant_staff=staff["merchant"],
        members=members,
    )


@dataclass(frozen=True)
class MerchantToday:
    """What the merchant portal's home shows now: real counts, nothing invented."""

    active_keys: int
    staff: int
    last_pos_call: dt.datetime | None


def merchant_today(*, merchant: Merchant) -> MerchantToday:
    """The merchant's live POS keys, its active staff and when a POS last called in."""
    keys = list_api_keys(merchant=merchant)
    last_call = keys.aggregate(last=Max("last_used_at"))["last"]
    return MerchantToday(
        active_keys=keys.filter(revoked_at__isnull=True).count(),
        staff=list_staff(merchant_id=merchant.pk).filter(is_active=True).count(),
        last_pos_call=last_call,
    )


# --- the member app -------------------------------------------------------------------------


@dataclass(frozen=True)
class TierStanding:
    """Where a member stands: the tier, the way to the next one and what keeps this one."""

    tier: Tier | None
    next_tier: Tier | None
    growth: int
    growth_to_next: int | None
    progress_percent: int  # 0..100 of the way from this tier's threshold to the next one's
    window_growth: int  # growth in the evaluation window (what re-evaluation looks at)
    retention_growth: int  # what the window must hold to keep the tier (0: nothing to keep)
    calendar_year: bool  # the window is the calendar year (else the last 12 months)

    @property
    def keeps_tier(self) -> bool:
        return self.window_growth >= self.retention_growth

    @property
    def growth_to_keep(self) -> int:
        return max(self.retention_growth - self.window_growth, 0)


def tier_standing(
    *, member: Member, summary: PointsSummary, now: dt.datetime | None = None
) -> TierStanding:
    """The member's tier progress and retention notice, from the points summary."""
    tier, next_tier = summary.tier, summary.next_tier
    percent = 100
    if tier is not None and next_tier is not None:
        span = max(next_tier.growth_threshold - tier.growth_threshold, 1)
        percent = int(min(max(summary.growth - tier.growth_threshold, 0) * 100 // span, 100))
    return TierStanding(
        tier=tier,
        next_tier=next_tier,
        growth=summary.growth,
        growth_to_next=summary.growth_to_next_tier,
        progress_percent=percent,
        window_growth=window_growth(member=member, since=window_start(now or timezone.now())),
        retention_growth=tier.retention_growth if tier is not None else 0,
        calendar_year=program_settings().tier_evaluation == TierEvaluation.CALENDAR_YEAR,
    )


@dataclass(frozen=True)
class MemberHome:
    """What the member app's home shows."""

    member: Member
    summary: PointsSummary
    standing: TierStanding
    checked_in_today: bool
    recent_entries: list[JournalEntry]


def member_home(*, member: Member) -> MemberHome:
    """Points, tier progress, today's check-in and the latest points movements of a member."""
    summary = points_summary(member=member)
    return MemberHome(
        member=member,
        summary=summary,
        standing=tier_standing(member=member, summary=summary),
        checked_in_today=checked_in(member=member, day=timezone.localdate()),
        recent_entries=list(list_entries(member=member)[:5]),
    )


def member_profile(*, member: Member) -> tuple[str | None, dict[str, bool], list[MemberConsent]]:
    """The member's own phone (masked: the page may be on a shared screen), consents in force,
    and the consent records, newest first."""
    phone = primary_phone(member=member)
    return (
        mask_phone(phone) if phone else None,
        current_consents(member=member),
        list(list_consents(member=member)[:20]),
    )


# --- the console's member pages -------------------------------------------------------------


def find_members(*, query: str) -> QuerySet[Member]:
    """Members by one search box: a member number (M + 10 digits), a phone, or a card number;
    everyone (newest first) for an empty query. Raises PhoneInvalidError/IdentityInvalidError
    only for a malformed card (a phone-shaped query that is not a phone is tried as a card)."""
    text = "".join(query.split())
    if not text:
        return search_members()
    if MEMBER_NO_RE.match(text):
        return search_members(member_no=text)
    try:
        return search_members(phone=normalize_phone(text))
    except PhoneInvalidError:
        return search_members(card=text)


@dataclass(frozen=True)
class MemberRow:
    member: Member
    phone: str | None


def member_rows(members: Iterable[Member], *, clear: bool) -> list[MemberRow]:
    """Search results with the phone in clear or masked (identities prefetched)."""
    rows = []
    for member in members:
        phone = phone_of(list(member.identities.all()))
        rows.append(MemberRow(member, phone if clear or phone is None else mask_phone(phone)))
    return rows


@dataclass(frozen=True)
class MemberOverview:
    """The 360° view of one member, personal data in clear only for `members.pii`."""

    member: Member
    phone: str | None
    identities: list[IdentityView]
    consents: dict[str, bool]
    consent_records: list[MemberConsent]
    summary: PointsSummary
    standing: TierStanding
    tier_changes: list[TierChange]
    entries: QuerySet[JournalEntry]
    growth_entries: QuerySet[GrowthEntry]
    sales: QuerySet[Sale]
    receipts: list[Receipt]
    adjustments: list[AdjustmentRequest]
    merges: list[MemberMerge]
    personal_data_visible: bool


def member_overview(*, member_id: uuid.UUID | str, clear: bool) -> MemberOverview:
    """Profile, identities, consents, tier and its history, ledgers, sales at every merchant,
    receipts, adjustments and merges of one member. Raises MemberNotFoundError."""
    member = get_member(member_id=member_id)
    identities = list_identities(member=member)
    phone = phone_of(identities)
    summary = points_summary(member=member)
    return MemberOverview(
        member=member,
        phone=phone if clear or phone is None else mask_phone(phone),
        identities=identity_views(identities, clear=clear),
        consents=current_consents(member=member),
        consent_records=list(list_consents(member=member)[:50]),
        summary=summary,
        standing=tier_standing(member=member, summary=summary),
        tier_changes=list(list_tier_changes(member=member)),
        entries=list_entries(member=member),
        growth_entries=list_growth_entries(member=member),
        sales=list_sales(member_id=member.pk).select_related("merchant"),
        receipts=list(list_receipts(member=member)[:20]),
        adjustments=list(list_adjustments(member=member)[:20]),
        merges=list(list_merges(member=member).select_related("source", "target")),
        personal_data_visible=clear,
    )


def staff_names(actors: Iterable[str]) -> dict[str, str]:
    """Display names of staff by the actor strings the ledgers keep (`<uuid>` or `staff:<uuid>`)."""
    ids = {actor.removeprefix("staff:") for actor in actors if actor}
    valid = [value for value in ids if UUID_RE.match(value)]
    names = {
        str(pk): display or username
        for pk, display, username in list_staff()
        .filter(pk__in=valid)
        .values_list("pk", "display_name", "username")
    }
    return {actor: names.get(actor.removeprefix("staff:"), actor) for actor in actors if actor}


@dataclass(frozen=True)
class AdjustmentQueue:
    pending: list[AdjustmentRequest]
    decided: list[AdjustmentRequest]
    names: dict[str, str]
    threshold: int


def adjustment_queue(*, decided_limit: int = 20) -> AdjustmentQueue:
    """Adjustments waiting for a second operator, the latest decided ones, and who is who."""
    pending = list(list_adjustments(status=AdjustmentStatus.PENDING).order_by("created_at"))
    decided = list(
        AdjustmentRequest.objects.exclude(status=AdjustmentStatus.PENDING)
        .select_related("member")
        .order_by("-decided_at", "-created_at")[:decided_limit]
    )
    actors = [a.requested_by for a in pending + decided] + [a.decided_by for a in decided]
    return AdjustmentQueue(
        pending=pending,
        decided=decided,
        names=staff_names(actors),
        threshold=program_settings().adjustment_approval_threshold,
    )


@dataclass(frozen=True)
class RuleVersion:
    rule: EarningRule
    superseded_by: list[EarningRule]


def list_rule_versions() -> list[RuleVersion]:
    """Every earning rule, newest first, with the drafts or versions that replace it."""
    rules = list(list_rules())
    successors: dict[uuid.UUID, list[EarningRule]] = {}
    for rule in rules:
        if rule.supersedes_id is not None:
            successors.setdefault(rule.supersedes_id, []).append(rule)
    return [RuleVersion(rule, successors.get(rule.pk, [])) for rule in rules]


@dataclass(frozen=True)
class MerchantSalesToday:
    sales: list[Sale]
    count: int
    total: Decimal
    points: int


def merchant_sales_today(*, merchant: Merchant, limit: int = 50) -> MerchantSalesToday:
    """This merchant's sales since local midnight (never another merchant's), newest first."""
    since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    sales = list_sales(merchant=merchant, since=since)
    totals = sales.aggregate(count=Count("pk"), total=Sum("total"), points=Sum("points_earned"))
    return MerchantSalesToday(
        sales=list(sales.select_related("member").prefetch_related("payments")[:limit]),
        count=totals["count"] or 0,
        total=totals["total"] or Decimal("0.00"),
        points=totals["points"] or 0,
    )
