"""Errors of split rules and split lines (stable codes, mapped to HTTP by `atrium.api`)."""

from atrium.errors import ConflictError, InvalidInputError, NotFoundError


class SplitRuleNotFoundError(NotFoundError):
    code = "settlement.rule_not_found"


class SplitRuleInvalidError(InvalidInputError):
    code = "settlement.rule_invalid"


class SplitRulePublishedError(ConflictError):
    code = "settlement.rule_published"


class SplitRuleBackdatedError(ConflictError):
    code = "settlement.rule_backdated"


class SplitRuleDraftExistsError(ConflictError):
    code = "settlement.rule_draft_exists"


class SplitPreviewInvalidError(InvalidInputError):
    code = "settlement.preview_invalid"
