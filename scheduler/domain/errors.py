"""Domain exceptions: each carries a machine-readable code. api/ turns them into HTTP once."""


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors or {}


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request is well-formed but conflicts with the current state (a 409)."""

    code = "conflict"


class Invalid(DomainError):
    """A field is wrong in a way only the domain can tell (a 422); errors names the fields."""

    code = "validation_error"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class UpstreamFailed(DomainError):
    """Something we depend on outside (a calendar server) failed; nothing of ours changed."""

    code = "upstream_failed"
