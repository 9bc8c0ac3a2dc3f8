"""API plumbing shared by every app: the error shape, conflicts, pagination, idempotency keys, the body of a POST
that acts on one object (`object_action`).

Every error leaves the API as `{"error": {"code", "message", "fields"}}` (API.md).
"""

import hashlib
import json
import logging
import math
import sys
from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .db import (
    WriteConflict,
    is_conflict,
    is_database_unavailable,
    retry_after,
    retry_on_conflict,
    unavailable_response,
)
from .db import api_body as db_unavailable_body
from .errors import DomainError, InvalidInput, RuleViolation
from .models import IdempotencyRecord

logger = logging.getLogger(__name__)


# Short names for the API layer.
BadRequest = InvalidInput
Conflict = RuleViolation


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        parts = [f"{k}: {_flatten(v)}" for k, v in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    return str(detail)


_STATUS_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def exception_handler(exc, context):
    """DRF exception handler that renders every error in the contract's shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if is_conflict(exc):  # a deadlock or serialization failure no retry boundary caught (core.db)
        logger.warning("Write conflict outside a retry boundary: %s", exc)
        exc = WriteConflict("Concurrent changes to the same records conflicted with this request; nothing was written.")
    if isinstance(exc, DomainError):
        wait = getattr(exc, "retry_after", None)
        return Response(
            error_body(exc.code, exc.message, exc.fields),
            status=exc.http_status,
            headers={"Retry-After": str(wait)} if wait else None,
        )
    if is_database_unavailable(exc):  # the pool exhausted, PostgreSQL down or refusing: retry later, not a 500
        logger.warning("Database unavailable for %s: %s", context["request"].path, exc)
        return Response(db_unavailable_body(), status=503, headers={"Retry-After": retry_after()})
    if isinstance(exc, RequestDataTooBig):  # a body over DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            error_body("request_too_large", f"The request body is too large ({exc})."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):  # e.g. a form body with more fields than Django parses
        exc = exceptions.ParseError(f"Malformed request: {exc}")

    headers = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
        if isinstance(exc, exceptions.ValidationError):
            detail = exc.detail
            fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
            body = error_body("invalid", "Invalid input: " + _flatten(fields), fields)
        else:
            code = next((c for cls, c in _STATUS_CODES.items() if isinstance(exc, cls)), "error")
            given = getattr(exc.detail, "code", None)  # a permission's own code, e.g. missing_scope
            if given and given != exc.default_code:
                code = given
            body = error_body(code, _flatten(exc.detail))
        return Response(body, status=exc.status_code, headers=headers)

    logger.exception("Unhandled API error", exc_info=exc)
    return Response(
        error_body("server_error", "An unexpected error occurred; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_404(request, exception=None):
    """404 for unknown URLs: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request):
    if is_database_unavailable(sys.exc_info()[1]):  # failed outside a view (a middleware): still a 503
        return unavailable_response(request, sys.exc_info()[1])
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)
    from django.views.defaults import server_error

    return server_error(request)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def parse_json_rows(data, *, max_rows: int) -> list:
    """A bulk body must be a non-empty JSON array of objects, at most `max_rows` long."""
    if not isinstance(data, list):
        raise BadRequest("The body must be a JSON array of rows.", code="invalid")
    if not data:
        raise BadRequest("The body is an empty array: nothing to write.", code="invalid")
    if len(data) > max_rows:
        raise BadRequest(f"{len(data)} rows in one request; at most {max_rows} are accepted.", code="too_many_rows")
    return data


def raise_row_errors(errors: dict[int, dict], total: int) -> None:
    """Refuse a whole bulk request, naming every bad row by its index."""
    if errors:
        indexes = sorted(errors)
        raise BadRequest(
            f"{len(indexes)} of {total} rows are invalid (rows {', '.join(map(str, indexes[:50]))}"
            f"{'…' if len(indexes) > 50 else ''}); nothing was written.",
            code="invalid_rows",
            fields={str(i): errors[i] for i in indexes},
        )


# Answers worth replaying: success, and a business refusal (409). Bad input is not recorded,
# so a client can correct it and retry with the same key.
_RECORDED = {200, 201, 202, 409}


def idempotent(view_method):
    """Honour an `Idempotency-Key` header on a write: a replay returns the first answer.

    A replay with a different body under the same key is refused (409 `idempotency_key_reused`).
    Concurrent requests with one key: the unique constraint lets one win; the other's writes are
    rolled back and it returns the winner's stored answer.

    The whole write (the key's lookup, the view, the stored answer) is one transaction, retried on a deadlock or a
    serialization failure (`core.db.retry_on_conflict`): a retry looks the key up again, so an attempt that failed
    has stored nothing and a key is never answered twice differently.
    """

    @wraps(view_method)
    @retry_on_conflict
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 200:
            raise BadRequest("Idempotency-Key is longer than 200 characters.", fields={"Idempotency-Key": ["too long"]})
        payload = json.dumps(request.data, sort_keys=True, default=str)
        request_hash = hashlib.sha256(f"{request.method} {request.path}\n{payload}".encode()).hexdigest()

        def replay(record: IdempotencyRecord) -> Response:
            if record.request_hash != request_hash:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request.",
                    code="idempotency_key_reused",
                )
            return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})

        record = IdempotencyRecord.objects.filter(client=request.user, key=key).first()
        if record:
            return replay(record)
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        response = view_method(self, request, *args, **kwargs)
                except Conflict as exc:
                    response = exception_handler(exc, {})
                if response.status_code in _RECORDED:
                    IdempotencyRecord.objects.create(
                        client=request.user,
                        key=key,
                        method=request.method,
                        path=request.path[:300],
                        request_hash=request_hash,
                        status_code=response.status_code,
                        body=json.loads(JSONRenderer().render(response.data) or b"null"),
                    )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(client=request.user, key=key).first()
            if record is None:
                raise
            return replay(record)
        return response

    return wrapper


def object_action(
    request,
    object_id: int,
    *,
    lookup: Callable[[int], object],
    payload: type,
    act: Callable[[object, dict], object],
    answer: type,
) -> Response:
    """The body of a POST that acts on one object (a transition, a hand-over, an extension): the object through its
    scoped lookup `lookup(id)` (a 404 outside the caller's scope, before the body is read), the body validated by
    the serializer class `payload` (a 400 naming the fields), `act(object, data)` (the service: a 409 when a rule
    refuses), then the object read again through `lookup` and answered (200) by the serializer class `answer`."""
    obj = lookup(object_id)
    serializer = payload(data=request.data)
    serializer.is_valid(raise_exception=True)
    act(obj, dict(serializer.validated_data))
    return Response(answer(lookup(obj.pk), context={"request": request}).data)


def object_actions(lookup: Callable[..., object], answer: type) -> Callable[..., Response]:
    """`object_action` bound to one kind of object: returns `action(request, object_id, payload, act)` whose
    scoped lookup is `lookup(pk, user=request.user)` and whose answer is the serializer class `answer`."""

    def action(request, object_id: int, payload: type, act: Callable[[object, dict], object]) -> Response:
        return object_action(
            request,
            object_id,
            lookup=lambda pk: lookup(pk, user=request.user),
            payload=payload,
            act=act,
            answer=answer,
        )

    return action
