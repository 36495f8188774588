"""Import jobs: a real Celery worker processes a sales file in chunks, records each good row once
through `record_sale`, reports each bad row with its line, field and code, and a re-run (a
redelivered task, or one resuming after a crash mid-chunk) records and counts nothing twice."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from apps.imports.models import ImportJob, ImportRowFailure
from apps.imports.services import CHUNK_ROWS, start_import
from apps.imports.tasks import run_import_job
from apps.loyalty.selectors import points_summary
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.models import Sale
from atrium.models import OutboxEvent
from tests.apps.imports.jobs import IMPORTS, import_file, report_rows, run, upload
from tests.celery_worker import wait_until
from tests.conftest import PASSWORD, Api, host_of, login

ROWS = 230  # three chunks of 100, 100 and 30


def _sales_file(member_no):
    # an hour ago: the mall's earning rules are in force from its first day
    # An hour ago, but today: a sale of yesterday earns nothing under rules that start today.
    now = timezone.localtime()
    when = max(now - dt.timedelta(hours=1), now.replace(hour=0, minute=0)).strftime(
        "%Y-%m-%d %H:%M"
    )
    lines = ["小票号,交易时间,金额,会员号"]
    for number in range(2, ROWS + 2):  # the header is row 1
        total = "12.345" if number == 51 else "10.00"
        member = {2: member_no, 121: "M0000000000"}.get(number, "")
        lines.append(f"T-{number},{when},{total},{member}")
    return ("\n".join(lines) + "\n").encode()


def _state(job_id):
    job = ImportJob.objects.get(pk=job_id)
    failures = list(
        ImportRowFailure.objects.filter(job=job).order_by("row").values_list("row", "field", "code")
    )
    sales = (Sale.objects.count(), Sale.objects.aggregate(total=Sum("total"))["total"])
    return (job.status, job.total_rows, job.processed, job.succeeded, job.failed), failures, sales


EXPECTED = (
    ("done", 230, 230, 228, 2),
    [(51, "total", "sales.invalid_amount"), (121, "", "members.not_found")],
    (228, Decimal("2280.00")),
)


def test_the_worker_imports_in_chunks_and_a_rerun_records_nothing_twice(
    celery_worker, make_committed_tenant, django_db_blocker
):
    assert CHUNK_ROWS == 100
    with django_db_blocker.unblock():
        tenant = make_committed_tenant()
        with tenant_context(tenant):
            owner = StaffUser.objects.get(username="owner")
            shop = create_merchant(name="Tea House")
            member = create_member(display_name="Buyer")
            job = start_import(
                kind="sales",
                content=_sales_file(member.member_no),
                filename="sales.csv",
                created_by=owner,
                merchant=shop,
            )
            assert (job.status, job.total_rows) == ("queued", ROWS)
            wait_until(lambda: ImportJob.objects.get(pk=job.pk).status == "done", timeout=120)
            assert _state(job.pk) == EXPECTED
            assert points_summary(member=member).balance == 10
            first = Sale.objects.get(external_id="T-2")
            assert (first.channel, first.member_id, first.points_earned) == (
                "import",
                member.pk,
                10,
            )

            # a redelivered task finds the job done and changes nothing
            again = run_import_job.apply_async(args=[str(job.pk)], ignore_result=False)
            assert again.get(timeout=60) == {
                "status": "done", "processed": 230, "succeeded": 228, "failed": 2,
            }  # fmt: skip
            assert _state(job.pk) == EXPECTED

            # a run that died after committing the first chunk: rows 102..231 were recorded
            # but not counted; the re-run resumes at row 102 and counts each row once
            ImportJob.objects.filter(pk=job.pk).update(
                status="running", processed=100, succeeded=99, failed=1, finished_at=None
            )
            ImportRowFailure.objects.filter(job=job, row__gt=101).delete()
            resumed = run_import_job.apply_async(args=[str(job.pk)], ignore_result=False)
            assert resumed.get(timeout=120)["processed"] == 230
            assert _state(job.pk) == EXPECTED
            assert points_summary(member=member).balance == 10
            # every sale queued an outbox relay: let them finish before the tenant is dropped,
            # so that none spills into the next test against a schema that is gone
            wait_until(
                lambda: not OutboxEvent.objects.filter(delivered_at__isnull=True).exists(),
                timeout=120,
            )
        connection.set_schema_to_public()
        celery_worker.wait_idle()


def test_a_member_import_job_reports_progress_and_its_bad_rows(mall_a, console_a):
    content = "手机号,姓名\n13800138000,王芳\n12345,坏号码\n13900139000,\n".encode()
    job, errors = import_file(console_a, mall_a, "members", content)
    assert (job["kind"], job["status"], job["total_rows"], job["processed"]) == (
        "members",
        "done",
        3,
        3,
    )
    assert (job["succeeded"], job["failed"], job["merchant_id"], job["filename"]) == (
        2,
        1,
        None,
        "import.csv",
    )
    assert errors == [(3, "phone", "members.phone_invalid")]
    listed = console_a.get(IMPORTS).json()["results"]
    assert [(j["id"], j["status"]) for j in listed] == [(job["id"], "done")]


def test_a_header_only_file_is_done_at_once(mall_a, console_a):
    job, errors = import_file(console_a, mall_a, "members", b"phone\n")
    assert ((job["status"], job["total_rows"], job["processed"]), errors) == (("done", 0, 0), [])


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"kind": "coupons"}, 422, None),
        ({"merchant_id": "00000000-0000-0000-0000-000000000000"}, 404, "merchant.not_found"),
    ],
)
def test_a_bad_job_is_refused_and_nothing_is_queued(mall_a, console_a, fields, status, code):
    body = {"kind": "members", **fields}
    kind = body.pop("kind")
    response = upload(console_a, kind, b"phone\n13800138000\n", **body)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    with tenant_context(mall_a):
        assert ImportJob.objects.count() == 0
    connection.set_schema_to_public()


def test_a_member_import_with_a_merchant_or_sales_without_one_is_invalid(
    mall_a, console_a, make_merchant
):
    shop = make_merchant(mall_a, name="Tea House")
    with_merchant = upload(console_a, "members", b"phone\n", merchant_id=str(shop.merchant.pk))
    without = upload(console_a, "sales", b"external_id,occurred_at,total\n")
    assert [(r.status_code, r.json()["code"]) for r in (with_merchant, without)] == [
        (400, "imports.invalid"),
        (400, "imports.invalid"),
    ]


def test_jobs_and_reports_need_the_permission_of_their_kind(mall_a, console_a, make_merchant):
    shop = make_merchant(mall_a, name="Tea House")
    sales_job, _ = import_file(
        console_a,
        mall_a,
        "sales",
        b"external_id,occurred_at,total\n",
        merchant_id=str(shop.merchant.pk),
    )
    members_job, _ = import_file(console_a, mall_a, "members", b"phone\n")
    with tenant_context(mall_a):
        invite_staff(username="mkt", role=StaffRole.CUSTOMER_SERVICE, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(host_of("mall-a"))
    service = api.as_token(login(api, "console", "mkt")["access_token"])
    listed = service.get(IMPORTS).json()["results"]
    refused = [
        service.get(f"{IMPORTS}/{sales_job['id']}"),
        service.get(f"{IMPORTS}/{sales_job['id']}/errors"),
        upload(service, "sales", b"x\n", merchant_id=str(shop.merchant.pk)),
    ]
    assert [j["id"] for j in listed] == [members_job["id"]]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "auth.forbidden")] * 3
    assert report_rows(service, members_job["id"]) == []
    missing = console_a.get(f"{IMPORTS}/00000000-0000-0000-0000-000000000000/errors")
    assert (missing.status_code, missing.json()["code"]) == (404, "imports.not_found")


def test_a_job_whose_file_is_gone_fails_with_its_reason(mall_a, console_a):
    response = upload(console_a, "members", b"phone\n13800138000\n")
    with tenant_context(mall_a):
        job = ImportJob.objects.get(pk=response.json()["id"])
        from apps.imports import storage

        storage.delete_upload(job.file_path)
    connection.set_schema_to_public()
    run(mall_a, job.pk)
    body = console_a.get(f"{IMPORTS}/{job.pk}").json()
    assert (body["status"], body["error"], body["processed"]) == (
        "failed",
        "the uploaded file is gone",
        0,
    )
