"""404 and 500 for URLs outside any API router: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _respond(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": code, "message": message, "extra": {}}, status=status)
    return render(
        request,
        "tenants/refused.html",
        {"code": code, "message": message, "status": status},
        status=status,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404."""
    return _respond(request, status=404, code="not_found", message="not found")


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500."""
    return _respond(
        request, status=500, code="server_error", message="an unexpected error occurred"
    )
