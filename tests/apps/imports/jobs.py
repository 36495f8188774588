"""Helpers for import jobs through the console API: upload, run the job, read its report."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from apps.imports.services import run_import

IMPORTS = "/api/console/v1/imports"


def upload(api, kind, content, name="import.csv", **fields):
    """POST a file; the job is queued (its task only runs after a commit)."""
    response = api.client.post(
        IMPORTS,
        {
            "kind": kind,
            **fields,
            "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        },
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    connection.set_schema_to_public()
    return response


def run(mall, job_id):
    """Run a queued job here, as the worker would (the worker tests use the real one)."""
    with tenant_context(mall):
        run_import(job_id=job_id)
    connection.set_schema_to_public()


def report_rows(api, job_id):
    """The error report CSV as (row, field, code) tuples."""
    response = api.get(f"{IMPORTS}/{job_id}/errors")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv"
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "field", "code", "message"]
    return [(int(row), field, code) for row, field, code, _ in rows[1:]]


def import_file(api, mall, kind, content, **fields):
    """Upload, run, and read the finished job: (job, error rows)."""
    response = upload(api, kind, content, **fields)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    run(mall, job_id)
    job = api.get(f"{IMPORTS}/{job_id}").json()
    return job, report_rows(api, job_id)
