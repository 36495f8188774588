from atrium.errors import DomainError, NotFoundError


class BillInvalidError(DomainError):
    code, http_status = "reconciliation.bill_invalid", 400


class RunNotFoundError(NotFoundError):
    code = "reconciliation.run_not_found"
