"""Joining, identities, consents, merging, export and closing (service layer, real PostgreSQL)."""

import datetime as dt
import json

import pytest
from django.db import IntegrityError, transaction

from apps.loyalty import selectors as loyalty_selectors
from apps.loyalty.models import JournalEntry
from apps.loyalty.services import earn_points
from apps.members.choices import IdentityKind, MemberStatus, RegistrationChannel
from apps.members.errors import (
    BirthdayLockedError,
    ConsentInvalidError,
    IdentityTakenError,
    MemberNotActiveError,
    MergeInvalidError,
    PhoneInvalidError,
    ProfileInvalidError,
)
from apps.members.identities import identity_hash
from apps.members.models import Member, MemberConsent, MemberIdentity, MemberMerge
from apps.members.selectors import current_consents, find_member, primary_phone
from apps.members.services import (
    NewIdentity,
    attach_identity,
    close_member,
    create_member,
    export_member_data,
    issue_member_tokens,
    join_member,
    merge_members,
    set_consents,
    update_profile,
)
from atrium.crypto import decrypt
from atrium.models import AuthSession, OutboxEvent
from tests.apps.members.conftest import OTHER_PHONE, PHONE


def _counts():
    return (
        Member.objects.count(),
        MemberIdentity.objects.count(),
        MemberConsent.objects.count(),
        MemberMerge.objects.count(),
    )


# --- joining ---------------------------------------------------------------------------------


def test_join_by_phone_at_a_till_stores_the_phone_encrypted_and_hashed(in_mall_a):
    joined = join_member(channel=RegistrationChannel.TILL, phone="+86 138-0013-8000", name="王芳")
    assert joined.created is True
    member = Member.objects.get(pk=joined.member.pk)
    assert (member.registration_channel, member.status, member.is_active, member.name) == (
        "till",
        "active",
        True,
        "王芳",
    )
    (identity,) = MemberIdentity.objects.filter(member=member)
    assert (identity.kind, identity.value_hash, identity.verified_at) == (
        "phone",
        identity_hash(PHONE),
        None,
    )
    assert PHONE not in identity.value_encrypted
    assert decrypt(identity.value_encrypted) == PHONE


def test_joining_again_with_the_same_phone_finds_the_member(in_mall_a):
    first = join_member(channel=RegistrationChannel.TILL, phone=PHONE)
    before = _counts()
    again = join_member(
        channel=RegistrationChannel.APP, phone="8613800138000", phone_verified=True, name="Other"
    )
    assert (again.created, again.member.pk) == (False, first.member.pk)
    assert again.member.name == ""  # an existing member keeps its profile
    assert _counts() == before
    identity = MemberIdentity.objects.get(member=first.member)
    assert identity.verified_at is not None  # the verified login recorded the verification


def test_join_records_consents_with_their_source(in_mall_a):
    joined = join_member(
        channel=RegistrationChannel.APP,
        phone=PHONE,
        consents={"data_processing": True, "marketing": False},
    )
    rows = list(
        MemberConsent.objects.filter(member=joined.member)
        .order_by("kind")
        .values_list("kind", "granted", "source")
    )
    assert rows == [("data_processing", True, "app"), ("marketing", False, "app")]
    assert current_consents(member=joined.member) == {
        "data_processing": True,
        "marketing": False,
        "third_party_sharing": False,
    }


def test_join_by_wechat_identities_then_unionid_finds_the_member(in_mall_a):
    first = join_member(
        channel=RegistrationChannel.WECHAT,
        identities=[
            NewIdentity(IdentityKind.WECHAT_OPENID, "openid-aaaa", verified=True),
            NewIdentity(IdentityKind.WECHAT_UNIONID, "unionid-bbbb", verified=True),
        ],
    )
    # the same person through another mini-program of the mall: new openid, same unionid
    again = join_member(
        channel=RegistrationChannel.WECHAT,
        identities=[
            NewIdentity(IdentityKind.WECHAT_OPENID, "openid-cccc", verified=True),
            NewIdentity(IdentityKind.WECHAT_UNIONID, "unionid-bbbb", verified=True),
        ],
    )
    assert (again.created, again.member.pk) == (False, first.member.pk)
    assert sorted(
        MemberIdentity.objects.filter(member=first.member).values_list("kind", flat=True)
    ) == ["wechat_openid", "wechat_openid", "wechat_unionid"]


