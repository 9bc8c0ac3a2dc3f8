"""The approvals inbox (issue 16 item 3): every four-eyes request in one list — tier overrides and points
adjustments above the policy's threshold — with one-click approve or refuse (a reason to refuse), the count in the
admin header, a notification to the approvers when a request is made (club admins, and the supervisors of the
customer's branch), and one to the requester with the outcome. Nobody approves her own request (the services
refuse it; the inbox does not offer it)."""

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import row_scope
from core.errors import DomainError
from core.masking import mask_msisdn
from core.permissions import CLUB_ADMIN, CLUB_ADMINS_GROUP, SUPERVISOR, role_of
from managers import services as manager_services
from managers.models import AccountManager
from points import services as points_services
from points.models import AdjustmentStatus, PointsAdjustment
from tiers import services as tier_services
from tiers.models import OverrideStatus, TierOverride

from .forms import DecisionForm

DOMAIN_MESSAGES = {
    "four_eyes": _("Four-eyes rule: a second staff user approves, not the user who asked."),
    "override_not_pending": _("This override is not awaiting approval."),
    "override_state": _("Only a pending override can be refused."),
    "adjustment_not_pending": _("This adjustment is not awaiting approval."),
    "insufficient_points": _("She has fewer points than the debit takes."),
    "closed": _("The customer is closed: her points cannot be adjusted."),
}
FIELD_MESSAGES = {
    "reason": _("Give a reason."),
    "note": _("Give a reason for refusing."),
    "points": _("Enter a number of points other than 0."),
    "ends_on": _("The end date is before the start date."),
}


def domain_message(exc: DomainError) -> str:
    return ui.domain_message(exc, DOMAIN_MESSAGES, FIELD_MESSAGES)


def is_staff_role(user) -> bool:
    return bool(user.is_active and user.is_staff and role_of(user) in (CLUB_ADMIN, SUPERVISOR))


def approver_ids(customer) -> set[int]:
    """Who may decide a request on this customer: club admins, and the supervisors of her branch (one query)."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    return set(
        users.filter(
            Q(is_superuser=True)
            | Q(groups__name=CLUB_ADMINS_GROUP)
            | Q(pk__in=AccountManager.objects.filter(region_id=customer.region_id).values("supervisor_id"))
        ).values_list("pk", flat=True)
    )


def _notify(user_ids, *, key: str, text: str, link: str, day: dt.date) -> None:
    manager_services.notifications_send(user_ids=user_ids, kind=key, text=text, link=link, day=day)


def _in_language(text_fn):
    with translation.override(settings.LANGUAGE_CODE):
        return text_fn()


def inbox_url() -> str:
    return reverse("staff-approvals")


@transaction.atomic
def override_request(*, customer, tier, reason, starts_on, ends_on, actor, on: dt.date) -> TierOverride:
    """Create an override (pending) and tell the approvers."""
    override = tier_services.tier_override_create(
        customer=customer, tier=tier, reason=reason, starts_on=starts_on, ends_on=ends_on, actor=actor
    )
    text = _in_language(
        lambda: (
            gettext("%(who)s asks to set %(customer)s to %(tier)s (%(reason)s).")
            % {"who": actor.get_username(), "customer": customer, "tier": ui.label(tier), "reason": override.reason}
        )
    )
    ids = approver_ids(customer) - {actor.pk}
    _notify(ids, key=f"approval:override:{override.pk}", text=text, link=inbox_url(), day=on)
    return override


@transaction.atomic
def adjustment_request(*, customer, points: int, reason: str, actor, on: dt.date, at: dt.datetime) -> PointsAdjustment:
    """Adjust her points: at once up to the threshold, else a pending request the approvers are told about."""
    adjustment = points_services.points_adjustment_request(
        customer=customer, points=points, reason=reason, on=on, at=at, actor=actor
    )
    if adjustment.status == AdjustmentStatus.PENDING:
        text = _in_language(
            lambda: (
                gettext("%(who)s asks to adjust the points of %(customer)s by %(points)+d (%(reason)s).")
                % {"who": actor.get_username(), "customer": customer, "points": points, "reason": adjustment.reason}
            )
        )
        ids = approver_ids(customer) - {actor.pk}
        _notify(ids, key=f"approval:points:{adjustment.pk}", text=text, link=inbox_url(), day=on)
    return adjustment


# --------------------------------------------------------------------------------------------------
# The inbox


def pending_overrides(request):
    qs = TierOverride.objects.filter(status=OverrideStatus.PENDING)
    return row_scope(request).rows(qs).select_related("customer", "tier", "created_by").order_by("created_at")


def pending_adjustments(request):
    qs = PointsAdjustment.objects.filter(status=AdjustmentStatus.PENDING)
    return row_scope(request).rows(qs).select_related("customer", "requested_by").order_by("requested_at")


def pending_count(request) -> int:
    """The header's count: requests in her scope waiting for somebody other than their requester (one query)."""
    user = request.user
    if not is_staff_role(user):
        return 0
    overrides = row_scope(request).rows(TierOverride.objects.filter(status=OverrideStatus.PENDING))
    adjustments = row_scope(request).rows(PointsAdjustment.objects.filter(status=AdjustmentStatus.PENDING))
    overrides = overrides.exclude(created_by=user).order_by().values("pk")
    adjustments = adjustments.exclude(requested_by=user).order_by().values("pk")
    return overrides.union(adjustments, all=True).count()


