"""The member app's pages (mounted at `/m/` by `atrium.urls_tenant`)."""

from django.urls import path

from apps.console import member_views

app_name = "member"

urlpatterns = [
    path("", member_views.landing, name="landing"),
    path("manifest.webmanifest", member_views.manifest, name="manifest"),
    path("icon.svg", member_views.icon, name="icon"),
    path("join/", member_views.join_view, name="join"),
    path("login/", member_views.login_view, name="login"),
    path("logout/", member_views.logout_view, name="logout"),
    path("home/", member_views.home, name="home"),
    path("code.json", member_views.code_json, name="code"),
    path("token.json", member_views.token_json, name="token"),
    path("summary.json", member_views.summary_json, name="summary"),
    path("check-in/", member_views.check_in, name="check-in"),
    path("points/", member_views.points, name="points"),
    path("receipts/", member_views.receipts, name="receipts"),
    path("profile/", member_views.profile, name="profile"),
]