def test_bad_input_to_join_changes_nothing(in_mall_a):
    before = _counts()
    with pytest.raises(PhoneInvalidError):
        join_member(channel=RegistrationChannel.TILL, phone="12345")
    with pytest.raises(ProfileInvalidError):
        join_member(channel=RegistrationChannel.TILL, phone=PHONE, birthday=dt.date(2999, 1, 1))
    with pytest.raises(ConsentInvalidError):
        join_member(channel=RegistrationChannel.APP, phone=PHONE, consents={"spam": True})
    assert _counts() == before


def test_identities_are_unique_per_kind_in_the_database(in_mall_a):
    member = create_member()
    MemberIdentity.objects.create(
        member=member, kind="card", value_hash=identity_hash("C-1"), value_encrypted="x"
    )
    other = create_member()
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberIdentity.objects.create(
            member=other, kind="card", value_hash=identity_hash("C-1"), value_encrypted="y"
        )


def test_attach_identity_refuses_another_members_identifier(in_mall_a):
    owner = join_member(channel=RegistrationChannel.TILL, phone=PHONE).member
    other = create_member()
    with pytest.raises(IdentityTakenError) as caught:
        attach_identity(member=other, kind=IdentityKind.PHONE, value=PHONE)
    assert (caught.value.code, caught.value.http_status) == ("members.identity_taken", 409)
    plate = attach_identity(member=other, kind=IdentityKind.PLATE, value="沪A·12345")
    assert decrypt(plate.value_encrypted) == "沪A12345"
    assert find_member(phone=PHONE) == owner


def test_find_member_by_each_key(in_mall_a):
    member = join_member(
        channel=RegistrationChannel.IMPORT,
        phone=PHONE,
        identities=[NewIdentity(IdentityKind.CARD, "C-0001")],
    ).member
    assert find_member(phone="+86 13800138000") == member
    assert find_member(member_no=member.member_no.lower()) == member
    assert find_member(card="c-0001") == member
    assert find_member(phone=OTHER_PHONE) is None
    with pytest.raises(ValueError, match="exactly one"):
        find_member(phone=PHONE, card="C-0001")


# --- profile and consents --------------------------------------------------------------------


def test_consents_keep_their_history(in_mall_a):
    member = create_member()
    set_consents(member=member, consents={"marketing": True}, source="app")
    set_consents(member=member, consents={"marketing": True}, source="app")  # no change, no row
    state = set_consents(member=member, consents={"marketing": False}, source="console")
    assert state["marketing"] is False
    assert list(
        MemberConsent.objects.filter(member=member)
        .order_by("at", "id")
        .values_list("granted", "source")
    ) == [(True, "app"), (False, "console")]


def test_a_member_sets_the_birthday_once(in_mall_a):
    member = create_member()
    update_profile(member=member, changes={"birthday": dt.date(1990, 5, 1)}, by_member=True)
    update_profile(member=member, changes={"birthday": dt.date(1990, 5, 1)}, by_member=True)
    with pytest.raises(BirthdayLockedError):
        update_profile(member=member, changes={"birthday": dt.date(1991, 5, 1)}, by_member=True)
    update_profile(member=member, changes={"birthday": dt.date(1991, 5, 1)})  # staff may correct
    assert Member.objects.get(pk=member.pk).birthday == dt.date(1991, 5, 1)


# --- merging ---------------------------------------------------------------------------------


