"""The admin header's approvals count (one query; nothing for a login without a staff role)."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def approvals_pending(context) -> int:
    request = context.get("request")
    if request is None or not getattr(request, "user", None) or not request.user.is_authenticated:
        return 0
    from vipclub.staff.approvals import pending_count

    return pending_count(request)
