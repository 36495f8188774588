"""Observability: Sentry gets errors tagged with the tenant; logs are JSON, with context, without
phone numbers or tokens."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest
import sentry_sdk
from django.test import Client
from django_tenants.utils import tenant_context

from apps.accounts.auth import authenticate_staff_token
from apps.accounts.models import StaffUser
from atrium.logging import JsonFormatter, actor_var, mask_sensitive, request_id_var
from atrium.observability import init_sentry
from atrium.tasks import ProbeError, probe
from tests.celery_worker import wait_until

CARELESS = "call 13812345678 or +86 139-1234-5678, Authorization: Bearer abc.def-ghi"
MASKED = "call 138****5678 or 139****5678, Authorization: Bearer [redacted]"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (CARELESS, MASKED),
        ("/ws/console/?token=eyJz:1abc:sig&x=1", "/ws/console/?token=[redacted]&x=1"),
        ('{"password": "hunter2", "n": 1}', '{"password": "[redacted]", "n": 1}'),
        ("order 213812345678901 and 2024-01-01", "order 213812345678901 and 2024-01-01"),
        ("12345678901 is not a mobile number", "12345678901 is not a mobile number"),
    ],
    ids=["phones-and-bearer", "query-token", "password", "long-numbers", "not-mobile"],
)
def test_mask_sensitive(text, masked):
    assert mask_sensitive(text) == masked


@pytest.fixture
def json_log():
    """What the configured JSON handler writes, captured."""
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture
def test_views(settings):
    settings.ROOT_URLCONF = "tests.atrium.urls_observability"


@pytest.mark.usefixtures("test_views")
def test_request_logs_are_json_with_tenant_and_request_id_and_no_secrets(mall_a, json_log):
    response = Client(HTTP_HOST="mall-a.atrium.test").get(
        "/log/", HTTP_X_REQUEST_ID="req-0001-abcd"
    )

    [line] = [json.loads(raw) for raw in json_log.getvalue().splitlines()]
    assert response.status_code == 200
    assert {k: v for k, v in line.items() if k != "ts"} == {
        "level": "warning",
        "logger": "tests.careless_view",
        "event": "member 138****5678 paid, Authorization: Bearer [redacted]",
        "tenant": "mall-a",
        "request_id": "req-0001-abcd",
    }


def test_an_authenticated_call_binds_the_actor(mall_a, in_tenant):
    from atrium import tokens
    from atrium.models import AuthSession

    with in_tenant(mall_a):
        owner = StaffUser.objects.get(username="owner")
        token = tokens.issue_tokens(
            session_model=AuthSession, subject_kind="staff", subject_id=str(owner.pk)
        ).access_token
        context = contextvars.copy_context()
        context.run(authenticate_staff_token, token, merchant_portal=False)
    assert context[actor_var] == f"staff:{owner.pk}"


@pytest.fixture
def sentry_to(fake_sentry):
    """Sentry on in this process, sending to the fake endpoint; off again afterwards."""
    init_sentry(dsn=fake_sentry.dsn, environment="test")
    yield fake_sentry
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init()  # no DSN: nothing is sent


@pytest.mark.usefixtures("test_views")
def test_sentry_receives_a_request_error_with_the_tenant_tag(mall_a, sentry_to, json_log):
    response = Client(HTTP_HOST="mall-a.atrium.test", raise_request_exception=False).get("/boom/")
    sentry_sdk.flush(timeout=5)

    event = sentry_to.wait_for_event(
        lambda e: e["exception"]["values"][-1]["value"] == "member 138****5678 broke it"
    )
    assert response.status_code == 500
    assert (event["tags"]["tenant"], event["environment"]) == ("mall-a", "test")
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert "13812345678" not in json.dumps(event)
    assert "1234 5678" not in json.dumps(event)
    assert "ip_address" not in json.dumps(event.get("user", {}))
    [error_line] = [json.loads(raw) for raw in json_log.getvalue().splitlines()]
    assert (error_line["tenant"], error_line["level"]) == ("mall-a", "error")
    assert "138****5678" in error_line["exception"]
    assert "1234 5678" not in json.dumps(error_line)


def test_a_task_error_reaches_sentry_with_the_tenant_tag_and_the_logs_masked(
    two_malls, celery_worker, fake_sentry
):
    request_id = request_id_var.set("req-task-0001")
    try:
        with tenant_context(two_malls["mall-a"]):
            result = probe.delay(fail_with=CARELESS)
    finally:
        request_id_var.reset(request_id)
    with pytest.raises(ProbeError):
        result.get(timeout=20)

    event = fake_sentry.wait_for_event(
        lambda e: (
            e.get("tags", {}).get("celery_task_id") == result.id
            or e.get("contexts", {}).get("celery_job", {}).get("task_id") == result.id
            or (e["exception"]["values"][-1]["value"] == MASKED)
        )
    )
    assert (event["tags"]["tenant"], event["environment"]) == ("mall-a", "test")
    assert event["exception"]["values"][-1]["type"] == "ProbeError"
    assert event["exception"]["values"][-1]["value"] == MASKED
    assert event["extra"]["celery-job"]["kwargs"] == "[Filtered]"  # no task arguments

    # The worker stores the failure, then logs it: wait for the line.
    lines = wait_until(
        lambda: [line for line in celery_worker.log_lines() if line.get("task_id") == result.id]
    )
    assert {(line["tenant"], line["request_id"]) for line in lines} == {("mall-a", "req-task-0001")}
    assert "13812345678" not in celery_worker.log_text()
    assert "abc.def-ghi" not in celery_worker.log_text()
