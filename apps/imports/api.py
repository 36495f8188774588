"""Console endpoints of CSV import jobs: upload (queued, answered at once), list, progress, and
the per-row error report as CSV. Members need `members.manage`, a merchant's sales
`merchants.manage`."""

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, StaffPrincipal
from apps.accounts.permissions import require
from apps.imports import selectors, services
from apps.imports.choices import ImportKind
from apps.imports.models import ImportJob
from apps.imports.schemas import ImportJobOut
from apps.imports.selectors import KIND_PERMISSIONS
from apps.merchants.selectors import get_merchant
from atrium.csv_import import MAX_IMPORT_BYTES
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: imports"], auth=ConsoleAuth())


def _staff(request: HttpRequest) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


@console_router.post("/imports", response={202: ImportJobOut, ERROR_CODES: ErrorOut})
def create_import(
    request: HttpRequest,
    kind: Form[ImportKind],
    file: File[UploadedFile],
    merchant_id: Form[uuid.UUID | None] = None,
) -> Status[ImportJob]:
    """Upload a CSV file to import in the background; poll the job for its progress.

    `kind=members`: columns phone/手机号 (required), name/姓名, birthday/生日, gender/性别,
    card/卡号. `kind=sales` with `merchant_id`: `external_id`/`小票号`, `occurred_at`/`交易时间`,
    `total`/`金额` (required), `payments`/`支付方式`, `member_no`/`会员号` or `phone`/`手机号`,
    `category`/`品类`. UTF-8 or GB18030, at most 5,000 rows and 5 MB; an unreadable file is
    refused at once. Importing a file again records nothing twice.
    """
    staff = _staff(request).staff
    require(staff.role, KIND_PERMISSIONS[kind])
    job = services.start_import(
        kind=kind,
        content=file.read(MAX_IMPORT_BYTES + 1),
        filename=file.name or "import.csv",
        created_by=staff,
        merchant=get_merchant(merchant_id=merchant_id) if merchant_id else None,
    )
    return Status(202, job)


@console_router.get("/imports", response={200: list[ImportJobOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_imports(request: HttpRequest) -> object:
    """Import jobs of the kinds this role may run, newest first."""
    return selectors.list_jobs(role=_staff(request).staff.role)


@console_router.get("/imports/{job_id}", response={200: ImportJobOut, ERROR_CODES: ErrorOut})
def get_import(request: HttpRequest, job_id: uuid.UUID) -> ImportJob:
    """One import job with its progress (rows processed, succeeded and failed)."""
    return selectors.access_job(job_id=job_id, role=_staff(request).staff.role)


@console_router.get("/imports/{job_id}/errors", response={200: None, ERROR_CODES: ErrorOut})
def import_error_report(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The job's bad rows as CSV: row (header = 1), field, code, message."""
    job = selectors.access_job(job_id=job_id, role=_staff(request).staff.role)
    response = HttpResponse(selectors.error_report_csv(job=job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
