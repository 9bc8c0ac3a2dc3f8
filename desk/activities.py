"""The desk's activities page (DOMAIN §10): the club activities of her branch and club-wide (open, coming, or held
in the last two weeks), and for the one chosen her invited members with their sign-ups: sign up, cancel, and after
the day attended / did not come. Reads through service.activities.selectors, writes through its services."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import ui
from core.errors import DomainError
from managers.models import AccountManager
from service.activities import selectors, services
from service.activities.models import SEAT_STATES, ActivityStatus, SignupChannel, SignupStatus

from .views import manager_required, own_customer, roles

MESSAGES = {
    "signup_closed": _("The sign-up window of this activity is not open."),
    "not_invited": _("This member is not invited: her tier or branch is not among the activity's."),
    "activity_cancelled": _("This activity was called off."),
    "activity_started": _("The activity has started: record attendance instead."),
    "not_yet_held": _("Attendance is recorded once the activity has taken place."),
    "not_signed_up": _("This member is not signed up."),
}
ACTIONS = ("signup", "cancel", "attended", "no_show")


def _chosen(activities, raw):
    for a in activities:
        if str(a.pk) == str(raw):
            return a
    return activities[0] if activities else None


@manager_required
def activities(request, *, manager: AccountManager):
    now = timezone.now()
    rows = selectors.desk_activities(manager=manager, at=now)
    for a in rows:
        a.window_open = a.signup_opens_at <= now < a.signup_closes_at
        a.held = now >= a.starts_at
    chosen = _chosen(rows, request.GET.get("activity"))
    members = selectors.desk_members(activity=chosen, manager=manager) if chosen else []
    for c in members:
        s = c.signup
        c.place = services.waitlist_place(s) if s and s.status == SignupStatus.WAITLISTED else None
        c.actions = []
        if chosen.held:
            if s and s.status in SEAT_STATES:
                c.actions = ["attended", "no_show"]
        elif s and s.status in (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED):
            c.actions = ["cancel"]
        elif chosen.window_open:
            c.actions = ["signup"]
    _manager, supervises = roles(request)
    return render(
        request,
        "desk/activities.html",
        {
            "manager": manager,
            "supervises": supervises,
            "nav": "activities",
            "activities": rows,
            "chosen": chosen,
            "members": members,
            "today": timezone.localdate(),
        },
    )


@require_POST
@manager_required
def activity_action(request, activity_id: int, msisdn: str, action: str, *, manager: AccountManager):
    if action not in ACTIONS:
        raise Http404
    now = timezone.now()
    activity = next((a for a in selectors.desk_activities(manager=manager, at=now) if a.pk == activity_id), None)
    if activity is None or activity.status != ActivityStatus.PUBLISHED:
        raise Http404
    customer = own_customer(msisdn, request.user, manager)
    back = reverse("managers:activities") + f"?activity={activity.pk}"
    try:
        if action == "signup":
            result = services.activity_signup(
                activity=activity, customer=customer, at=now, actor=request.user, channel=SignupChannel.DESK
            )
            if result.signup.status == SignupStatus.WAITLISTED:
                text = gettext("%(name)s is on the waitlist, number %(n)d.") % {
                    "name": customer.name,
                    "n": result.position or 0,
                }
            else:
                text = gettext("%(name)s has a seat.") % {"name": customer.name}
        elif action == "cancel":
            result = services.signup_cancel(activity=activity, customer=customer, at=now, actor=request.user)
            text = gettext("%(name)s's sign-up is cancelled.") % {"name": customer.name}
            if result.promoted:
                text += " " + gettext("The first member waiting moved up.")
        else:
            signup = selectors.signup_of(activity=activity, customer=customer)
            services.signups_attendance(
                activity=activity,
                signup_ids=[signup.pk] if signup else [],
                attended=action == "attended",
                at=now,
                actor=request.user,
            )
            text = gettext("Attendance recorded for %(name)s.") % {"name": customer.name}
    except DomainError as exc:
        messages.error(request, ui.domain_message(exc, MESSAGES))
    else:
        messages.success(request, text)
    return redirect(back)
