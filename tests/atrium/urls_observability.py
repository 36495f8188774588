"""Views for the observability tests only: one logs carelessly, one fails."""

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path

logger = logging.getLogger("tests.careless_view")


def careless_log(request: HttpRequest) -> HttpResponse:
    # What the redacting filter is there for: a phone number and a token in a log message.
    logger.warning("member %s paid, Authorization: Bearer %s", "13812345678", "abc.def-ghi")
    return HttpResponse("ok")


def failing(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("member 138 1234 5678 broke it")


urlpatterns = [path("log/", careless_log), path("boom/", failing)]
