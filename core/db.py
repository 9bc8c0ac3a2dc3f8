"""The database under load: the lock order and a bounded retry on write conflicts; a 503 with Retry-After when
no connection can be had; connection pools that survive a fork.

## Write conflicts

Lock order (one for the whole project, so that two writers never wait for each other crosswise):

1. the customer row, first, by every write that changes one customer's state (`customers.services.customer_lock`,
   `SELECT … FOR NO KEY UPDATE`: rows that only reference her — ledger entries, status changes — can still be
   inserted meanwhile); a write over several customers locks them in id order;
2. her retention case (`retention`);
3. what follows from it, in the order the lifecycle writes it (`retention.services.customer_lifecycle`): her tier and
   benefit accounts (id order), her assignment and obligations;
4. her points account(s), in customer-id order (`points`).

A transaction may skip levels (a redemption locks only the points account) but never goes back up: a case move
that cancels a closure request locks the customer before the case, a reassignment the customers (id order) before
their assignments, obligations and cases.

Bulk writes that do not lock customers (customers, bills and their points earning, from the API and the CSV
imports) write their rows sorted by the key they lock on: customers by msisdn, bills by (customer id, month),
points accounts and lots by customer id. An `INSERT … ON CONFLICT` of many rows takes its row locks in row order,
so two uploads of the same customers in opposite order would otherwise deadlock.

Whatever the order, PostgreSQL may still abort a transaction (SQLSTATE 40P01 deadlock detected, 40001
serialization failure) and SQLite may answer "database is locked" when its busy timeout runs out.
`retry_on_conflict` runs a unit of work again, a bounded number of times with a short jittered pause, at the
outermost transaction only: inside an `atomic` block the error goes up to the boundary that owns the transaction
(a retry there would run on in a transaction PostgreSQL has already aborted). When the attempts are exhausted it
raises `WriteConflict`, which the API answers 503 with `Retry-After`, never 500.

## The database unavailable

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
import random
import sys
import time
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, transaction
from django.http import HttpResponse, JsonResponse
from django.template import loader

from .errors import DomainError

logger = logging.getLogger(__name__)

# PostgreSQL: serialization_failure, deadlock_detected (class 40, transaction rollback)
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 3
BASE_DELAY = 0.05  # seconds; attempt n waits about BASE_DELAY * 2**(n-1), jittered
RETRY_AFTER = 1  # seconds, told to a client whose write still conflicted after every attempt


class WriteConflict(DomainError):
    """Concurrent writes to the same records kept aborting this one: nothing was written, try again shortly."""

    http_status = 503
    default_code = "write_conflict"
    retry_after = RETRY_AFTER


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or a serialization failure (PostgreSQL), or a database locked past its timeout (SQLite)."""
    if not isinstance(exc, DatabaseError):
        return False
    for error in (exc, exc.__cause__):
        code = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
        if code in CONFLICT_SQLSTATES:
            return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def retry_on_conflict(func=None, *, attempts: int = ATTEMPTS, atomic: bool = True, using: str = DEFAULT_DB_ALIAS):
    """Run `func` again when the database aborts it for a conflict, up to `attempts` times in all.

    `atomic=True` (API writes): each attempt is one transaction, so a failed one has written nothing. `atomic=False`
    (jobs that commit in steps, e.g. chunk by chunk): the function must be idempotent or resumable, as the
    project's jobs are. Called inside an `atomic` block it only runs `func`: the outermost boundary retries.
    Usable as `@retry_on_conflict` or `@retry_on_conflict(attempts=5)`."""

    def decorate(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            if transaction.get_connection(using).in_atomic_block:
                return fn(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    if atomic:
                        with transaction.atomic(using=using):
                            return fn(*args, **kwargs)
                    return fn(*args, **kwargs)
                except DatabaseError as exc:
                    if not is_conflict(exc):
                        raise
                    if attempt == attempts:
                        logger.warning("%s: still conflicting after %d attempts: %s", fn.__qualname__, attempts, exc)
                        raise WriteConflict(
                            "Concurrent changes to the same records kept conflicting with this request; nothing "
                            f"was written. Retry after {RETRY_AFTER} s.",
                        ) from exc
                    logger.info("%s: attempt %d conflicted (%s), retrying", fn.__qualname__, attempt, exc)
                    time.sleep(BASE_DELAY * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            raise AssertionError("unreachable")  # pragma: no cover

        wrapper.retries_on_conflict = True
        return wrapper

    return decorate(func) if func is not None else decorate


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
