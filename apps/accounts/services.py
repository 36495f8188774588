"""Write use cases for staff accounts: invite, accept, log in, change roles, deactivate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.choices import MALL_ROLES, MERCHANT_ROLES, StaffRole, SubjectKind
from apps.accounts.errors import (
    InvalidCredentialsError,
    InvitationInvalidError,
    LastOwnerError,
    RoleNotAllowedError,
    UsernameTakenError,
    WeakPasswordError,
)
from apps.accounts.models import StaffUser
from apps.merchants.models import Merchant
from atrium import throttle, tokens
from atrium.crypto import new_secret, sha256_hex
from atrium.models import AuthSession

# A password hash that never matches, checked on unknown usernames so timing does not tell.
_DUMMY_HASH = make_password(None)


@dataclass(frozen=True)
class Invitation:
    staff: StaffUser
    token: str


def _check_role(*, role: str, merchant: Merchant | None) -> None:
    allowed = MERCHANT_ROLES if merchant is not None else MALL_ROLES
    if role not in allowed:
        raise RoleNotAllowedError(
            "role does not fit this account", role=role, allowed=sorted(allowed)
        )


def _set_password(staff: StaffUser, password: str) -> None:
    try:
        validate_password(password)
    except ValidationError as exc:
        raise WeakPasswordError("password is too weak", reasons=list(exc.messages)) from exc
    staff.password = make_password(password)


@transaction.atomic
def invite_staff(
    *,
    username: str,
    email: str = "",
    display_name: str = "",
    role: str,
    merchant: Merchant | None = None,
    password: str | None = None,
) -> Invitation:
    """Create a staff account with an invitation token (or a password set by an admin).

    Raises UsernameTakenError, RoleNotAllowedError, WeakPasswordError.
    """
    _check_role(role=role, merchant=merchant)
    token = new_secret()
    staff = StaffUser(
        username=username.strip().lower(),
        email=email,
        display_name=display_name or username,
        role=role,
        merchant=merchant,
        invitation_hash=sha256_hex(token),
        invitation_expires_at=timezone.now()
        + dt.timedelta(seconds=settings.INVITATION_TTL_SECONDS),
    )
    if password:
        _set_password(staff, password)
    try:
        with transaction.atomic():
            staff.save()
    except IntegrityError as exc:
        raise UsernameTakenError("username already exists", username=staff.username) from exc
    return Invitation(staff=staff, token=token)


@transaction.atomic
def accept_invitation(*, token: str, password: str) -> StaffUser:
    """Set the password of an invited account; the token works once. Raises InvitationInvalidError."""
    staff = (
        StaffUser.objects.select_for_update()
        .filter(invitation_hash=sha256_hex(token), is_active=True)
        .first()
    )
    if (
        staff is None
        or staff.invitation_expires_at is None
        or staff.invitation_expires_at <= timezone.now()
    ):
        raise InvitationInvalidError("invitation is invalid or expired")
    _set_password(staff, password)
    staff.invitation_hash = ""
    staff.invitation_expires_at = None
    staff.save(update_fields=["password", "invitation_hash", "invitation_expires_at", "updated_at"])
    return staff


def authenticate_staff(
    *, username: str, password: str, ip: str, merchant_portal: bool
) -> StaffUser:
    """Check a staff login for the console or the merchant portal, for tokens and sessions alike.

    Throttled per username and IP; inactive accounts, accounts without a password and merchant
    staff on the console (or mall staff on the merchant portal) are refused like a bad password.
    Raises ThrottledError, InvalidCredentialsError.
    """
    surface = "merchant" if merchant_portal else "console"
    username = username.strip().lower()
    throttle.check_login_allowed(surface=surface, username=username, ip=ip)
    staff = StaffUser.objects.select_related("merchant").filter(username=username).first()
    valid = (
        staff is not None
        and staff.is_active
        and staff.is_merchant_staff == merchant_portal
        and staff.has_password
        and check_password(password, staff.password)
    )
    if not valid or staff is None:
        if staff is None:
            check_password(password, _DUMMY_HASH)
        throttle.record_login_failure(surface=surface, username=username, ip=ip)
        raise InvalidCredentialsError("username or password is wrong")
    throttle.clear_login_failures(surface=surface, username=username)
    staff.last_login_at = timezone.now()
    staff.save(update_fields=["last_login_at"])
    return staff


def login_staff(
    *, username: str, password: str, ip: str, merchant_portal: bool
) -> tuple[StaffUser, tokens.TokenPair]:
    """Check a password and open a token session on the console or the merchant portal.

    Raises ThrottledError, InvalidCredentialsError.
    """
    staff = authenticate_staff(
        username=username, password=password, ip=ip, merchant_portal=merchant_portal
    )
    pair = tokens.issue_tokens(
        session_model=AuthSession, subject_kind=SubjectKind.STAFF, subject_id=str(staff.pk)
    )
    return staff, pair


def refresh_staff_tokens(*, refresh_token: str) -> tokens.TokenPair:
    """Rotate a staff refresh token. Raises AuthenticationError."""
    return tokens.refresh_tokens(
        session_model=AuthSession, refresh_token=refresh_token, subject_kinds={SubjectKind.STAFF}
    )


def _ensure_an_owner_remains(staff: StaffUser, *, new_role: str | None, active: bool) -> None:
    if staff.role != StaffRole.OWNER or (new_role == StaffRole.OWNER and active):
        return
    others = (
        StaffUser.objects.select_for_update()
        .filter(role=StaffRole.OWNER, is_active=True)
        .exclude(pk=staff.pk)
    )
    if not list(others):
        raise LastOwnerError("a mall must keep at least one active owner")


@transaction.atomic
def update_staff(
    *,
    staff: StaffUser,
    role: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
    is_active: bool | None = None,
) -> StaffUser:
    """Change a staff account's role, name or status. Raises RoleNotAllowedError, LastOwnerError."""
    fields: list[str] = []
    if role is not None and role != staff.role:
        _check_role(role=role, merchant=staff.merchant)
        fields.append("role")
    active = staff.is_active if is_active is None else is_active
    _ensure_an_owner_remains(staff, new_role=role or staff.role, active=active)
    if role is not None:
        staff.role = role
    if display_name is not None:
        staff.display_name = display_name
        fields.append("display_name")
    if email is not None:
        staff.email = email
        fields.append("email")
    if is_active is not None and is_active != staff.is_active:
        staff.is_active = is_active
        fields.append("is_active")
    if fields:
        staff.save(update_fields=[*fields, "updated_at"])
    if is_active is False or "role" in fields:
        # A demoted or deactivated person must not keep acting with tokens from before.
        tokens.revoke_subject_sessions(
            session_model=AuthSession, subject_kind=SubjectKind.STAFF, subject_id=str(staff.pk)
        )
    return staff


def deactivate_staff(*, staff: StaffUser) -> StaffUser:
    """Disable an account and end its sessions. Raises LastOwnerError."""
    return update_staff(staff=staff, is_active=False)
