from atrium.errors import ConflictError, DomainError, NotFoundError


class InvalidPointsError(DomainError):
    code, http_status = "loyalty.invalid_points", 400


class InsufficientPointsError(ConflictError):
    code = "loyalty.insufficient_points"


class LedgerKeyConflictError(ConflictError):
    code = "idempotency.conflict"


class AdjustmentNotFoundError(NotFoundError):
    code = "loyalty.adjustment_not_found"


class AdjustmentStateError(ConflictError):
    code = "loyalty.adjustment_decided"


class SecondApproverRequiredError(DomainError):
    code, http_status = "loyalty.second_approver_required", 403


class RuleNotFoundError(NotFoundError):
    code = "loyalty.rule_not_found"


class RuleInvalidError(DomainError):
    code, http_status = "loyalty.rule_invalid", 400


class TierInvalidError(DomainError):
    code, http_status = "loyalty.tier_invalid", 400


class MemberNotEligibleError(ConflictError):
    code = "loyalty.member_inactive"
