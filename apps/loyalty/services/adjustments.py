"""Manual point adjustments by operators: small ones apply at once, large ones need a second
operator's approval; every request and decision is kept (audit)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.loyalty.choices import AdjustmentStatus
from apps.loyalty.errors import (
    AdjustmentNotFoundError,
    AdjustmentStateError,
    InvalidPointsError,
    SecondApproverRequiredError,
)
from apps.loyalty.models import AdjustmentRequest
from apps.loyalty.selectors import program_settings
from apps.loyalty.services.ledger import adjust_points
from apps.members.models import Member


@transaction.atomic
def request_adjustment(
    *, member: Member, points: int, reason: str, actor: str
) -> AdjustmentRequest:
    """Record an adjustment; apply it now when its size is within the approval threshold.

    Raises InvalidPointsError, InsufficientPointsError.
    """
    if points == 0 or not reason.strip():
        raise InvalidPointsError("an adjustment needs non-zero points and a reason", points=points)
    request = AdjustmentRequest.objects.create(
        member=member, points=points, reason=reason.strip(), requested_by=actor
    )
    if abs(points) <= program_settings().adjustment_approval_threshold:
        _apply(request, decided_by=actor)
    return request


def _apply(request: AdjustmentRequest, *, decided_by: str) -> None:
    request.entry = adjust_points(
        member=request.member,
        points=request.points,
        reason=request.reason,
        idempotency_key=f"adjustment:{request.pk}",
        actor=request.requested_by,
    )
    request.status = AdjustmentStatus.APPLIED
    request.decided_by = decided_by
    request.decided_at = timezone.now()
    request.save(update_fields=["entry", "status", "decided_by", "decided_at"])


@transaction.atomic
def decide_adjustment(*, request_id: str, approve: bool, actor: str) -> AdjustmentRequest:
    """Approve (apply) or reject a pending adjustment; the requester cannot approve their own.

    Raises AdjustmentNotFoundError, AdjustmentStateError, SecondApproverRequiredError,
    InsufficientPointsError.
    """
    request = (
        AdjustmentRequest.objects.select_for_update()
        .select_related("member")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise AdjustmentNotFoundError("adjustment not found")
    if request.status != AdjustmentStatus.PENDING:
        raise AdjustmentStateError("adjustment already decided", status=request.status)
    if request.requested_by == actor:
        raise SecondApproverRequiredError("a second operator must decide this adjustment")
    if approve:
        _apply(request, decided_by=actor)
    else:
        request.status = AdjustmentStatus.REJECTED
        request.decided_by = actor
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_by", "decided_at"])
    return request
