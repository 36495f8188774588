"""Sales objects for the isolation suites: a sale (with a refundable total) and a pending
receipt, made through the real services in the current schema, and the rows to watch."""

from django.utils import timezone

from apps.sales.models import Receipt, Refund, Sale
from apps.sales.services import PaymentLine, record_sale, submit_receipt

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def sale_and_receipt(merchant, member, external_id="ISO-SALE-1"):
    sale = record_sale(
        merchant=merchant,
        external_id=external_id,
        occurred_at=timezone.now(),
        total="50.00",
        payments=[PaymentLine("cash", "50.00")],
        member=member,
    ).sale
    receipt = submit_receipt(
        member=member,
        merchant=merchant,
        receipt_no=f"{external_id}-R",
        amount="20.00",
        occurred_on=timezone.localdate(),
        photo=JPEG,
    )
    return sale, receipt


def sales_counts():
    """Rows a sales endpoint could write (a refund also updates its sale's refunded total)."""
    refunded = sum(Sale.objects.values_list("refunded_total", flat=True))
    return Sale.objects.count(), Refund.objects.count(), Receipt.objects.count(), refunded
