"""Small filters of the dashboard pages: tier names and short dates in the user's language."""

import datetime as dt

from django import template
from django.utils.dateformat import format as date_format
from django.utils.translation import get_language

register = template.Library()


def _zh() -> bool:
    return (get_language() or "").startswith("zh")


@register.filter
def tier_label(tier) -> str:
    """A Tier, or a dict with name_zh/name_en (tiers.selectors.tier_state), named in the user's language."""
    if not tier:
        return ""
    if isinstance(tier, dict):
        return tier["name_zh"] if _zh() else tier["name_en"]
    return tier.name_zh if _zh() else tier.name_en


@register.filter
def short_day(day: dt.date | None) -> str:
    """`Nov 21` / `11月21日`."""
    if not day:
        return ""
    return date_format(day, "n月j日" if _zh() else "M j")


@register.filter
def weekday(day: dt.date | None) -> str:
    return date_format(day, "D") if day else ""
