"""Reconciliation endpoints of the console: upload a channel's daily bill, list the daily runs
and each run's breaks."""

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.reconciliation import selectors, services
from apps.reconciliation.choices import BillChannel
from apps.reconciliation.schemas import BreakOut, ImportOut, RunOut
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: reconciliation"], auth=ConsoleAuth())


def _staff(request: HttpRequest, permission: Permission) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return principal


@console_router.post(
    "/reconciliation/bills", response={frozenset({200, 201}): ImportOut, ERROR_CODES: ErrorOut}
)
def upload_bill(
    request: HttpRequest,
    channel: Form[BillChannel],
    bill_date: Form[dt.date],
    file: File[UploadedFile],
) -> Status[ImportOut]:
    """Import a channel's daily bill (Alipay 业务明细 CSV in GBK, or WeChat Pay's trade bill)
    and match it against the day's payments; the same file again changes nothing (200)."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    result = services.import_bill(
        channel=channel, bill_date=bill_date,
        content=file.read(services.MAX_BILL_BYTES + 1), actor=principal.scope_id,
    )  # fmt: skip
    return Status(201 if result.created else 200, ImportOut(created=result.created, run=result.run))  # type: ignore[arg-type]


@console_router.get("/reconciliation/runs", response={200: list[RunOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_runs(request: HttpRequest, channel: BillChannel | None = None) -> Any:
    """Daily reconciliation status per channel, newest first."""
    _staff(request, Permission.VIEW_FINANCE)
    return selectors.list_runs(channel=channel)


@console_router.get(
    "/reconciliation/runs/{run_id}/breaks", response={200: list[BreakOut], ERROR_CODES: ErrorOut}
)
def list_breaks(request: HttpRequest, run_id: uuid.UUID) -> Any:
    """The lines of a day's bill (or of our records) that did not match."""
    _staff(request, Permission.VIEW_FINANCE)
    return list(selectors.list_breaks(run=selectors.get_run(run_id=run_id)))
