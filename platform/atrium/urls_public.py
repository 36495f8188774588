"""URLs of the bare domain: the provider console and API, health."""

from django.urls import include, path

from atrium.api import provider_api
from atrium.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/provider/v1/", provider_api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("provider.urls")),
]

handler404 = "atrium.error_views.not_found"
handler500 = "atrium.error_views.server_error"
