"""A merchant's issued statement, for the isolation suites."""

import datetime as dt

from apps.settlement.models import Statement
from apps.settlement.services import statements as svc
from tests.apps.settlement.statement_helpers import at, concession_sale, contract


def issued_statement(merchant) -> Statement:
    contract(merchant, effective_from=dt.date(2026, 10, 1))
    concession_sale(merchant, "88.00", "0.20", at(dt.date(2026, 10, 9)))
    [statement] = svc.close_due_periods(
        today=dt.date(2026, 11, 1), actor="world", merchants=[merchant]
    )
    [issued] = svc.issue_statements(statement_ids=[statement.pk], actor="world")
    return issued


def statement_states() -> tuple:
    """Every statement's state: nothing may change in another merchant's or mall's books."""
    return tuple(Statement.objects.order_by("pk").values_list("pk", "status", "payout_reference"))
