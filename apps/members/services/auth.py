"""Member login and account actions that need a fresh proof: SMS code, WeChat, phone binding.

- `login_with_otp`: a verified phone logs in its member, or joins a new one (channel app).
- `login_with_wechat`: a mini-program login code logs in by openid (then unionid), or joins.
- `bind_phone`: a signed-in member proves a phone; if another member holds it, the signed-in
  account is merged into that one automatically (the phone's member is the one tills and the
  console know) and a token pair for the survivor comes back.
- `close_own_account`: `{"confirm": true}` plus, when the member has a phone, a code sent to it,
  so a stolen access token alone cannot erase an account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apps.members import selectors
from apps.members.choices import ConsentSource, IdentityKind, RegistrationChannel
from apps.members.errors import (
    ConfirmationRequiredError,
    NoPhoneError,
    WeChatCodeInvalidError,
    WeChatUnavailableError,
)
from apps.members.identities import normalize_phone
from apps.members.models import Member
from apps.members.services.members import (
    NewIdentity,
    attach_identity,
    issue_member_tokens,
    join_member,
)
from apps.members.services.merge import merge_members
from apps.members.services.otp import OtpSent, check_otp, send_otp
from apps.members.services.privacy import close_member
from atrium.tokens import TokenPair
from integrations.wechat import client as wechat


@dataclass(frozen=True)
class MemberLogin:
    member: Member
    tokens: TokenPair
    created: bool


@dataclass(frozen=True)
class PhoneBound:
    """The member that now holds the phone; `tokens` is set when the caller was merged into it."""

    member: Member
    merged: bool
    tokens: TokenPair | None


def login_with_otp(
    *, phone: str, otp: str, consents: Mapping[str, bool] | None = None
) -> MemberLogin:
    """Log in (or join) with a phone and the code texted to it.

    Raises PhoneInvalidError, OtpExpiredError, OtpInvalidError, OtpAttemptsExceededError,
    ConsentInvalidError.
    """
    phone = normalize_phone(phone)
    check_otp(phone=phone, otp=otp)
    joined = join_member(
        channel=RegistrationChannel.APP,
        phone=phone,
        phone_verified=True,
        consents=consents,
        consent_source=ConsentSource.APP,
    )
    return MemberLogin(
        member=joined.member,
        tokens=issue_member_tokens(member=joined.member),
        created=joined.created,
    )


def login_with_wechat(*, code: str, consents: Mapping[str, bool] | None = None) -> MemberLogin:
    """Log in (or join) with a mini-program `wx.login()` code.

    Raises WeChatCodeInvalidError, WeChatUnavailableError, ConsentInvalidError.
    """
    try:
        session = wechat.code_to_session(code)
    except wechat.WeChatCodeInvalidError as exc:
        raise WeChatCodeInvalidError("the WeChat login code is invalid or used") from exc
    except wechat.WeChatError as exc:
        raise WeChatUnavailableError(
            "WeChat login is unavailable; try again", retryable=exc.retryable
        ) from exc
    identities = [NewIdentity(IdentityKind.WECHAT_OPENID, session.openid, verified=True)]
    if session.unionid:
        identities.append(NewIdentity(IdentityKind.WECHAT_UNIONID, session.unionid, verified=True))
    joined = join_member(
        channel=RegistrationChannel.WECHAT,
        identities=identities,
        consents=consents,
        consent_source=ConsentSource.WECHAT,
    )
    return MemberLogin(
        member=joined.member,
        tokens=issue_member_tokens(member=joined.member),
        created=joined.created,
    )


def bind_phone(*, member: Member, phone: str, otp: str) -> PhoneBound:
    """Add a verified phone to a signed-in member, merging into the phone's member if another
    holds it. Raises PhoneInvalidError, Otp*Error, MemberNotActiveError, MergeInvalidError."""
    phone = normalize_phone(phone)
    check_otp(phone=phone, otp=otp)
    holder = selectors.identity_holder(kind=IdentityKind.PHONE, value=phone)
    if holder is None or holder.member_id == member.pk:
        attach_identity(member=member, kind=IdentityKind.PHONE, value=phone, verified=True)
        return PhoneBound(member=member, merged=False, tokens=None)
    target = holder.member
    merge_members(
        source=member,
        target=target,
        actor=f"member:{member.pk}",
        reason="verified phone matched another member",
        automatic=True,
    )
    attach_identity(member=target, kind=IdentityKind.PHONE, value=phone, verified=True)
    return PhoneBound(member=target, merged=True, tokens=issue_member_tokens(member=target))


def send_own_otp(*, member: Member, ip: str) -> OtpSent:
    """Text a code to the member's own phone (to confirm closing). Raises NoPhoneError,
    OtpRateLimitedError, SmsUnavailableError."""
    phone = selectors.primary_phone(member=member)
    if phone is None:
        raise NoPhoneError("this account has no phone number")
    return send_otp(phone=phone, ip=ip)


def close_own_account(*, member: Member, confirm: bool, otp: str | None) -> Member:
    """A member closes their account. Raises ConfirmationRequiredError, Otp*Error,
    MemberNotActiveError."""
    if not confirm:
        raise ConfirmationRequiredError("set confirm to true to close the account", needs="confirm")
    phone = selectors.primary_phone(member=member)
    if phone is not None:
        if not otp:
            raise ConfirmationRequiredError(
                "a code texted to the account's phone is required", needs="otp"
            )
        check_otp(phone=phone, otp=otp)
    return close_member(member=member, actor=f"member:{member.pk}")
