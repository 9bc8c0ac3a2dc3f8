"""Pure rules of gift orders (DOMAIN §10): the state machine. No ORM.

Pickup: placed → shipped → arrived → collected. Mail: placed → mailed → received. An order is cancelled (its points
return to their lots, its stock to the shelf) until the member has it: placed, shipped or arrived; a mailed order is
on its way and is not cancelled any more."""

PLACED, SHIPPED, ARRIVED, COLLECTED, MAILED, RECEIVED, CANCELLED = (
    "placed",
    "shipped",
    "arrived",
    "collected",
    "mailed",
    "received",
    "cancelled",
)
STATES = (PLACED, SHIPPED, ARRIVED, COLLECTED, MAILED, RECEIVED, CANCELLED)
PICKUP, MAIL = "pickup", "mail"

_MOVES = {
    (PICKUP, PLACED): (SHIPPED, CANCELLED),
    (PICKUP, SHIPPED): (ARRIVED, CANCELLED),
    (PICKUP, ARRIVED): (COLLECTED, CANCELLED),
    (MAIL, PLACED): (MAILED, CANCELLED),
    (MAIL, MAILED): (RECEIVED,),
}
STAMPS = {
    SHIPPED: "shipped_at",
    ARRIVED: "arrived_at",
    COLLECTED: "collected_at",
    MAILED: "mailed_at",
    RECEIVED: "received_at",
    CANCELLED: "cancelled_at",
}


def allowed_transitions(delivery: str, state: str) -> tuple[str, ...]:
    """The states an order delivered by `delivery` may move to from `state`."""
    return _MOVES.get((delivery, state), ())


def transition_problem(delivery: str, state: str, to: str) -> str:
    """Why `state` → `to` is refused ("" when it is allowed), naming the allowed moves."""
    allowed = allowed_transitions(delivery, state)
    if to in allowed:
        return ""
    if not allowed:
        return f"A {state} gift order moves no further."
    return f"A {state} gift order ({delivery}) cannot move to {to}; allowed: {', '.join(allowed)}."


# The obligation `gift_arrived` of an order (its period: unique per member and kind).
OBLIGATION_PREFIX = "gift"


def obligation_period(order_id: int) -> str:
    return f"{OBLIGATION_PREFIX}{order_id}"


def order_of_period(period: str) -> int | None:
    """The order an obligation's period names (None: not an order's)."""
    rest = period[len(OBLIGATION_PREFIX) :] if period.startswith(OBLIGATION_PREFIX) else ""
    return int(rest) if rest.isdigit() and len(rest) < 19 else None
