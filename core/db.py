"""Transactions that cross: the lock order every write follows, and a bounded retry when the database still
aborts one (a deadlock or a serialization failure).

Lock order (one for the whole project, so that two writers never wait for each other crosswise):

1. the customer row, first, by every write that changes one customer's state (`customers.services.customer_lock`,
   `SELECT … FOR NO KEY UPDATE`: rows that only reference her — ledger entries, status changes — can still be
   inserted meanwhile); a write over several customers locks them in id order;
2. her retention case (`retention`);
3. what follows from it, in the order the lifecycle composition writes it (`vipclub.workflows`): her tier and
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
"""

import logging
import random
import time
from functools import wraps

from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, transaction

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
