"""The customer lifecycle moves that retention starts, reached without importing the project layer.

A lifecycle move is composed above this app: `vipclub.workflows.customer_lifecycle` moves the customer
(customers), then removes the tier (tiers), freezes, unfreezes or clears the points (points), ends the assignment
(managers) and opens, retains or churns the retention case (this app). Two flows start *here* and need such a move:
a closure request registered through the retention API or dashboard (→ pending closure), and a case retained
(→ the closure request is cancelled). They go through this port, which `vipclub.workflows` connects when it is
imported (at start-up, by `vipclub.apps`), so that the same composition runs whoever starts the move and the
import-linter layers stay one way (retention never imports vipclub).
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

_moves: dict[str, Callable] = {}


def connect(*, closure_request: Callable, cancel_closure: Callable) -> None:
    """Called once by the project layer with its workflows."""
    _moves.update(closure_request=closure_request, cancel_closure=cancel_closure)


def _move(name: str) -> Callable:
    try:
        return _moves[name]
    except KeyError as exc:  # never skip the lifecycle silently
        raise ImproperlyConfigured(
            "The customer lifecycle is not connected to retention (vipclub.workflows is not loaded)."
        ) from exc


def closure_request(*, customer, channel: str = "", reason: str = "", reason_category: str = "", at=None, actor=None,
                    source: str = ""):  # fmt: skip
    """Register a closure request (pending closure, points frozen, the case opened or joined): (case, created)."""
    return _move("closure_request")(
        customer=customer, channel=channel, reason=reason, reason_category=reason_category, at=at, actor=actor,
        source=source,
    )  # fmt: skip


def cancel_closure(*, customer, at=None, actor=None, source: str = ""):
    """Cancel the customer's closure request (back to active, points unfrozen)."""
    return _move("cancel_closure")(customer=customer, at=at, actor=actor, source=source)
