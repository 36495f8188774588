"""Loyalty endpoints: the operators' program editors and ledgers, and the member's points."""

import uuid

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.loyalty import selectors
from apps.loyalty.choices import Behaviour, RuleStatus
from apps.loyalty.models import (
    AdjustmentRequest,
    BehaviourRule,
    EarningRule,
    ProgramSettings,
    Tier,
    TierChange,
)
from apps.loyalty.schemas import (
    ActivityIn,
    ActivityOut,
    AdjustmentIn,
    AdjustmentOut,
    BehaviourRuleIn,
    BehaviourRuleOut,
    CheckInOut,
    EntryOut,
    GrowthEntryOut,
    PointsSummaryOut,
    ProgramSettingsIn,
    ProgramSettingsOut,
    RuleIn,
    RuleOut,
    RuleVersionIn,
    TierChangeOut,
    TierIn,
    TierOut,
)
from apps.loyalty.services import adjustments, earning, program
from apps.members.auth import MemberAuth, MemberPrincipal
from apps.members.selectors import get_member
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: loyalty"], auth=ConsoleAuth())
member_router = Router(tags=["member: points"], auth=MemberAuth())


def _staff(request: HttpRequest, permission: Permission) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return principal


def _member(request: HttpRequest) -> MemberPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MemberPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


# --- program ---------------------------------------------------------------------------------


@console_router.get("/loyalty/settings", response={200: ProgramSettingsOut, ERROR_CODES: ErrorOut})
def get_settings(request: HttpRequest) -> ProgramSettings:
    """The program's parameters."""
    _staff(request, Permission.VIEW_MEMBERS)
    return selectors.program_settings()


@console_router.patch(
    "/loyalty/settings", response={200: ProgramSettingsOut, ERROR_CODES: ErrorOut}
)
def update_settings(request: HttpRequest, payload: ProgramSettingsIn) -> ProgramSettings:
    """Change point value, validity, return window, growth rate, tier evaluation, thresholds."""
    _staff(request, Permission.MANAGE_PROGRAM)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    return program.update_program_settings(**changes)


@console_router.get("/loyalty/tiers", response={200: list[TierOut], ERROR_CODES: ErrorOut})
def list_tiers(request: HttpRequest) -> list[Tier]:
    """Tiers from lowest to highest, with their benefits."""
    _staff(request, Permission.VIEW_MEMBERS)
    return list(selectors.list_tiers())


@console_router.put("/loyalty/tiers/{code}", response={200: TierOut, ERROR_CODES: ErrorOut})
def save_tier(request: HttpRequest, code: str, payload: TierIn) -> Tier:
    """Create or change a tier (thresholds must rise with rank)."""
    _staff(request, Permission.MANAGE_PROGRAM)
    return program.save_tier(code=code, **payload.model_dump())


@console_router.get("/loyalty/rules", response={200: list[RuleOut], ERROR_CODES: ErrorOut})
def list_rules(request: HttpRequest, status: RuleStatus | None = None) -> list[EarningRule]:
    """Earning rules, newest first (every version is kept)."""
    _staff(request, Permission.VIEW_MEMBERS)
    return list(selectors.list_rules(status=status))


@console_router.post("/loyalty/rules", response={201: RuleOut, ERROR_CODES: ErrorOut})
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[EarningRule]:
    """A new rule as a draft: preview and backtest it, then publish it."""
    principal = _staff(request, Permission.MANAGE_PROGRAM)
    fields = payload.model_dump()
    fields["dates"] = [day.isoformat() for day in payload.dates]
    return Status(201, program.create_rule_draft(actor=str(principal.staff.pk), **fields))


@console_router.post(
    "/loyalty/rules/{rule_id}/versions", response={201: RuleOut, ERROR_CODES: ErrorOut}
)
def new_rule_version(
    request: HttpRequest, rule_id: uuid.UUID, payload: RuleVersionIn
) -> Status[EarningRule]:
    """A draft that will replace a published rule from a date (past sales keep the old one)."""
    principal = _staff(request, Permission.MANAGE_PROGRAM)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    draft = program.create_rule_draft(
        actor=str(principal.staff.pk), supersedes=selectors.get_rule(rule_id=rule_id), **changes
    )
    return Status(201, draft)


@console_router.post(
    "/loyalty/rules/{rule_id}/publish", response={200: RuleOut, ERROR_CODES: ErrorOut}
)
def publish_rule(request: HttpRequest, rule_id: uuid.UUID) -> EarningRule:
    """Put a draft in force from its effective date."""
    _staff(request, Permission.MANAGE_PROGRAM)
    return program.publish_rule(rule=selectors.get_rule(rule_id=rule_id))


@console_router.get(
    "/loyalty/behaviours", response={200: list[BehaviourRuleOut], ERROR_CODES: ErrorOut}
)
def list_behaviours(request: HttpRequest) -> list[BehaviourRule]:
    """Behaviour points: sign-up, check-in, referral, activity..."""
    _staff(request, Permission.VIEW_MEMBERS)
    return list(selectors.list_behaviour_rules())


@console_router.put(
    "/loyalty/behaviours/{behaviour}", response={200: BehaviourRuleOut, ERROR_CODES: ErrorOut}
)
def save_behaviour(
    request: HttpRequest, behaviour: Behaviour, payload: BehaviourRuleIn
) -> BehaviourRule:
    """Set the points of one behaviour."""
    _staff(request, Permission.MANAGE_PROGRAM)
    return program.save_behaviour_rule(behaviour=behaviour, **payload.model_dump())


