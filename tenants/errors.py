from atrium.errors import ConflictError, DomainError, NotFoundError


class TenantNotFoundError(NotFoundError):
    code = "tenant.not_found"


class TenantSuspendedError(DomainError):
    code, http_status = "tenant.suspended", 403


class TenantArchivedError(DomainError):
    code, http_status = "tenant.archived", 403


class SlugInvalidError(DomainError):
    code, http_status = "tenant.slug_invalid", 400


class SlugTakenError(ConflictError):
    code = "tenant.slug_taken"


class TenantStateError(ConflictError):
    code = "tenant.invalid_state"


class TemplateStaleError(DomainError):
    code, http_status = "tenant.template_stale", 503


class ExportNotFoundError(NotFoundError):
    code = "tenant.export_not_found"


class BackupToolError(DomainError):
    code, http_status = "tenant.backup_failed", 500
