"""The provider console's pages on the bare domain (mounted at `/` by `atrium.urls_public`)."""

from django.urls import path

from provider import views

app_name = "provider"

urlpatterns = [
    path("", views.tenant_list, name="tenants"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tenants/new/", views.tenant_onboard, name="onboard"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant"),
    path("tenants/<int:tenant_id>/branding/", views.tenant_branding, name="branding"),
    path("tenants/<int:tenant_id>/export/", views.tenant_export, name="export"),
    path(
        "tenants/<int:tenant_id>/exports/<uuid:export_id>/download/",
        views.export_download,
        name="export-download",
    ),
    *(
        path(
            f"tenants/<int:tenant_id>/{action}/",
            views.tenant_status,
            {"action": action},
            name=action,
        )
        for action in ("suspend", "resume", "archive")
    ),
]
