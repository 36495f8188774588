"""Member API (the member app and mini-programs, also via `X-Tenant` on the API host) and the
console's member endpoints (search, 360° detail, merge, CSV import)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, StaffPrincipal
from apps.accounts.permissions import Permission, has_permission, require
from apps.loyalty.schemas import PointsSummaryOut
from apps.loyalty.selectors import points_summary
from apps.members import selectors, services
from apps.members.auth import MemberAuth, MemberPrincipal
from apps.members.choices import ConsentSource
from apps.members.identities import mask_phone
from apps.members.models import Member, MemberMerge
from apps.members.schemas import (
    ClosedOut,
    CloseIn,
    ConsentKindName,
    ConsentsIn,
    ConsentsOut,
    IdentityOut,
    MemberCodeOut,
    MemberDetailOut,
    MemberLoginOut,
    MemberMeOut,
    MemberRefOut,
    MemberSummaryOut,
    MergeIn,
    MergeOut,
    OtpLoginIn,
    OtpRequestIn,
    OtpSentOut,
    PhoneBindIn,
    PhoneBoundOut,
    ProfileUpdateIn,
    WeChatLoginIn,
)
from atrium import tokens
from atrium.idempotency import idempotent
from atrium.request_utils import client_ip
from atrium.schemas import ERROR_CODES, ErrorOut, RefreshIn, TokenPairOut

router = Router(tags=["member"], auth=MemberAuth())
console_router = Router(tags=["console: members"], auth=ConsoleAuth())

# Endpoints that call SMS or WeChat also answer 503 when the provider is unavailable.
UPSTREAM_ERROR_CODES = frozenset(ERROR_CODES | {503})


def _principal(request: HttpRequest) -> MemberPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MemberPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


def _consents(given: Mapping[ConsentKindName, bool] | None) -> dict[str, bool] | None:
    return {str(kind): granted for kind, granted in given.items()} if given is not None else None


def _login_out(login: services.MemberLogin) -> MemberLoginOut:
    return MemberLoginOut(
        **vars(login.tokens),
        member_id=login.member.pk,
        member_no=login.member.member_no,
        created=login.created,
    )


def _loyalty_summary(member: Member) -> PointsSummaryOut:
    """Points (spendable, pending, expiring within 30 days), growth, tier and the gap to the next."""
    return PointsSummaryOut.model_validate(points_summary(member=member), from_attributes=True)


def _me(request: HttpRequest, member: Member) -> MemberMeOut:
    phone = selectors.primary_phone(member=member)
    return MemberMeOut(
        id=member.pk,
        member_no=member.member_no,
        name=member.name,
        display_name=member.display_name,
        gender=member.gender,
        birthday=member.birthday,
        phone=mask_phone(phone) if phone else None,
        registration_channel=member.registration_channel,
        registered_at=member.registered_at,
        status=member.status,
        consents=selectors.current_consents(member=member),
        tenant=request.tenant.slug,  # type: ignore[attr-defined]  # set by tenant middleware
        created_at=member.created_at,
        loyalty=_loyalty_summary(member),
    )


# --- member: auth ---------------------------------------------------------------------------


@router.post("/auth/otp", auth=None, response={200: OtpSentOut, UPSTREAM_ERROR_CODES: ErrorOut})
def request_otp(request: HttpRequest, payload: OtpRequestIn) -> OtpSentOut:
    """Text a 6-digit login code to a phone (rate-limited per phone and per IP)."""
    sent = services.send_otp(phone=payload.phone, ip=client_ip(request))
    return OtpSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after)


@router.post("/auth/login", auth=None, response={200: MemberLoginOut, ERROR_CODES: ErrorOut})
def login(request: HttpRequest, payload: OtpLoginIn) -> MemberLoginOut:
    """Log in with a phone and its code; the first login joins (with the consents given)."""
    return _login_out(
        services.login_with_otp(
            phone=payload.phone, otp=payload.otp, consents=_consents(payload.consents)
        )
    )


@router.post(
    "/auth/wechat", auth=None, response={200: MemberLoginOut, UPSTREAM_ERROR_CODES: ErrorOut}
)
def login_wechat(request: HttpRequest, payload: WeChatLoginIn) -> MemberLoginOut:
    """Log in with a mini-program `wx.login()` code; an unknown openid/unionid joins."""
    return _login_out(
        services.login_with_wechat(code=payload.code, consents=_consents(payload.consents))
    )


@router.post("/auth/refresh", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """Swap a member refresh token for a new pair."""
    return TokenPairOut(**vars(services.refresh_member_tokens(refresh_token=payload.refresh_token)))


@router.post("/auth/logout", response={204: None, ERROR_CODES: ErrorOut})
def logout(request: HttpRequest) -> Status[None]:
    """End this login."""
    tokens.revoke_session(session=_principal(request).session)
    return Status(204, None)


# --- member: me -----------------------------------------------------------------------------


@router.get("/me", response={200: MemberMeOut, ERROR_CODES: ErrorOut})
def me(request: HttpRequest) -> MemberMeOut:
    """The signed-in member's profile and consents."""
    return _me(request, _principal(request).member)


