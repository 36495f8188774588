"""The tenant console's pages (mounted at `/console/` by `atrium.urls_tenant`)."""

from django.urls import path

from apps.console import (
    views,
    views_finance,
    views_imports,
    views_members,
    views_program,
    views_settlement,
    views_statements,
)

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    # No trailing slash: this is the link onboarding and invitations hand out.
    path("invitation/<str:token>", views.invitation_view, name="invitation"),
    path("staff/", views.staff_list, name="staff"),
    path("staff/<uuid:staff_id>/role/", views.staff_role, name="staff-role"),
    path("staff/<uuid:staff_id>/deactivate/", views.staff_deactivate, name="staff-deactivate"),
    path("merchants/", views.merchant_list, name="merchants"),
    path("merchants/<uuid:merchant_id>/", views.merchant_detail, name="merchant"),
    path(
        "merchants/<uuid:merchant_id>/edit/", views_settlement.merchant_edit, name="merchant-edit"
    ),
    path(
        "merchants/<uuid:merchant_id>/contracts/",
        views_settlement.merchant_contract,
        name="merchant-contract",
    ),
    path("split-rules/", views_settlement.split_rules, name="split-rules"),
    path("program/", views.program, name="program"),
    path("program/tiers/new/", views_program.tier_edit, name="tier-new"),
    path("program/tiers/<slug:code>/", views_program.tier_edit, name="tier"),
    path("program/rules/", views_program.rules, name="rules"),
    path("program/rules/<uuid:rule_id>/", views_program.rule_detail, name="rule"),
    path("program/rules/<uuid:rule_id>/publish/", views_program.rule_publish, name="rule-publish"),
    path("members/", views_members.member_list, name="members"),
    path("members/import/", views_imports.member_import, name="member-import"),
    path("imports/", views_imports.imports, name="imports"),
    path("imports/<uuid:job_id>/", views_imports.import_job, name="import"),
    path("imports/<uuid:job_id>/progress/", views_imports.import_progress, name="import-progress"),
    path("imports/<uuid:job_id>/errors.csv", views_imports.import_errors, name="import-errors"),
    path("members/<uuid:member_id>/", views_members.member_detail, name="member"),
    path("adjustments/", views_members.adjustments, name="adjustments"),
    path(
        "adjustments/<uuid:adjustment_id>/decide/",
        views_members.adjustment_decide,
        name="adjustment-decide",
    ),
    path("alliance/", views_finance.alliance, name="alliance"),
    path("reconciliation/", views_finance.reconciliation, name="reconciliation"),
    path(
        "reconciliation/<uuid:run_id>/",
        views_finance.reconciliation_run,
        name="reconciliation-run",
    ),
    path("receipts/", views_members.receipts, name="receipts"),
    path("receipts/<uuid:receipt_id>/photo/", views_members.receipt_photo, name="receipt-photo"),
    path("receipts/<uuid:receipt_id>/decide/", views_members.receipt_decide, name="receipt-decide"),
    path("settlement/", views_statements.settlement, name="settlement"),
    path("settlement/close/", views_statements.settlement_close, name="settlement-close"),
    path("settlement/issue/", views_statements.settlement_issue, name="settlement-issue"),
    path(
        "settlement/bank-file/", views_statements.settlement_bank_file, name="settlement-bank-file"
    ),
    path("settlement/<uuid:statement_id>/", views_statements.statement_detail, name="statement"),
    path(
        "settlement/<uuid:statement_id>/action/",
        views_statements.statement_action,
        name="statement-action",
    ),
    path(
        "settlement/<uuid:statement_id>/export.<str:fmt>",
        views_statements.statement_export,
        name="statement-export",
    ),
]
