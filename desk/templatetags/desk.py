"""The desk's header: the tabs with their counts and the notifications badge, on every desk page."""

from django import template
from django.utils import timezone

from managers import selectors
from retention import selectors as retention_selectors

register = template.Library()


@register.inclusion_tag("desk/_tabs.html", takes_context=True)
def desk_tabs(context):
    """The tabs (a manager's: queue, my customers, retention, risk, birthdays, cards, plans & log; a supervisor's
    team) with their counts, and the bell with the unread notifications, linking to the inbox: a fixed number of
    queries."""
    request = context.get("request")
    user = getattr(request, "user", None)
    manager = context.get("manager")
    counts = {}
    if manager is not None:
        counts = selectors.tab_counts(manager=manager, on=timezone.localdate())
        counts["retention"] = retention_selectors.open_cases_count([manager])
        counts["risk"] = retention_selectors.risk_count([manager])
    return {
        "manager": manager,
        "supervises": context.get("supervises"),
        "nav": context.get("nav"),
        "counts": counts,
        "unread": selectors.unread_count(user),
        "user": user,
    }