@router.patch("/me", response={200: MemberMeOut, ERROR_CODES: ErrorOut})
def update_me(request: HttpRequest, payload: ProfileUpdateIn) -> MemberMeOut:
    """Change name, display name, gender or birthday (a birthday, once set, stays)."""
    member = services.update_profile(
        member=_principal(request).member,
        changes=payload.model_dump(exclude_unset=True),
        by_member=True,
    )
    return _me(request, member)


@router.put("/me/consents", response={200: ConsentsOut, ERROR_CODES: ErrorOut})
def update_consents(request: HttpRequest, payload: ConsentsIn) -> ConsentsOut:
    """Grant or withdraw consents; every change is kept as a dated record."""
    state = services.set_consents(
        member=_principal(request).member,
        consents=_consents(payload.consents) or {},
        source=ConsentSource.APP,
    )
    return ConsentsOut(consents=state)


@router.post("/me/phone", response={200: PhoneBoundOut, ERROR_CODES: ErrorOut})
def bind_phone(request: HttpRequest, payload: PhoneBindIn) -> PhoneBoundOut:
    """Add a verified phone; if another member holds it, this account merges into that one."""
    bound = services.bind_phone(
        member=_principal(request).member, phone=payload.phone, otp=payload.otp
    )
    return PhoneBoundOut(
        member_id=bound.member.pk,
        member_no=bound.member.member_no,
        merged=bound.merged,
        tokens=TokenPairOut(**vars(bound.tokens)) if bound.tokens else None,
    )


@router.get("/me/export", response={200: dict[str, Any], ERROR_CODES: ErrorOut})
def export_me(request: HttpRequest) -> dict[str, Any]:
    """A copy of everything the mall holds on the member (PIPL), identifiers in clear."""
    return services.export_member_data(member=_principal(request).member)


@router.post("/me/otp", response={200: OtpSentOut, UPSTREAM_ERROR_CODES: ErrorOut})
def request_own_otp(request: HttpRequest) -> OtpSentOut:
    """Text a code to the member's own phone, to confirm closing the account."""
    sent = services.send_own_otp(member=_principal(request).member, ip=client_ip(request))
    return OtpSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after)


@router.post("/me/close", response={200: ClosedOut, ERROR_CODES: ErrorOut})
def close_me(request: HttpRequest, payload: CloseIn) -> ClosedOut:
    """Close the account: `confirm: true`, plus `otp` (from `POST /me/otp`) if it has a phone.

    Personal data is erased and every session ends; points history stays, anonymised.
    """
    member = services.close_own_account(
        member=_principal(request).member, confirm=payload.confirm, otp=payload.otp
    )
    return ClosedOut(member_no=member.member_no, status=member.status)


@router.get("/code", response={200: MemberCodeOut, ERROR_CODES: ErrorOut})
def member_code(request: HttpRequest) -> MemberCodeOut:
    """The dynamic member code to show at a till; fetch again after `expires_in` seconds."""
    code = services.issue_member_code(member=_principal(request).member)
    return MemberCodeOut(
        code=code.code, qr_payload=code.code, barcode=code.code, expires_in=code.expires_in
    )


