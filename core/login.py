"""Login protection (issue 13): django-axes counts failed logins per username and per address (settings AXES_*);
these are the project's hooks: the client address behind the proxy, and the lockout page."""

import math

from django.conf import settings
from django.shortcuts import render


def client_address(request) -> str | None:
    """The address a login comes from. Behind the TLS proxy (DJANGO_BEHIND_PROXY) it is the last address the proxy
    appended to X-Forwarded-For (the proxy strips what clients send), as the API's throttling reads it."""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-1]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets (both login pages): 429, what happened and when to try again, in the
    user's language, and Retry-After in seconds."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
