"""Manual adjustments: small ones apply at once; large ones need a second operator."""

import pytest

from apps.loyalty.errors import (
    AdjustmentStateError,
    InvalidPointsError,
    SecondApproverRequiredError,
)
from apps.loyalty.models import AdjustmentRequest, PointsAccount
from apps.loyalty.services.adjustments import decide_adjustment, request_adjustment


def _balance(member):
    return PointsAccount.objects.get(member=member).balance


def test_a_small_adjustment_applies_at_once_and_is_audited(member):
    made = request_adjustment(member=member, points=200, reason="goodwill", actor="op-1")
    assert (made.status, made.decided_by, made.entry.points, _balance(member)) == (
        "applied",
        "op-1",
        200,
        200,
    )


def test_a_large_adjustment_waits_for_a_second_operator(member):
    made = request_adjustment(member=member, points=5000, reason="lost receipt", actor="op-1")
    assert (made.status, PointsAccount.objects.filter(member=member).exists()) == ("pending", False)
    with pytest.raises(SecondApproverRequiredError):
        decide_adjustment(request_id=str(made.pk), approve=True, actor="op-1")
    approved = decide_adjustment(request_id=str(made.pk), approve=True, actor="op-2")
    assert (approved.status, approved.decided_by, _balance(member)) == ("applied", "op-2", 5000)
    with pytest.raises(AdjustmentStateError):
        decide_adjustment(request_id=str(made.pk), approve=False, actor="op-3")


def test_a_rejected_adjustment_changes_nothing(member):
    made = request_adjustment(member=member, points=-5000, reason="fraud", actor="op-1")
    decide_adjustment(request_id=str(made.pk), approve=False, actor="op-2")
    assert AdjustmentRequest.objects.get(pk=made.pk).status == "rejected"
    assert not PointsAccount.objects.filter(member=member, balance__gt=0).exists()


def test_zero_points_or_no_reason_is_refused(member):
    with pytest.raises(InvalidPointsError):
        request_adjustment(member=member, points=0, reason="x", actor="op")
    with pytest.raises(InvalidPointsError):
        request_adjustment(member=member, points=5, reason="  ", actor="op")
