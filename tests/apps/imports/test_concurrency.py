"""Concurrency on real PostgreSQL: three runs of one import job at once (a redelivered task
racing the first) record every sale once and count every row once."""

import datetime as dt

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import StaffUser
from apps.imports import storage
from apps.imports.models import ImportJob, ImportRowFailure
from apps.imports.services import run_import
from apps.merchants.services import create_merchant
from apps.sales.models import Sale
from atrium.celery import app as celery_app
from tests.concurrency import race

RUNS = 3
ROWS = 150


def _file():
    # An hour ago, but today: a sale of yesterday earns nothing under rules that start today.
    now = timezone.localtime()
    when = max(now - dt.timedelta(hours=1), now.replace(hour=0, minute=0)).strftime(
        "%Y-%m-%d %H:%M"
    )
    lines = ["external_id,occurred_at,total"] + [
        f"C-{number},{when},{'x' if number in (10, 140) else '5.00'}"
        for number in range(2, ROWS + 2)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_concurrent_runs_of_one_job_record_and_count_each_row_once(
    committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            # The job row as start_import leaves it, minus the task it would enqueue: the
            # threads below are the runners.
            job = ImportJob.objects.create(
                kind="sales",
                merchant=create_merchant(name="Race Shop"),
                filename="race.csv",
                file_path=storage.save_upload(_file()),
                total_rows=ROWS,
                created_by=StaffUser.objects.get(username="owner"),
            )
        connection.set_schema_to_public()

        def run(_):
            with tenant_context(committed_tenant):
                run_import(job_id=job.pk)

        race(RUNS, run)

        with tenant_context(committed_tenant):
            job.refresh_from_db()
            counts = (job.status, job.processed, job.succeeded, job.failed)
            failures = list(
                ImportRowFailure.objects.filter(job=job).order_by("row").values_list("row", "code")
            )
            sales = (Sale.objects.count(), Sale.objects.values("external_id").distinct().count())
        connection.set_schema_to_public()
        # the sales' outbox relays were queued for a schema about to be dropped
        celery_app.control.purge()

    assert counts == ("done", 150, 148, 2)
    assert failures == [(10, "sales.invalid_amount"), (140, "sales.invalid_amount")]
    assert sales == (148, 148)
