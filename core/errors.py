"""Domain errors: raised by services, rendered by the API (error shape) and the admin (messages)."""


class DomainError(Exception):
    http_status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.fields = fields or {}


class InvalidInput(DomainError):
    """Bad input: 400, every bad field named in `fields`."""


class RuleViolation(DomainError):
    """A business rule refuses the request (state, quota, frozen, exists): 409."""

    http_status = 409
    default_code = "conflict"


class NotFoundError(DomainError):
    http_status = 404
    default_code = "not_found"


def user_message(exc: DomainError, *, codes: dict, fields: dict) -> str:
    """A refusal of the services (which speak English) in the user's language: the page's text for its code, else
    the texts of its bad fields, else the service's message."""
    if exc.code in codes:
        return str(codes[exc.code])
    if isinstance(exc, InvalidInput):
        named = [str(fields[f]) for f in exc.fields if f in fields]
        if named:
            return " ".join(named)
    return exc.message
