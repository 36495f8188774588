"""The Celery app. Every task runs in the schema of the tenant that sent it; one sent without a
tenant fails loudly instead of touching `public` (see docs/adr/0006-celery-tenancy.md).

Imported by `atrium/__init__.py` (so that `@app.task` and `.delay()` always use this app), and
therefore by the settings: keep this module free of Django imports at import time.
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp, get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

from atrium.logging import request_id_var, task_id_var, tenant_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.base")

PUBLIC_SCHEMA = "public"
SCHEMA_HEADER = "_schema_name"  # tenant-schemas-celery's header
REQUEST_ID_HEADER = "atrium_request_id"


def _require_tenant(task_name: str, schema: str | None) -> None:
    from atrium.errors import TenantRequiredError

    if not schema or schema == PUBLIC_SCHEMA:
        raise TenantRequiredError(
            "task needs a tenant: send it inside tenant_context() or mark it tenant_required=False",
            task=task_name,
        )


class AtriumTask(TenantTask):
    """Base of every task: acknowledged after it ran, in the tenant schema it was sent from.

    Tenant tasks (the default) are refused when sent from `public` and, should a message arrive
    without a tenant anyway (another client, a hand-made message), refused again by the worker.
    Beat fan-out tasks set `tenant_required = False`.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 3
    tenant_required = True

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        if self.tenant_required:
            from atrium.tenancy import current_schema

            headers = options.get("headers") or {}
            _require_tenant(self.name, headers.get(SCHEMA_HEADER) or current_schema())
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        if not self.tenant_required:
            return
        from atrium.tenancy import current_schema

        sent_for = get_schema_name_from_task(self, kwargs)
        _require_tenant(self.name, sent_for)
        if current_schema() != sent_for:  # the schema switch failed (e.g. an unknown tenant)
            _require_tenant(self.name, None)


app = CeleryApp("atrium", task_cls=AtriumTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect(dispatch_uid="atrium.celery.propagate_request_id")
def _propagate_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Carry the enqueuing request's id to the task's log lines."""
    if headers is not None and (request_id := request_id_var.get()):
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect(dispatch_uid="atrium.celery.bind_task_context")
def _bind_task_context(task_id: str = "", task: Any = None, **_: Any) -> None:
    """Bind tenant, task id and request id for logs, and tag Sentry's event scope of the task.

    Runs after tenant-schemas-celery switched the schema (its receiver connected first).
    """
    import sentry_sdk
    from django.db import connection

    tenant = getattr(connection, "tenant", None)
    schema = getattr(connection, "schema_name", None) or PUBLIC_SCHEMA
    label = getattr(tenant, "slug", None) or schema
    tenant_var.set(label)
    task_id_var.set(task_id)
    request_id = ""
    if task is not None:
        request = task.request
        request_id = (request.headers or {}).get(REQUEST_ID_HEADER) or request.get(
            REQUEST_ID_HEADER, ""
        )
    request_id_var.set(request_id or task_id)
    sentry_sdk.set_tag("tenant", label)


@task_postrun.connect(dispatch_uid="atrium.celery.unbind_task_context")
def _unbind_task_context(**_: Any) -> None:
    # Pool threads run many tasks: leave nothing behind for the next one.
    tenant_var.set(PUBLIC_SCHEMA)
    task_id_var.set("")
    request_id_var.set("")
