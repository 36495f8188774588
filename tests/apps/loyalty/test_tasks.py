"""Nightly jobs: expiry with reminders and tier evaluation, in each tenant's schema, through a
real Celery worker."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.loyalty.models import JournalEntry, PointsAccount
from apps.loyalty.services import ledger
from apps.loyalty.services.growth import scheduled_tier_evaluation
from apps.loyalty.services.program import update_program_settings
from apps.loyalty.tasks import evaluate_tiers, expire_points
from apps.members.services import create_member
from atrium.models import OutboxEvent


def test_reminders_go_once_per_member_and_day(member):
    now = timezone.now()
    ledger.earn_points(
        member=member,
        points=40,
        idempotency_key="old",
        source_type="sale",
        source_id="s",
        now=now - dt.timedelta(days=365 - 30) + dt.timedelta(hours=1),
        pending_days=0,
    )
    cache.clear()
    assert ledger.remind_expiring_points(now=now) == 1
    assert ledger.remind_expiring_points(now=now) == 0
    event = OutboxEvent.objects.get(topic="loyalty.points_expiring")
    assert (event.payload["member_id"], event.payload["points"]) == (str(member.pk), 40)


def test_calendar_year_evaluation_runs_only_on_new_year(member):
    update_program_settings(tier_evaluation="calendar_year")
    PointsAccount.objects.get_or_create(member=member)
    june = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)
    new_year = dt.datetime(2025, 12, 31, 17, 0, tzinfo=dt.UTC)  # 1 January 01:00 in Shanghai
    assert (scheduled_tier_evaluation(now=june), scheduled_tier_evaluation(now=new_year)) == (0, 1)


@pytest.mark.usefixtures("celery_worker")
def test_expiry_task_runs_in_its_tenant_through_the_worker(
    make_committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock():
        tenant = make_committed_tenant()
        with tenant_context(tenant):
            member = create_member(display_name="Old")
            ledger.earn_points(
                member=member,
                points=25,
                idempotency_key="e",
                source_type="sale",
                source_id="s",
                now=timezone.now() - dt.timedelta(days=400),
                pending_days=0,
            )
            result = expire_points.apply_async(ignore_result=False).get(timeout=30)
            assert result == {"expired": 1, "reminded": 0}
            assert JournalEntry.objects.get(member=member, kind="expire").points == -25
            assert evaluate_tiers.apply_async(ignore_result=False).get(timeout=30) == 1
        connection.set_schema_to_public()
