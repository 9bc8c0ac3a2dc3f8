"""Who did it: the one label every audit row, ledger entry and job row writes for an actor."""


def actor_label(actor, source: str = "", max_length: int = 60) -> str:
    """`source` when given (an event id, a command), else the user's name, else "system"; cut to the column."""
    if source:
        return source[:max_length]
    if actor is None:
        return "system"
    return str(getattr(actor, "username", None) or actor)[:max_length]
