"""The merchant portal's pages (mounted at `/merchant/` by `atrium.urls_tenant`)."""

from django.urls import path

from apps.console import merchant_views

app_name = "merchant"

urlpatterns = [
    path("", merchant_views.home, name="home"),
    path("login/", merchant_views.login_view, name="login"),
    path("logout/", merchant_views.logout_view, name="logout"),
]