# --- a member's ledgers, seen by operators -----------------------------------------------------


@console_router.get(
    "/loyalty/members/{member_id}/points", response={200: PointsSummaryOut, ERROR_CODES: ErrorOut}
)
def member_points(request: HttpRequest, member_id: uuid.UUID) -> selectors.PointsSummary:
    """A member's balance, pending and expiring points, growth and tier progress."""
    _staff(request, Permission.VIEW_MEMBERS)
    return selectors.points_summary(member=get_member(member_id=member_id))


@console_router.get(
    "/loyalty/members/{member_id}/entries", response={200: list[EntryOut], ERROR_CODES: ErrorOut}
)
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def member_entries(request: HttpRequest, member_id: uuid.UUID) -> object:
    """A member's points ledger, newest first."""
    _staff(request, Permission.VIEW_MEMBERS)
    return selectors.list_entries(member=get_member(member_id=member_id))


@console_router.get(
    "/loyalty/members/{member_id}/growth",
    response={200: list[GrowthEntryOut], ERROR_CODES: ErrorOut},
)
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def member_growth(request: HttpRequest, member_id: uuid.UUID) -> object:
    """A member's growth ledger, newest first."""
    _staff(request, Permission.VIEW_MEMBERS)
    return selectors.list_growth_entries(member=get_member(member_id=member_id))


@console_router.get(
    "/loyalty/members/{member_id}/tier-changes",
    response={200: list[TierChangeOut], ERROR_CODES: ErrorOut},
)
def member_tier_changes(request: HttpRequest, member_id: uuid.UUID) -> list[TierChange]:
    """Every tier change of a member, with its reason."""
    _staff(request, Permission.VIEW_MEMBERS)
    member = get_member(member_id=member_id)
    return list(selectors.list_tier_changes(member=member))


# --- adjustments -------------------------------------------------------------------------------


@console_router.post("/loyalty/adjustments", response={201: AdjustmentOut, ERROR_CODES: ErrorOut})
def create_adjustment(request: HttpRequest, payload: AdjustmentIn) -> Status[AdjustmentRequest]:
    """Adjust a member's points with a reason; large ones wait for a second operator."""
    principal = _staff(request, Permission.ADJUST_POINTS)
    made = adjustments.request_adjustment(
        member=get_member(member_id=payload.member_id),
        points=payload.points,
        reason=payload.reason,
        actor=str(principal.staff.pk),
    )
    return Status(201, made)


@console_router.get(
    "/loyalty/adjustments", response={200: list[AdjustmentOut], ERROR_CODES: ErrorOut}
)
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_adjustments(request: HttpRequest, status: str | None = None) -> object:
    """Adjustments, newest first (filter `status=pending` for the approval queue)."""
    _staff(request, Permission.ADJUST_POINTS)
    return selectors.list_adjustments(status=status)


@console_router.post(
    "/loyalty/adjustments/{adjustment_id}/approve",
    response={200: AdjustmentOut, ERROR_CODES: ErrorOut},
)
def approve_adjustment(request: HttpRequest, adjustment_id: uuid.UUID) -> AdjustmentRequest:
    """Apply a pending adjustment (not by the operator who asked for it)."""
    principal = _staff(request, Permission.APPROVE_ADJUSTMENTS)
    return adjustments.decide_adjustment(
        request_id=str(adjustment_id), approve=True, actor=str(principal.staff.pk)
    )


@console_router.post(
    "/loyalty/adjustments/{adjustment_id}/reject",
    response={200: AdjustmentOut, ERROR_CODES: ErrorOut},
)
def reject_adjustment(request: HttpRequest, adjustment_id: uuid.UUID) -> AdjustmentRequest:
    """Refuse a pending adjustment."""
    principal = _staff(request, Permission.APPROVE_ADJUSTMENTS)
    return adjustments.decide_adjustment(
        request_id=str(adjustment_id), approve=False, actor=str(principal.staff.pk)
    )


# --- member app ----------------------------------------------------------------------------------


@member_router.get("/points", response={200: PointsSummaryOut, ERROR_CODES: ErrorOut})
def my_points(request: HttpRequest) -> selectors.PointsSummary:
    """My balance, what I can spend, pending and expiring points, growth and tier progress."""
    return selectors.points_summary(member=_member(request).member)


@member_router.get("/points/entries", response={200: list[EntryOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def my_entries(request: HttpRequest) -> object:
    """My points history, newest first."""
    return selectors.list_entries(member=_member(request).member)


@member_router.post("/check-ins", response={200: CheckInOut, ERROR_CODES: ErrorOut})
def check_in(request: HttpRequest) -> CheckInOut:
    """Daily check-in: points once a day."""
    member = _member(request).member
    award = earning.check_in(member=member)
    return CheckInOut(
        awarded=award.awarded, balance=selectors.points_summary(member=member).balance
    )


@member_router.post("/activities", response={200: ActivityOut, ERROR_CODES: ErrorOut})
def upload_activity(request: HttpRequest, payload: ActivityIn) -> ActivityOut:
    """The day's steps or calories so far, from the member app: points within the daily cap."""
    member = _member(request).member
    entry = earning.award_activity(
        member=member, behaviour=payload.kind, day_total=payload.quantity, day=payload.day
    )
    summary = selectors.points_summary(member=member)
    return ActivityOut(awarded=entry.points if entry else 0, balance=summary.balance)
