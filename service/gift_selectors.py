"""Reads of gifts for points: the catalog and the orders a user may see (role AND branch through
managers.selectors.scope_rows: another branch's order is a 404; a manager's, her own members' orders), and the
desk's: the orders that need her, in sections, and a member's latest orders."""

import datetime as dt

from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, QuerySet, Value, When

from core.errors import NotFoundError
from managers import selectors as manager_selectors

from .models import Gift, GiftOrder, GiftOrderState, GiftOrderStep


def gift_list(*, include_withdrawn: bool = False) -> QuerySet:
    qs = Gift.objects.prefetch_related("tiers").order_by("points", "code")
    return qs if include_withdrawn else qs.filter(active=True)


def gift_by_code(code: str) -> Gift:
    gift = Gift.objects.filter(code=code).first()
    if gift is None:
        raise NotFoundError(f"No gift {code!r}.", code="unknown_gift", fields={"gift": ["unknown gift"]})
    return gift


def _orders() -> QuerySet:
    return GiftOrder.objects.select_related("customer", "gift", "region").prefetch_related(
        Prefetch("steps", queryset=GiftOrderStep.objects.order_by("at", "id"))
    )


def gift_order_list(*, user, filters=None) -> QuerySet:
    """The orders this user may see, newest first; filters: `msisdn`, `status` (repeatable), `gift`."""
    qs = manager_selectors.scope_rows(_orders(), user)
    filters = filters or {}
    if msisdn := filters.get("msisdn"):
        qs = qs.filter(customer__msisdn=msisdn)
    if hasattr(filters, "getlist") and (states := [s for s in filters.getlist("status") if s]):
        qs = qs.filter(state__in=states)
    if gift := filters.get("gift"):
        qs = qs.filter(gift__code=gift)
    return qs.order_by("-placed_at", "-id")


def gift_order_get(*, order_id: int, user) -> GiftOrder:
    order = manager_selectors.scope_rows(_orders(), user).filter(pk=order_id).first() if order_id < 2**63 else None
    if order is None:
        raise NotFoundError(f"No gift order {order_id}.", code="unknown_gift_order")
    return order


# --- the desk ---------------------------------------------------------------------------------------------------

VOUCHER_SOON_DAYS = 14  # a voucher whose deadline is this close is on the desk (she reminds the member)
# The desk's sections, in their order: arrived at the hall (hand it over, tell her), mailed (confirm she has it),
# a voucher's deadline near, ordered (placed or on its way to the hall).
DESK_ARRIVED, DESK_MAILED, DESK_VOUCHER, DESK_ORDERED = 0, 1, 2, 3
DESK_SECTIONS = ("arrived", "mailed", "voucher", "ordered")


def _voucher_soon(on: dt.date) -> Q:
    return Q(voucher_valid_until__gte=on, voucher_valid_until__lte=on + dt.timedelta(days=VOUCHER_SOON_DAYS)) & ~Q(
        state=GiftOrderState.CANCELLED
    )


def desk_orders_qs(*, user, on: dt.date) -> QuerySet:
    """The orders of the members this user may address that need the desk on `on`, each with its `section`
    (DESK_ARRIVED … DESK_ORDERED): arrived at the hall, mailed, a voucher whose deadline is within
    VOUCHER_SOON_DAYS, placed or shipped. Collected, received (unless a voucher near its deadline) and cancelled
    orders are not."""
    soon = _voucher_soon(on)
    qs = manager_selectors.scope_rows(GiftOrder.objects.all(), user).filter(
        Q(state__in=[GiftOrderState.ARRIVED, GiftOrderState.MAILED, GiftOrderState.PLACED, GiftOrderState.SHIPPED])
        | soon
    )
    return qs.annotate(
        section=Case(
            When(state=GiftOrderState.ARRIVED, then=Value(DESK_ARRIVED)),
            When(state=GiftOrderState.MAILED, then=Value(DESK_MAILED)),
            When(soon, then=Value(DESK_VOUCHER)),
            default=Value(DESK_ORDERED),
            output_field=IntegerField(),
        )
    )


def desk_order_counts(*, user, on: dt.date) -> dict[str, int]:
    """The true count of each desk section and their total: one query."""
    row = desk_orders_qs(user=user, on=on).aggregate(
        total=Count("pk"), **{name: Count("pk", filter=Q(section=n)) for n, name in enumerate(DESK_SECTIONS)}
    )
    return {key: value or 0 for key, value in row.items()}


def desk_orders_page(*, user, on: dt.date, offset: int, limit: int) -> list[GiftOrder]:
    """One page of the desk's orders: by section, then the oldest first (arrived, mailed, placed), the nearest
    deadline first for vouchers; the member and the gift joined (one query)."""
    qs = desk_orders_qs(user=user, on=on).select_related("customer", "gift")
    ordered = qs.annotate(
        deadline=Case(When(section=DESK_VOUCHER, then=F("voucher_valid_until")), default=None),
        since=Case(
            When(section=DESK_ARRIVED, then=F("arrived_at")),
            When(section=DESK_MAILED, then=F("mailed_at")),
            default=F("placed_at"),
        ),
    ).order_by("section", F("deadline").asc(nulls_last=True), "since", "id")
    return list(ordered[offset : offset + limit])


def customer_orders(customer, *, limit: int) -> tuple[list[GiftOrder], int]:
    """A member's latest orders (newest first, the gift joined) and how many she has: two queries."""
    qs = GiftOrder.objects.filter(customer=customer)
    return list(qs.select_related("gift").order_by("-placed_at", "-id")[:limit]), qs.count()
