"""Receipt points (小票积分): a member uploads a receipt photo, staff approve or reject it, and an
approval records the sale through `record_sale` exactly once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.members.choices import MemberStatus
from apps.members.errors import MemberNotActiveError
from apps.members.models import Member
from apps.merchants.models import Merchant
from apps.sales import locks, storage
from apps.sales.choices import Channel, PaymentMethod, ReceiptStatus
from apps.sales.errors import (
    ReceiptDecidedError,
    ReceiptDuplicateError,
    ReceiptInvalidError,
    SaleInvalidError,
)
from apps.sales.models import Receipt, Sale
from apps.sales.services.sales import (
    PaymentLine,
    clean_external_id,
    local_noon,
    parse_money,
    record_sale,
)

# How old a receipt may be when it is uploaded (the mall's usual rule is a few days; a month is
# the most any mall we know allows).
RECEIPT_MAX_AGE_DAYS = 30
MAX_REASON_LENGTH = 200


def _duplicate(merchant: Merchant, receipt_no: str) -> bool:
    return (
        Receipt.objects.filter(merchant=merchant, receipt_no=receipt_no)
        .exclude(status=ReceiptStatus.REJECTED)
        .exists()
        or Sale.objects.filter(merchant=merchant, external_id=receipt_no).exists()
    )


def submit_receipt(
    *,
    member: Member,
    merchant: Merchant,
    receipt_no: str,
    amount: Decimal | str,
    occurred_on: dt.date,
    photo: bytes,
) -> Receipt:
    """Queue a receipt for review, with its photo in the tenant's private folder.

    Raises ReceiptInvalidError, ReceiptPhotoInvalidError, ReceiptDuplicateError,
    InvalidAmountError, MemberNotActiveError.
    """
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActiveError("member is not active", status=member.status)
    if not merchant.is_active:
        raise ReceiptInvalidError("the merchant no longer takes part", field="merchant_id")
    try:
        clean_external_id(receipt_no, field="receipt_no")
    except SaleInvalidError as exc:
        raise ReceiptInvalidError(exc.message, **exc.extra) from exc
    value = parse_money(amount, field="amount", positive=True)
    today = timezone.localdate()
    if not today - dt.timedelta(days=RECEIPT_MAX_AGE_DAYS) <= occurred_on <= today:
        raise ReceiptInvalidError(
            "the receipt date must be within the last days",
            field="occurred_on",
            max_age_days=RECEIPT_MAX_AGE_DAYS,
        )
    content_type, extension = storage.sniff(photo)
    if _duplicate(merchant, receipt_no):
        raise ReceiptDuplicateError("this receipt was already submitted", receipt_no=receipt_no)
    relative = storage.save_photo(photo, extension)
    try:
        with transaction.atomic():
            return Receipt.objects.create(
                member=member,
                merchant=merchant,
                receipt_no=receipt_no,
                amount=value,
                occurred_on=occurred_on,
                photo_path=relative,
                photo_content_type=content_type,
            )
    except IntegrityError as exc:
        # Uploaded twice at once: the partial unique constraint lets one through.
        storage.delete_photo(relative)
        raise ReceiptDuplicateError(
            "this receipt was already submitted", receipt_no=receipt_no
        ) from exc


@transaction.atomic
def approve_receipt(
    *,
    receipt_id: str,
    actor: str,
    amount: Decimal | str | None = None,
    payment_method: str = PaymentMethod.CASH,
) -> Receipt:
    """Record the receipt's sale for its member (once) and mark it approved. The reviewer may
    correct the amount read from the photo and say how it was paid.

    Raises ReceiptNotFoundError, ReceiptDecidedError, ReceiptDuplicateError, and what
    `record_sale` raises.
    """
    receipt = locks.receipt_for_update(receipt_id=receipt_id)
    if receipt.status != ReceiptStatus.PENDING:
        raise ReceiptDecidedError("this receipt was already reviewed", status=receipt.status)
    value = receipt.amount if amount is None else parse_money(amount, field="amount", positive=True)
    if Sale.objects.filter(merchant=receipt.merchant, external_id=receipt.receipt_no).exists():
        raise ReceiptDuplicateError(
            "a sale with this receipt number is already recorded", receipt_no=receipt.receipt_no
        )
    result = record_sale(
        merchant=receipt.merchant,
        external_id=receipt.receipt_no,
        occurred_at=local_noon(receipt.occurred_on),
        total=value,
        payments=[PaymentLine(method=payment_method, amount=value)],
        member=receipt.member,
        channel=Channel.RECEIPT,
        actor=actor,
    )
    receipt.status = ReceiptStatus.APPROVED
    receipt.amount = value
    receipt.sale = result.sale
    receipt.reviewed_by = actor
    receipt.reviewed_at = timezone.now()
    receipt.save(update_fields=["status", "amount", "sale", "reviewed_by", "reviewed_at"])
    return receipt


@transaction.atomic
def reject_receipt(*, receipt_id: str, actor: str, reason: str) -> Receipt:
    """Turn a receipt down with a reason the member sees. Raises ReceiptNotFoundError,
    ReceiptDecidedError, ReceiptInvalidError."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise ReceiptInvalidError(
            "give a reason of at most 200 characters", field="reason", max_length=MAX_REASON_LENGTH
        )
    receipt = locks.receipt_for_update(receipt_id=receipt_id)
    if receipt.status != ReceiptStatus.PENDING:
        raise ReceiptDecidedError("this receipt was already reviewed", status=receipt.status)
    receipt.status = ReceiptStatus.REJECTED
    receipt.reason = reason
    receipt.reviewed_by = actor
    receipt.reviewed_at = timezone.now()
    receipt.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
    return receipt
