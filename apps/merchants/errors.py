from atrium.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)


class MerchantNotFoundError(NotFoundError):
    code = "merchant.not_found"


class ApiKeyNotFoundError(NotFoundError):
    code = "merchant.api_key_not_found"


class SignatureInvalidError(AuthenticationError):
    code = "auth.signature_invalid"


class SignatureExpiredError(AuthenticationError):
    code = "auth.signature_expired"


class SignatureReplayedError(AuthenticationError):
    code = "auth.signature_replayed"


class ApiKeyRevokedError(AuthenticationError):
    code = "auth.api_key_revoked"


class BusinessFormatNotFoundError(NotFoundError):
    code = "merchant.business_format_not_found"


class BusinessFormatExistsError(ConflictError):
    code = "merchant.business_format_exists"


class MerchantInvalidError(InvalidInputError):
    code = "merchant.invalid"


class LogoInvalidError(InvalidInputError):
    code = "merchant.logo_invalid"


class LogoNotFoundError(NotFoundError):
    code = "merchant.logo_not_found"


class ContractInvalidError(InvalidInputError):
    code = "merchant.contract_invalid"


class ContractBackdatedError(ConflictError):
    code = "merchant.contract_backdated"


class ContractNotFoundError(NotFoundError):
    code = "merchant.contract_not_found"