def can_decide_overrides(user) -> bool:
    return user.has_perm("tiers.change_tieroverride")


def _rows(request) -> list[dict]:
    user = request.user
    rows = []
    for o in pending_overrides(request):
        rows.append(
            {
                "kind": "override",
                "pk": o.pk,
                "label": _("Tier override"),
                "customer": o.customer,
                "masked": mask_msisdn(o.customer.msisdn),
                "msisdn": o.customer.msisdn,
                "what": f"{ui.label(o.tier)} · {o.starts_on:%Y-%m-%d} → {o.ends_on:%Y-%m-%d}",
                "reason": o.reason,
                "by": o.created_by.get_username(),
                "at": o.created_at,
                "own": o.created_by_id == user.pk,
                "may_decide": can_decide_overrides(user) and o.created_by_id != user.pk,
            }
        )
    for a in pending_adjustments(request):
        rows.append(
            {
                "kind": "points",
                "pk": a.pk,
                "label": _("Points adjustment"),
                "customer": a.customer,
                "masked": mask_msisdn(a.customer.msisdn),
                "msisdn": a.customer.msisdn,
                "what": f"{a.points:+d}",
                "reason": a.reason,
                "by": a.requested_by.get_username(),
                "at": a.requested_at,
                "own": a.requested_by_id == user.pk,
                "may_decide": a.requested_by_id != user.pk,
            }
        )
    return sorted(rows, key=lambda r: r["at"])


def _decide(request, kind: str, pk: int, decision: str, note: str) -> str:
    """Approve or refuse one request through its service; tells the requester. Returns the success message."""
    user, now = request.user, timezone.now()
    on = timezone.localdate(now)
    if kind == "override":
        if not can_decide_overrides(user):
            raise PermissionDenied
        item = get_object_or_404(pending_overrides(request), pk=pk)
        if decision == "approve":
            item = tier_services.tier_override_approve(override=item, actor=user, at=now)
        else:
            item = tier_services.tier_override_decide(override=item, status=OverrideStatus.REJECTED, actor=user)
        requester, status = item.created_by_id, item.get_status_display()
    else:
        item = get_object_or_404(pending_adjustments(request), pk=pk)
        if decision == "approve":
            item = points_services.points_adjustment_approve(adjustment=item, on=on, at=now, note=note, actor=user)
        else:
            item = points_services.points_adjustment_refuse(adjustment=item, at=now, note=note, actor=user)
        requester, status = item.requested_by_id, item.get_status_display()
    text = _in_language(
        lambda: (
            gettext("%(thing)s: %(status)s by %(who)s.") % {"thing": item, "status": status, "who": user}
            + (f" {note}" if note else "")
        )
    )
    _notify({requester}, key=f"decided:{kind}:{item.pk}", text=text, link="", day=on)
    return gettext("%(thing)s: %(status)s.") % {"thing": item, "status": status}


def inbox(request):
    """GET: the requests waiting in her scope, oldest first. POST: approve or refuse one (a reason to refuse)."""
    if not is_staff_role(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = DecisionForm(request.POST)
        kind, pk = request.POST.get("kind"), request.POST.get("pk", "")
        if kind not in ("override", "points") or not pk.isdigit():
            messages.error(request, gettext("Unknown request."))
        elif not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        else:
            try:
                with transaction.atomic():
                    done = _decide(request, kind, int(pk), form.cleaned_data["decision"], form.cleaned_data["note"])
            except DomainError as exc:
                messages.error(request, domain_message(exc))
            else:
                messages.success(request, done)
        return redirect("staff-approvals")
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": _("Approvals"),
        "rows": _rows(request),
    }
    return TemplateResponse(request, "admin/staff/approvals.html", context)
