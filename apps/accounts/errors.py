from atrium.errors import AuthenticationError, ConflictError, DomainError, NotFoundError


class InvalidCredentialsError(AuthenticationError):
    code = "auth.invalid_credentials"


class InvitationInvalidError(DomainError):
    code, http_status = "auth.invitation_invalid", 400


class StaffNotFoundError(NotFoundError):
    code = "staff.not_found"


class UsernameTakenError(ConflictError):
    code = "staff.username_taken"


class RoleNotAllowedError(DomainError):
    code, http_status = "staff.role_not_allowed", 400


class WeakPasswordError(DomainError):
    code, http_status = "auth.weak_password", 400


class LastOwnerError(ConflictError):
    code = "staff.last_owner"
