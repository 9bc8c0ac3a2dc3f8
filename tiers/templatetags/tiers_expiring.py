"""`{% tier_expiring customer on as expiring %}`: the figures of selectors.tier_expiring for a page's include (the
manager's customer page shows them without its view knowing)."""

from django import template

from tiers import selectors

register = template.Library()


@register.simple_tag
def tier_expiring(customer, on):
    if customer is None or on is None:
        return None
    return selectors.tier_expiring(customer, on=on)
