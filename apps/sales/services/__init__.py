"""Write use cases of the sales app: `sales` (record and refund, the one path of every till),
`receipts` (receipt points), `imports` (CSV) and `preview` (rule preview and backtest)."""

from apps.sales.services.group_commit import record_sale_grouped
from apps.sales.services.imports import (
    ImportReport,
    import_sale_row,
    import_sales,
    read_sales_file,
    row_error,
)
from apps.sales.services.preview import (
    BacktestResult,
    backtest_rules,
    draft_rule,
    find_rules,
    preview_sale,
)
from apps.sales.services.receipts import approve_receipt, reject_receipt, submit_receipt
from apps.sales.services.sales import (
    ItemLine,
    MemberRef,
    PaymentLine,
    RefundResult,
    SaleRequest,
    SaleResult,
    clean_sale,
    parse_money,
    record_merchants_sales,
    record_sale,
    record_sales,
    refund_sale,
)
from atrium.csv_import import ImportRowError

__all__ = [
    "BacktestResult",
    "ImportReport",
    "ImportRowError",
    "ItemLine",
    "MemberRef",
    "PaymentLine",
    "RefundResult",
    "SaleRequest",
    "SaleResult",
    "approve_receipt",
    "backtest_rules",
    "clean_sale",
    "draft_rule",
    "find_rules",
    "import_sale_row",
    "import_sales",
    "parse_money",
    "preview_sale",
    "read_sales_file",
    "record_merchants_sales",
    "record_sale",
    "record_sale_grouped",
    "record_sales",
    "refund_sale",
    "reject_receipt",
    "row_error",
    "submit_receipt",
]
