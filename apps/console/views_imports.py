"""The console's CSV imports: an upload becomes a background job; its page shows live progress
(polling a small JSON view) and offers the per-row error report as a CSV download.

Members need `members.manage`, a merchant's sales `merchants.manage`; every job is read in the
caller's own schema and checked against the role before anything of it is shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission
from apps.console.auth import Surface, staff_required
from apps.console.forms import ImportForm
from apps.console.views import _page, _refused
from apps.imports import selectors as import_selectors
from apps.imports.choices import FINISHED, ImportKind
from apps.imports.models import ImportJob
from apps.imports.services import start_import
from apps.merchants.selectors import get_merchant, list_merchants
from atrium.csv_import import MAX_IMPORT_BYTES
from atrium.errors import DomainError, PermissionDeniedError
from atrium.web import render_refusal, user_message

CONSOLE = Surface.CONSOLE
JOBS_SHOWN = 20
FAILURES_SHOWN = 200


def _imports_page(
    request: HttpRequest, staff: StaffUser, *, kinds: Sequence[str], initial_kind: str = ""
) -> HttpResponse:
    if not kinds:
        return render_refusal(
            request, status=403, message=_("你的角色无权访问此页面。"), home_url=CONSOLE.home_url
        )
    merchants = [(str(m.pk), m.name) for m in list_merchants()] if ImportKind.SALES in kinds else []
    data = None
    if request.method == "POST":
        data = request.POST.copy()
        if len(kinds) == 1:  # one kind on offer (the members' page): the form need not say it
            data.setdefault("kind", kinds[0])
    form = ImportForm(
        data,
        request.FILES or None,
        kinds=[(kind, ImportKind(kind).label) for kind in kinds],
        merchants=merchants,
        initial={"kind": initial_kind or kinds[0]},
    )
    context: dict[str, Any] = {"form": form, "show_merchant": bool(merchants)}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            merchant_id = form.cleaned_data["merchant"]
            upload = form.cleaned_data["file"]
            try:
                job = start_import(
                    kind=form.cleaned_data["kind"],
                    content=upload.read(MAX_IMPORT_BYTES + 1),
                    filename=upload.name or "import.csv",
                    created_by=staff,
                    merchant=get_merchant(merchant_id=merchant_id) if merchant_id else None,
                )
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                return redirect("console:import", job_id=job.pk)
    context["jobs"] = import_selectors.list_jobs(role=staff.role)[:JOBS_SHOWN]
    return _page(request, staff, "console/imports.html", context, nav="members", status=status)


@staff_required(CONSOLE)
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Upload a members or sales CSV file (the kinds this role may import) and see past jobs."""
    return _imports_page(
        request,
        staff,
        kinds=import_selectors.kinds_allowed(role=staff.role),
        initial_kind=request.GET.get("kind", ""),
    )


@staff_required(CONSOLE, Permission.MANAGE_MEMBERS)
@require_http_methods(["GET", "POST"])
def member_import(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The members' import: the same page, for member files only."""
    return _imports_page(request, staff, kinds=[ImportKind.MEMBERS])


def _job(request: HttpRequest, staff: StaffUser, job_id: uuid.UUID) -> ImportJob | HttpResponse:
    try:
        return import_selectors.access_job(job_id=job_id, role=staff.role)
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        return render_refusal(
            request, status=404, message=user_message(exc), home_url=CONSOLE.home_url
        )


def progress_of(job: ImportJob) -> dict[str, Any]:
    """What the job page shows and polls."""
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "finished": job.status in FINISHED,
        "total_rows": job.total_rows,
        "processed": job.processed,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "percent": 100 if not job.total_rows else job.processed * 100 // job.total_rows,
    }


@staff_required(CONSOLE)
@require_GET
def import_job(request: HttpRequest, staff: StaffUser, job_id: uuid.UUID) -> HttpResponse:
    """One import job: live progress, then the bad rows and the report download."""
    job = _job(request, staff, job_id)
    if isinstance(job, HttpResponse):
        return job
    context = {
        "job": job,
        "progress": progress_of(job),
        "failures": import_selectors.list_row_failures(job=job)[:FAILURES_SHOWN],
        "failures_shown": FAILURES_SHOWN,
    }
    return _page(request, staff, "console/import_job.html", context, nav="members")


@staff_required(CONSOLE)
@require_GET
def import_progress(request: HttpRequest, staff: StaffUser, job_id: uuid.UUID) -> HttpResponse:
    """The job's progress as JSON, for the job page to poll."""
    job = _job(request, staff, job_id)
    if isinstance(job, HttpResponse):
        return job
    response = JsonResponse(progress_of(job))
    response["Cache-Control"] = "no-store"
    return response


@staff_required(CONSOLE)
@require_GET
def import_errors(request: HttpRequest, staff: StaffUser, job_id: uuid.UUID) -> HttpResponse:
    """The job's bad rows as a CSV download."""
    job = _job(request, staff, job_id)
    if isinstance(job, HttpResponse):
        return job
    response = HttpResponse(import_selectors.error_report_csv(job=job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
