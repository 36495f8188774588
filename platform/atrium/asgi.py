"""The ASGI app: websockets under `/ws/` in production (nginx routes them here), HTTP too in
development. Production serves HTTP with gunicorn (WSGI): see ARCHITECTURE.md's measurements.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.base")
django_asgi_app = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware  # noqa: E402

from atrium.consumers import ConsoleConsumer, MemberConsumer, MerchantConsumer  # noqa: E402
from atrium.realtime import TenantWebsocketMiddleware  # noqa: E402

websocket_urlpatterns = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/merchant/", MerchantConsumer.as_asgi()),
    path("ws/member/", MemberConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Tokens, not cookies, authenticate sockets, so no origin check is needed against
        # cross-site websocket hijacking.
        "websocket": SentryAsgiMiddleware(
            TenantWebsocketMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