def _member_with_points(phone, points, key):
    member = join_member(channel=RegistrationChannel.TILL, phone=phone).member
    earn_points(member=member, points=points, idempotency_key=key, reason="sale")
    return member


def test_merge_moves_identities_consents_and_points(in_mall_a):
    source = _member_with_points(OTHER_PHONE, 120, "earn-src")
    attach_identity(member=source, kind=IdentityKind.CARD, value="C-77")
    set_consents(member=source, consents={"marketing": True}, source="app")
    source.name = "王芳"
    source.save(update_fields=["name"])
    target = _member_with_points(PHONE, 30, "earn-tgt")
    issue_member_tokens(member=source)

    merge = merge_members(source=source, target=target, actor="staff:x", reason="same person")

    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.status, source.is_active, source.merged_into_id) == ("merged", False, target.pk)
    assert target.name == "王芳"  # filled from the duplicate
    assert sorted(MemberIdentity.objects.filter(member=target).values_list("kind", flat=True)) == [
        "card",
        "phone",
        "phone",
    ]
    assert MemberIdentity.objects.filter(member=source).count() == 0
    assert current_consents(member=target)["marketing"] is True
    assert (merge.identities_moved, merge.consents_moved, merge.automatic) == (2, 1, False)
    assert find_member(phone=OTHER_PHONE) == target
    assert find_member(member_no=source.member_no) == target
    # the ledger moved in one entry: nothing lost, nothing counted twice
    assert loyalty_selectors.points_summary(member=target).balance == 150
    assert loyalty_selectors.points_summary(member=source).balance == 0
    assert loyalty_selectors.posted_balance(member=target) == 150
    assert loyalty_selectors.open_lots_balance(member=target) == 150
    assert JournalEntry.objects.get(pk=merge.ledger_entry_id).kind == "merge"
    # the duplicate's logins ended
    assert (
        AuthSession.objects.filter(subject_id=str(source.pk), revoked_at__isnull=True).count() == 0
    )


def test_merge_refuses_bad_pairs_and_changes_nothing(in_mall_a):
    a = create_member()
    b = create_member()
    closed = create_member()
    close_member(member=closed, actor="test")
    before = _counts()
    for source, target, reason in ((a, a, "x"), (a, closed, "x"), (closed, a, "x"), (a, b, " ")):
        with pytest.raises(MergeInvalidError) as caught:
            merge_members(source=source, target=target, actor="staff:x", reason=reason)
        assert caught.value.code == "members.merge_invalid"
    merge_members(source=a, target=b, actor="staff:x", reason="dup")
    with pytest.raises(MergeInvalidError):  # a member is merged once
        merge_members(source=a, target=b, actor="staff:x", reason="dup")
    assert _counts()[3] == before[3] + 1


# --- export and closing ------------------------------------------------------------------------


def test_export_holds_everything_we_keep(in_mall_a):
    member = _member_with_points(PHONE, 50, "earn-exp")
    attach_identity(member=member, kind=IdentityKind.PLATE, value="沪A12345", verified=True)
    set_consents(member=member, consents={"data_processing": True}, source="app")
    update_profile(member=member, changes={"name": "李雷", "birthday": dt.date(1990, 5, 1)})
    duplicate = join_member(channel=RegistrationChannel.TILL, phone=OTHER_PHONE).member
    merge_members(source=duplicate, target=member, actor="staff:x", reason="dup")

    data = export_member_data(member=member)

    json.dumps(data)  # JSON-ready as it is
    assert data["format"] == "atrium.member-export/1"
    assert data["member"]["member_no"] == member.member_no
    assert (data["member"]["name"], data["member"]["birthday"]) == ("李雷", "1990-05-01")
    assert sorted((i["kind"], i["value"]) for i in data["identities"]) == [
        ("phone", PHONE),
        ("phone", OTHER_PHONE),
        ("plate", "沪A12345"),
    ]
    assert [(c["kind"], c["granted"], c["source"]) for c in data["consents"]] == [
        ("data_processing", True, "app")
    ]
    assert [m["member_no"] for m in data["merged_accounts"]] == [duplicate.member_no]
    assert data["merges"][0]["source_member_no"] == duplicate.member_no
    assert data["loyalty"]["points_balance"] == 50
    assert [(e["kind"], e["points"]) for e in data["loyalty"]["points_entries"]] == [
        ("merge", 0),
        ("earn", 50),
    ]


