"""Who did it: the one label every audit row, ledger entry and job row writes for an actor, and the action log
for actions that have no row of their own to carry it."""

from .models import ActionLog


def actor_label(actor, source: str = "", max_length: int = 60) -> str:
    """`source` when given (an event id, a command), else the user's name, else "system"; cut to the column."""
    if source:
        return source[:max_length]
    if actor is None:
        return "system"
    return str(getattr(actor, "username", None) or actor)[:max_length]


def record(*, actor, action: str, target, at=None, source: str = "", **details):
    """Write who did `action` to `target` (a model instance) in the caller's transaction; `details` must be JSON."""
    row = ActionLog(
        actor=actor_label(actor, source),
        action=action,
        app_label=target._meta.app_label,
        model=target._meta.model_name,
        object_id=str(target.pk),
        details=details,
    )
    if at is not None:
        row.at = at
    row.save()
    return row
