"""Errors of the members app, each with a stable code (rendered by `atrium.api_errors`)."""

from atrium.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    ThrottledError,
)


class MemberNotFoundError(NotFoundError):
    code = "members.not_found"


class MemberNotActiveError(ConflictError):
    code = "members.not_active"


class PhoneInvalidError(InvalidInputError):
    code = "members.phone_invalid"


class IdentityInvalidError(InvalidInputError):
    code = "members.identity_invalid"


class IdentityTakenError(ConflictError):
    code = "members.identity_taken"


class ProfileInvalidError(InvalidInputError):
    code = "members.profile_invalid"


class NoPhoneError(ConflictError):
    code = "members.no_phone"


class ConsentInvalidError(InvalidInputError):
    code = "members.consent_invalid"


class BirthdayLockedError(ConflictError):
    code = "members.birthday_locked"


class MergeInvalidError(ConflictError):
    code = "members.merge_invalid"


class ConfirmationRequiredError(InvalidInputError):
    code = "members.confirmation_required"


class OtpRateLimitedError(ThrottledError):
    code = "members.otp_rate_limited"


class OtpInvalidError(AuthenticationError):
    code = "members.otp_invalid"


class OtpExpiredError(AuthenticationError):
    code = "members.otp_expired"


class OtpAttemptsExceededError(ThrottledError):
    code = "members.otp_attempts_exceeded"


class MemberCodeInvalidError(NotFoundError):
    code = "members.code_invalid"


class MemberCodeExpiredError(ConflictError):
    code = "members.code_expired"


class MemberCodeReusedError(ConflictError):
    code = "members.code_reused"


class ImportInvalidError(InvalidInputError):
    code = "members.import_invalid"


class SmsUnavailableError(DomainError):
    code, http_status = "sms.unavailable", 503


class WeChatCodeInvalidError(AuthenticationError):
    code = "wechat.code_invalid"


class WeChatUnavailableError(DomainError):
    code, http_status = "wechat.unavailable", 503
