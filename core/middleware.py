"""Requests that no view should see are answered 400 here, before sessions, authentication or a view read them.

A NUL character (`%00`) in the URL path, the query string, a header or cookie, or a form body: PostgreSQL cannot
store or compare it, and a lookup with one was a 500 (issue 13). Under /api/ the answer is the API's error shape
(`malformed_request`), elsewhere a plain 400 page. JSON bodies are checked by the JSON parser (core.parsers).
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

from .api import error_body

logger = logging.getLogger(__name__)

NUL = "\x00"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_problem(request) -> tuple[str, str] | None:
    """(where, message) of the first NUL character in the request, or None."""
    if NUL in request.path_info:
        return "path", _("The URL path holds a NUL character (%00).")
    query = request.META.get("QUERY_STRING", "")
    if NUL in query or "%00" in query:
        names = sorted({k for k, values in request.GET.lists() for v in [k, *values] if NUL in v})
        return "query", _("The query string holds a NUL character (%%00): %(names)s.") % {
            "names": ", ".join(names) or "?"
        }
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and isinstance(value, str):
            if NUL in value:
                header = key.removeprefix("HTTP_").replace("_", "-").title()
                return "headers", _("The %(header)s header holds a NUL character.") % {"header": header}
    if any(NUL in k or NUL in v for k, v in request.COOKIES.items()):
        return "headers", _("A cookie holds a NUL character.")
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith(_FORM_TYPES):
        # the raw body (read once; Django and DRF parse it from memory afterwards): the project takes no file
        # uploads, so a NUL byte in a multipart body is as wrong as an encoded one in a urlencoded body
        try:
            body = request.body
        except RequestDataTooBig:
            return None  # the view answers it (413 in the API)
        if b"\x00" in body or (content_type.startswith(_FORM_TYPES[0]) and b"%00" in body):
            return "body", _("The form data holds a NUL character (%00).")
    return None


class MalformedRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = nul_problem(request)
        if problem is None:
            return self.get_response(request)
        where, message = problem
        logger.warning("Refused a request with a NUL character in its %s: %s %r", where, request.method, request.path)
        if request.path_info.startswith("/api/"):
            return JsonResponse(error_body("malformed_request", message, {where: [message]}), status=400)
        page = f"<!doctype html><title>Bad Request (400)</title><h1>Bad Request (400)</h1><p>{escape(message)}</p>"
        return HttpResponseBadRequest(page)
