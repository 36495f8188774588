"""Errors of settlement statements, with stable codes (mapped to HTTP by atrium.api_errors)."""

from atrium.errors import ConflictError, InvalidInputError, NotFoundError


class StatementNotFoundError(NotFoundError):
    code = "settlement.statement_not_found"


class StatementStateError(ConflictError):
    """The statement is not in a state that allows this step (e.g. confirming a draft)."""

    code = "settlement.statement_state"


class PeriodNotClosableError(ConflictError):
    """The period is already closed, not over yet, or does not follow the last closed one."""

    code = "settlement.period_not_closable"


class NoContractError(ConflictError):
    code = "settlement.no_contract"


class PayoutRouteError(ConflictError):
    """The payout asked for does not match the statement's route (rail or bank file)."""

    code = "settlement.payout_route"


class PayoutFailedError(ConflictError):
    code = "settlement.payout_failed"


class DisputeReasonRequiredError(InvalidInputError):
    code = "settlement.dispute_reason_required"
