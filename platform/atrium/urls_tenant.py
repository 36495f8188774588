"""URLs of a tenant's host: console, merchant portal, member app and their APIs."""

from django.urls import include, path
from django.views.generic import RedirectView

from atrium.api import console_api, integration_api, member_api, merchant_api
from atrium.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/console/v1/", console_api.urls),
    path("api/merchant/v1/", merchant_api.urls),
    path("api/member/v1/", member_api.urls),
    path("api/integration/v1/", integration_api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include("apps.console.urls")),
    path("merchant/", include("apps.console.merchant_urls")),
    path("m/", include("apps.console.member_urls")),
    path("", RedirectView.as_view(url="/m/")),
]

handler404 = "atrium.error_views.not_found"
handler500 = "atrium.error_views.server_error"
