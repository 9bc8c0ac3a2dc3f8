"""Domain errors: raised by services, rendered by the API (error shape) and the admin (messages)."""

from collections.abc import Iterable


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


def check_transition(problem: str | None, allowed: Iterable[str]) -> None:
    """A state machine's refusal (a rules module's `transition_problem`, empty when the move is allowed) as the one
    409 every transition answers (API.md): code `invalid_transition`, the problem as the message and under
    `fields.to`, the moves allowed from where the object stands under `fields.allowed`."""
    if problem:
        raise RuleViolation(problem, code="invalid_transition", fields={"to": [problem], "allowed": list(allowed)})
