"""The database unavailable: 503 with Retry-After instead of a 500, and connection pools that survive a fork.

A request that cannot get a database connection — the pool exhausted past its timeout (DATABASE_POOL_TIMEOUT),
PostgreSQL refusing connections (too many clients, starting up, shutting down) or unreachable, the connection lost
— answers 503 with `Retry-After: DATABASE_RETRY_AFTER`: the API in its error shape `{"error": {"code":
"database_unavailable", …}}`, pages with a short page (templates/503.html). Three places catch it: the DRF
exception handler (core.api) for API views, `DatabaseUnavailableMiddleware` for every other view (in DEBUG too),
and the 500 handler (core.api.json_500) for what fails outside a view. Errors of a query itself (a deadlock, a
constraint, a timeout) stay what they are.
"""

import logging
import os
import sys
from contextlib import contextmanager

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

# SQLSTATE classes and codes that say the server cannot serve this client now (not that the query was wrong):
# 08 connection exception, 53 insufficient resources (53300 too many connections), 57P01-57P03 admin shutdown,
# crash shutdown, cannot connect now (starting up, in recovery).
UNAVAILABLE_CLASSES = ("08", "53")
UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")
# SQLite's equivalents: another process holds the write lock past the timeout, or the file cannot be opened.
SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc` (a Django database error) says no connection could be had or kept, not that a query
    failed."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    if type(cause).__name__ == "PoolTimeout":  # psycopg_pool: no free connection within the pool's timeout
        return True
    module = type(cause).__module__ or ""
    if module.startswith("psycopg"):
        state = getattr(cause, "sqlstate", None)
        if state:
            return state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_STATES
        # No SQLSTATE: the client library's own failure — refused, unreachable, timed out, connection lost.
        return True
    if module.startswith("sqlite3"):
        return any(text in str(cause).lower() for text in SQLITE_UNAVAILABLE)
    return isinstance(exc, InterfaceError)  # Django's "connection already closed"


def retry_after() -> str:
    return str(getattr(settings, "DATABASE_RETRY_AFTER", 5))


def api_body() -> dict:
    return {
        "error": {
            "code": "database_unavailable",
            "message": f"The database is busy or unavailable; retry in {retry_after()} seconds.",
            "fields": {},
        }
    }


def unavailable_response(request, exc: BaseException | None = None) -> HttpResponse:
    """The 503 for `request`: JSON under /api/, a page elsewhere; neither touches the database."""
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exc)
    if request.path.startswith("/api/"):
        response = JsonResponse(api_body(), status=503)
    else:
        # No request context: the context processors (the user, the calendar warning) would query the database.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = retry_after()
    return response


class DatabaseUnavailableMiddleware:
    """A view (or its template) that failed for want of a database answers 503 with Retry-After, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            return unavailable_response(request, exception)
        return None


# A forked child (Celery's prefork pool and embedded beat, gunicorn --preload) inherits its parent's connection
# pools: their sockets are the parent's sessions, their worker threads are gone. The child forgets them without
# closing them (closing would end the parent's sessions) and opens its own on first use.
_inherited: list = []


def forget_inherited_pools() -> None:
    from django.db import connections

    backend = sys.modules.get("django.db.backends.postgresql.base")  # not imported: no pool to forget
    if backend is None:
        return
    pools = backend.DatabaseWrapper._connection_pools
    if pools:
        _inherited.append(dict(pools))  # kept referenced: never garbage-collected, so never closed here
        pools.clear()
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql" and conn.settings_dict["OPTIONS"].get("pool") and conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None


def install_fork_hook() -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=forget_inherited_pools)


@contextmanager
def server_notices(connection):
    """The NOTICE messages PostgreSQL sends while the block runs (e.g. what TRUNCATE … CASCADE emptied too), as a
    list filled in as they arrive; empty on other databases."""
    notices: list[str] = []
    raw = connection.connection if connection.vendor == "postgresql" else None
    if raw is None:
        yield notices
        return

    def handler(diagnostic):
        notices.append(f"{diagnostic.severity}: {diagnostic.message_primary}")

    raw.add_notice_handler(handler)
    try:
        yield notices
    finally:
        raw.remove_notice_handler(handler)
