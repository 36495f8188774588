"""The merchant portal's pages (mounted at `/merchant/` by `atrium.urls_tenant`)."""

from django.urls import path

from apps.console import merchant_views
from apps.console import merchant_views_statements as statements

app_name = "merchant"

urlpatterns = [
    path("", merchant_views.home, name="home"),
    path("login/", merchant_views.login_view, name="login"),
    path("logout/", merchant_views.logout_view, name="logout"),
    path("statements/", statements.statements, name="statements"),
    path("statements/<uuid:statement_id>/", statements.statement, name="statement"),
    path(
        "statements/<uuid:statement_id>/answer/",
        statements.statement_answer,
        name="statement-answer",
    ),
    path(
        "statements/<uuid:statement_id>/export.<str:fmt>",
        statements.statement_export,
        name="statement-export",
    ),
]
