"""Finance pages of the console: the points alliance (通积通兑: clearing value, funding policy,
outstanding liability, every merchant's position) and the daily reconciliation of bills."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission
from apps.clearing import selectors as clearing_selectors
from apps.clearing import services as clearing_services
from apps.console.auth import staff_required
from apps.console.forms import AllianceSettingsForm, BillUploadForm
from apps.console.views import CONSOLE, _page
from apps.reconciliation import selectors as recon_selectors
from apps.reconciliation import services as recon_services
from atrium.errors import DomainError
from atrium.web import user_message


def _dates(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
        end = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        return today.replace(day=1), today
    return start, end


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_http_methods(["GET", "POST"])
def alliance(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """通积通兑: settings, outstanding liability and each merchant's clearing position."""
    settings = clearing_selectors.clearing_settings()
    can_manage = has_permission(staff.role, Permission.MANAGE_FINANCE)
    form = AllianceSettingsForm(
        initial={
            "point_value": settings.point_value,
            "funding_source": settings.funding_source,
            "merchant_share": settings.merchant_share,
        }
    )
    if request.method == "POST" and can_manage:
        form = AllianceSettingsForm(request.POST)
        if form.is_valid():
            try:
                clearing_services.update_clearing_settings(
                    point_value=form.cleaned_data["point_value"],
                    source=form.cleaned_data["funding_source"],
                    merchant_share=form.cleaned_data["merchant_share"],
                    actor=f"staff:{staff.pk}",
                )
            except DomainError as exc:
                form.add_error(None, user_message(exc))
            else:
                messages.success(request, _("已保存：之后发放的积分按新政策出资。"))
                return redirect("console:alliance")
    start, end = _dates(request)
    try:
        positions = clearing_selectors.all_positions(start=start, end=end)
    except DomainError as exc:
        messages.error(request, user_message(exc))
        start, end = timezone.localdate().replace(day=1), timezone.localdate()
        positions = clearing_selectors.all_positions(start=start, end=end)
    return _page(
        request,
        staff,
        "console/alliance.html",
        {
            "settings": settings,
            "form": form,
            "can_manage": can_manage,
            "liability": clearing_selectors.outstanding_liability(),
            "positions": positions,
            "start": start,
            "end": end,
        },
        nav="alliance",
    )


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_http_methods(["GET", "POST"])
def reconciliation(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Daily reconciliation runs per channel; finance uploads a bill here."""
    can_manage = has_permission(staff.role, Permission.MANAGE_FINANCE)
    form = BillUploadForm(initial={"bill_date": timezone.localdate() - dt.timedelta(days=1)})
    if request.method == "POST" and can_manage:
        form = BillUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = recon_services.import_bill(
                    channel=form.cleaned_data["channel"],
                    bill_date=form.cleaned_data["bill_date"],
                    content=form.cleaned_data["file"].read(recon_services.MAX_BILL_BYTES + 1),
                    actor=f"staff:{staff.pk}",
                )
            except DomainError as exc:
                form.add_error("file", user_message(exc))
            else:
                if not result.created:
                    messages.info(request, _("这份账单已导入过，结果未变。"))
                return redirect("console:reconciliation-run", run_id=result.run.pk)
    return _page(
        request,
        staff,
        "console/reconciliation.html",
        {"runs": list(recon_selectors.list_runs()[:60]), "form": form, "can_manage": can_manage},
        nav="reconciliation",
    )


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
def reconciliation_run(request: HttpRequest, staff: StaffUser, run_id: uuid.UUID) -> HttpResponse:
    """One day's run and its breaks."""
    run = recon_selectors.get_run(run_id=run_id)
    return _page(
        request,
        staff,
        "console/reconciliation_run.html",
        {"run": run, "breaks": list(recon_selectors.list_breaks(run=run))},
        nav="reconciliation",
    )
