"""The complaints panels of the desk's pages (desk/complaints.py), included with one line each: the customer page's
(her complaints and "log a complaint") and the supervisor's team page's (late and escalated)."""

from django import template

from desk import complaints

register = template.Library()


@register.inclusion_tag("desk/_customer_complaints.html", takes_context=True)
def customer_complaints(context):
    return complaints.customer_panel(context["request"], context["customer"], editable=bool(context.get("editable")))


@register.inclusion_tag("desk/_team_complaints.html", takes_context=True)
def team_complaints(context):
    return complaints.team_panel(context["request"])
