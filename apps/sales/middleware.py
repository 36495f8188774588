"""Announces POS sale calls to the group commit as soon as they arrive (ADR 0021)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.sales.services.group_commit import group_commit
from atrium.tenancy import current_schema

POS_SALES_PATH = "/api/integration/v1/sales"


class PosSaleArrivalMiddleware:
    """Counts a POS sale call of the request's tenant as on its way to the group commit, from
    here (right after the tenant is resolved) until it queues or its request ends. A leader
    waits a bounded time for the calls so counted: most of a call's Python (middleware, the
    signature, the body's parsing) is spent before it queues."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path_info != POS_SALES_PATH:
            return self.get_response(request)
        with group_commit.arriving(current_schema()):
            return self.get_response(request)
