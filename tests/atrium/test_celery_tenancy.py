"""Celery tasks run in the schema of the tenant that sent them; without a tenant they fail loudly."""

from __future__ import annotations

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from atrium.errors import TenantRequiredError
from atrium.tasks import probe

pytestmark = pytest.mark.usefixtures("celery_worker")
RESULT_TIMEOUT = 20


def test_a_task_runs_in_the_schema_of_the_tenant_that_sent_it(two_malls):
    mall_a, mall_b = two_malls["mall-a"], two_malls["mall-b"]
    with tenant_context(mall_a):
        from_a = probe.delay()
    with tenant_context(mall_b):
        from_b = probe.delay()
    connection.set_schema_to_public()

    assert from_a.get(timeout=RESULT_TIMEOUT) == {"schema": "t_mall_a", "tenant": "mall-a"}
    assert from_b.get(timeout=RESULT_TIMEOUT) == {"schema": "t_mall_b", "tenant": "mall-b"}


def test_a_tenant_task_sent_from_public_is_refused_before_it_leaves():
    with schema_context("public"), pytest.raises(TenantRequiredError) as refused:
        probe.delay()
    assert (refused.value.code, refused.value.extra) == (
        "tenant.required",
        {"task": "atrium.probe"},
    )


def _foreign_client() -> Celery:
    """A Celery client that is not ours: it sends no tenant header at all."""
    client = Celery(
        "foreign", broker=settings.CELERY_BROKER_URL, backend=settings.CELERY_RESULT_BACKEND
    )
    client.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return client


@pytest.mark.parametrize(
    "headers",
    [None, {"_schema_name": "public"}, {"_schema_name": "t_no_such_mall"}],
    ids=["no-header", "public", "unknown-schema"],
)
def test_a_message_without_a_valid_tenant_fails_in_the_worker(headers, celery_worker):
    client = _foreign_client()
    result = client.send_task("atrium.probe", queue="default", headers=headers)

    with pytest.raises(Exception) as failed:  # noqa: PT011 - the worker's exception, rebuilt
        result.get(timeout=RESULT_TIMEOUT)
    assert result.state == "FAILURE"
    assert type(failed.value).__name__ == "TenantRequiredError"
    assert "task needs a tenant" in str(failed.value)
