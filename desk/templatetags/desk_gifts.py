"""Gifts for points on the desk's pages (desk/gifts.py): the customer page's panel of her latest orders (one line in
the page), a gift's name in the user's language, and the link of an obligation to what it is about (the gift order
that arrived, the complaint)."""

from django import template
from django.urls import reverse
from django.utils.translation import get_language

from desk import gifts
from service import gift_rules
from service import rules as complaint_rules

register = template.Library()


@register.inclusion_tag("desk/_customer_gifts.html", takes_context=True)
def customer_gift_orders(context):
    return gifts.customer_panel(context)


@register.filter
def gift_name(gift) -> str:
    """`电影票两张` / `Two film tickets`."""
    if gift is None:
        return ""
    return gift.name_zh if (get_language() or "").startswith("zh") else gift.name_en


@register.filter
def obligation_link(obligation) -> str:
    """The desk page of what an obligation is about: a gift order that arrived, a complaint; "" for the others."""
    if obligation.kind == "gift_arrived" and (order_id := gift_rules.order_of_period(obligation.period)):
        return reverse("managers:gift-order", args=[order_id])
    if obligation.kind == "complaint" and (complaint_id := complaint_rules.complaint_of_period(obligation.period)):
        return reverse("managers:complaint", args=[complaint_id])
    return ""
