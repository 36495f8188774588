from atrium.errors import DomainError


class MemberRequiredError(DomainError):
    code, http_status = "clearing.member_required", 400


class PointsNotWholeError(DomainError):
    code, http_status = "clearing.points_not_whole", 400


class PolicyInvalidError(DomainError):
    code, http_status = "clearing.policy_invalid", 400


class DateRangeInvalidError(DomainError):
    code, http_status = "clearing.date_range_invalid", 400