# --- console --------------------------------------------------------------------------------


def _staff_role(request: HttpRequest) -> str:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal.staff.role


def _staff_actor(request: HttpRequest) -> str:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return f"staff:{principal.staff.pk}"


def _show_phone(phone: str | None, *, clear: bool) -> str | None:
    if phone is None:
        return None
    return phone if clear else mask_phone(phone)


class MemberListItemOut(MemberSummaryOut):
    """The list item, with the phone masked unless the staff member may see personal data."""

    @staticmethod
    def resolve_phone(obj: Member, context: dict[str, Any]) -> str | None:
        clear = has_permission(_staff_role(context["request"]), Permission.VIEW_MEMBER_PII)
        return _show_phone(selectors.phone_of(list(obj.identities.all())), clear=clear)


def _merge_out(merge: MemberMerge) -> MergeOut:
    return MergeOut(
        id=merge.pk,
        source=MemberRefOut(id=merge.source.pk, member_no=merge.source.member_no),
        target=MemberRefOut(id=merge.target.pk, member_no=merge.target.member_no),
        actor=merge.actor,
        reason=merge.reason,
        automatic=merge.automatic,
        identities_moved=merge.identities_moved,
        consents_moved=merge.consents_moved,
        created_at=merge.created_at,
    )


# Fixed paths (/members/merges) are declared before /members/{member_id}.
@console_router.get("/members", response={200: list[MemberListItemOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-registered_at", "-id"))
def search_members(
    request: HttpRequest,
    member_no: str | None = None,
    phone: str | None = None,
    card: str | None = None,
) -> object:
    """Members, newest first; filter by exact member number, phone or card number."""
    require(_staff_role(request), Permission.VIEW_MEMBERS)
    return selectors.search_members(member_no=member_no, phone=phone, card=card)


@console_router.post("/members/merges", response={201: MergeOut, ERROR_CODES: ErrorOut})
@idempotent("console.members.merge")
def merge_members(request: HttpRequest, payload: MergeIn) -> Status[MergeOut]:
    """Merge a duplicate member (source) into another (target), with a reason."""
    require(_staff_role(request), Permission.MANAGE_MEMBERS)
    merge = services.merge_members(
        source=selectors.get_member(member_id=payload.source_member_id),
        target=selectors.get_member(member_id=payload.target_member_id),
        actor=_staff_actor(request),
        reason=payload.reason,
    )
    return Status(201, _merge_out(merge))


def _member_detail(member: Member, *, clear: bool) -> MemberDetailOut:
    identities = selectors.list_identities(member=member)
    merged_into = member.merged_into
    merges = selectors.list_merges(member=member).select_related("source", "target")
    return MemberDetailOut(
        id=member.pk,
        member_no=member.member_no,
        name=member.name,
        display_name=member.display_name,
        phone=_show_phone(selectors.phone_of(identities), clear=clear),
        status=member.status,
        registration_channel=member.registration_channel,
        registered_at=member.registered_at,
        gender=member.gender,
        birthday=member.birthday,
        merged_into=MemberRefOut(id=merged_into.pk, member_no=merged_into.member_no)
        if merged_into
        else None,
        identities=[
            IdentityOut(**vars(view)) for view in selectors.identity_views(identities, clear=clear)
        ],
        consents=selectors.current_consents(member=member),
        merges=[_merge_out(merge) for merge in merges],
        personal_data_visible=clear,
    )


@console_router.get("/members/{member_id}", response={200: MemberDetailOut, ERROR_CODES: ErrorOut})
def get_member(request: HttpRequest, member_id: uuid.UUID) -> MemberDetailOut:
    """One member: profile, identities, consents and merges (personal data by permission)."""
    role = _staff_role(request)
    require(role, Permission.VIEW_MEMBERS)
    member = selectors.get_member(member_id=member_id)
    return _member_detail(member, clear=has_permission(role, Permission.VIEW_MEMBER_PII))