def test_closing_erases_personal_data_and_keeps_the_ledger(in_mall_a):
    member = _member_with_points(PHONE, 80, "earn-close")
    update_profile(member=member, changes={"name": "李雷", "display_name": "Lei", "gender": "male"})
    update_profile(member=member, changes={"birthday": dt.date(1990, 5, 1)})
    set_consents(member=member, consents={"marketing": True}, source="app")
    duplicate = join_member(channel=RegistrationChannel.TILL, phone=OTHER_PHONE, name="LL").member
    merge_members(source=duplicate, target=member, actor="staff:x", reason="dup")
    issue_member_tokens(member=member)
    entries_before = JournalEntry.objects.filter(member=member).count()

    close_member(member=member, actor="member:self")

    member.refresh_from_db()
    duplicate.refresh_from_db()
    assert (member.status, member.is_active, member.status_changed_at is not None) == (
        MemberStatus.CLOSED,
        False,
        True,
    )
    for person in (member, duplicate):
        assert (person.name, person.display_name, person.birthday, person.gender) == (
            "",
            "",
            None,
            "unknown",
        )
        assert person.code_secret == ""
    assert MemberIdentity.objects.filter(member__in=[member, duplicate]).count() == 0
    assert primary_phone(member=member) is None
    assert find_member(phone=PHONE) is None
    assert current_consents(member=member)["marketing"] is False
    assert MemberConsent.objects.filter(member=member, source="closing").count() == 1
    assert (
        AuthSession.objects.filter(subject_id=str(member.pk), revoked_at__isnull=True).count() == 0
    )
    # the 80 points left are forfeited by one balanced entry: the ledger stays consistent
    assert JournalEntry.objects.filter(member=member).count() == entries_before + 1
    forfeit = JournalEntry.objects.get(member=member, kind="forfeit")
    assert (forfeit.points, forfeit.idempotency_key, forfeit.actor) == (
        -80,
        f"close:{member.pk}",
        "member:self",
    )
    assert sorted(forfeit.postings.values_list("account", "amount")) == [
        ("forfeited", 80),
        ("member", -80),
    ]
    assert loyalty_selectors.posted_balance(member=member) == 0
    assert loyalty_selectors.open_lots_balance(member=member) == 0
    assert loyalty_selectors.points_summary(member=member).balance == 0
    # the phone is free: the same person may join again as a new member
    again = join_member(channel=RegistrationChannel.APP, phone=PHONE)
    assert again.created is True
    with pytest.raises(MemberNotActiveError):
        close_member(member=member, actor="member:self")


def test_joining_merging_and_closing_are_announced_without_personal_data(in_mall_a):
    a = join_member(channel=RegistrationChannel.TILL, phone=PHONE, name="王芳").member
    b = join_member(channel=RegistrationChannel.APP, phone=OTHER_PHONE).member
    merge_members(source=a, target=b, actor="staff:x", reason="dup")
    close_member(member=b, actor="member:self")
    events = [
        (e.topic, e.payload)
        for e in OutboxEvent.objects.filter(topic__startswith="members.").order_by("created_at")
    ]
    assert events == [
        ("members.joined", {"member_id": str(a.pk), "channel": "till"}),
        ("members.joined", {"member_id": str(b.pk), "channel": "app"}),
        ("members.merged", {"source_id": str(a.pk), "target_id": str(b.pk), "automatic": False}),
        ("members.closed", {"member_id": str(b.pk)}),
    ]
