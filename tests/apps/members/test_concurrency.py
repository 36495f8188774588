"""Races on real PostgreSQL and Redis: one member per phone, one use per code, no merge cycles."""

from django_tenants.utils import tenant_context

from apps.members.choices import RegistrationChannel
from apps.members.errors import MemberCodeReusedError, MergeInvalidError
from apps.members.models import Member, MemberIdentity, MemberMerge
from apps.members.services import (
    create_member,
    issue_member_code,
    join_member,
    merge_members,
    resolve_member_code,
)
from tests.apps.members.conftest import PHONE
from tests.concurrency import race


def test_twenty_tills_enrolling_one_phone_make_one_member(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):

        def join(_):
            with tenant_context(committed_tenant):
                joined = join_member(channel=RegistrationChannel.TILL, phone=PHONE)
                return joined.member.pk, joined.created

        results = race(20, join)
        assert len({pk for pk, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert (Member.objects.count(), MemberIdentity.objects.count()) == (1, 1)


def test_a_code_scanned_at_two_tills_at_once_is_accepted_once(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):
        member = create_member(display_name="Racer")
        code = issue_member_code(member=member).code

        def scan(_):
            with tenant_context(committed_tenant):
                try:
                    return resolve_member_code(code).pk
                except MemberCodeReusedError:
                    return "reused"

        results = race(10, scan)
        assert sorted(map(str, results)) == sorted([str(member.pk)] + ["reused"] * 9)


def test_crossed_merges_never_make_a_cycle(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock(), tenant_context(committed_tenant):
        a = create_member(display_name="A")
        b = create_member(display_name="B")

        def merge(index):
            source, target = (a, b) if index % 2 == 0 else (b, a)
            with tenant_context(committed_tenant):
                try:
                    merge_members(source=source, target=target, actor="staff:x", reason="dup")
                except MergeInvalidError:
                    return "refused"
                return "merged"

        results = race(6, merge)
        assert (results.count("merged"), results.count("refused")) == (1, 5)
        assert MemberMerge.objects.count() == 1
        assert Member.objects.filter(status="active").count() == 1
