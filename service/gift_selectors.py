"""Reads of gifts for points: the catalog and the orders a user may see (role AND branch through
managers.selectors.scope_rows: another branch's order is a 404)."""

from django.db.models import Prefetch, QuerySet

from core.errors import NotFoundError
from managers import selectors as manager_selectors

from .models import Gift, GiftOrder, GiftOrderStep


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
