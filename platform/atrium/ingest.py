"""The POS ingest's ASGI entry point (docs/adr/0022-pos-ingest-outside-the-django-request.md):
`POST /api/integration/v1/sales` answered by `apps.sales.ingest`'s writer threads, everything
else by Django. Production's nginx routes that one path here (infra/nginx.conf):

    uvicorn atrium.ingest:application --loop uvloop --http httptools --workers 2
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.base")
django_asgi_app = get_asgi_application()  # sets Django up before the sales app is imported

from apps.sales.ingest import PosIngest  # noqa: E402
from atrium.runtime import settle_for_serving  # noqa: E402

application = PosIngest(django_asgi_app)
settle_for_serving()
