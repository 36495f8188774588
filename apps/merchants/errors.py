from atrium.errors import AuthenticationError, NotFoundError


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
