"""Errors of the imports app, each with a stable code (rendered by `atrium.api_errors`)."""

from atrium.errors import InvalidInputError, NotFoundError


class ImportJobNotFoundError(NotFoundError):
    code = "imports.not_found"


class ImportJobInvalidError(InvalidInputError):
    """The job's kind and merchant do not go together (sales need a merchant, members none)."""

    code = "imports.invalid"
