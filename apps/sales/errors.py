"""Errors of the sales app, each with a stable code (rendered by `atrium.api_errors`)."""

from atrium.errors import ConflictError, InvalidInputError, NotFoundError


class SaleInvalidError(InvalidInputError):
    """A sale field other than money is malformed (external id, time, method, sizes)."""

    code = "sales.invalid"


class InvalidAmountError(InvalidInputError):
    """Money that is not a non-negative decimal string with at most two places."""

    code = "sales.invalid_amount"


class TotalMismatchError(InvalidInputError):
    """The payments (or the items) do not add up to the total."""

    code = "sales.total_mismatch"


class MemberRefInvalidError(InvalidInputError):
    """The member was named by none or by more than one of code, phone and member number."""

    code = "sales.member_ref_invalid"


class SaleNotFoundError(NotFoundError):
    code = "sales.not_found"


class RefundExceedsSaleError(ConflictError):
    code = "sales.refund_exceeds_sale"


class ReceiptNotFoundError(NotFoundError):
    code = "sales.receipt_not_found"


class ReceiptInvalidError(InvalidInputError):
    code = "sales.receipt_invalid"


class ReceiptPhotoInvalidError(InvalidInputError):
    code = "sales.receipt_photo_invalid"


class ReceiptDuplicateError(ConflictError):
    code = "sales.receipt_duplicate"


class ReceiptDecidedError(ConflictError):
    code = "sales.receipt_decided"


class ImportInvalidError(InvalidInputError):
    code = "sales.import_invalid"
