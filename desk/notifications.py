"""The notifications inbox (/dashboard/notifications/) of managers and supervisors: the daily digest and every
notice, unread first; opening one marks it read and follows its link; mark one or all read. The desk's header
badge (the bell, desk/templatetags/desk.py) links here."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from managers import selectors, services

from .paging import page_of
from .views import forbidden, roles

PER_PAGE = 15
# Where a notice without a link of its own leads.
KIND_LINKS = {"daily_digest": "managers:dashboard", "supervisor_digest": "managers:team"}


def desk_user(view):
    """Login, then a manager or a supervisor (the 403 page for anybody else)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        manager, supervises = roles(request)
        if manager is None and not supervises:
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapper


def target_of(request, notification) -> str:
    if notification.link and url_has_allowed_host_and_scheme(
        notification.link, {request.get_host()}, request.is_secure()
    ):
        return notification.link
    if notification.kind in KIND_LINKS:
        return reverse(KIND_LINKS[notification.kind])
    return reverse("managers:notifications")


@desk_user
def inbox(request):
    manager, supervises = roles(request)
    qs = selectors.notifications_of(request.user)
    unread = selectors.unread_count(request.user)
    page = page_of(request.GET, count=qs.count(), per_page=PER_PAGE)
    context = {
        "notifications": list(qs[page.offset : page.offset + page.per_page]),
        "page": page,
        "unread": unread,
        "manager": manager,
        "supervises": supervises,
        "nav": "notifications",
    }
    return render(request, "desk/notifications.html", context)


def _notification(request, pk: int):
    notification = selectors.notification_of(user=request.user, notification_id=pk)
    if notification is None:
        raise Http404("No such notification of yours.")
    return notification


@require_POST
@desk_user
def notification_open(request, pk: int):
    """Open a notification: marked read, then to where it leads."""
    notification = services.notification_read(
        notification=_notification(request, pk), actor=request.user, at=timezone.now()
    )
    return redirect(target_of(request, notification))


@require_POST
@desk_user
def notification_read(request, pk: int):
    services.notification_read(notification=_notification(request, pk), actor=request.user, at=timezone.now())
    return redirect(reverse("managers:notifications") + f"#n-{pk}")


@require_POST
@desk_user
def notifications_read_all(request):
    count = services.notifications_read_all(actor=request.user, at=timezone.now())
    messages.success(
        request,
        ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", count)
        % {"count": count},
    )
    return redirect("managers:notifications")
