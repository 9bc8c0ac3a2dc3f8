"""The member 360 page (issue 16 item 2): one customer by msisdn — her tier and why, validity, manager, status,
credit stars, risk score, benefits left, points — a single timeline newest first, and the staff actions, each
through the owning app's service, each with a reason recorded with the actor.

Who: staff with a role (club admin, or a supervisor for her branches: role AND branch, else 403); some actions
need the role's model permission too (an override: add_tieroverride; a case move, a reassignment, a card:
the managers' and retention's change permissions)."""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from benefits import rules as benefit_rules
from benefits import selectors as benefit_selectors
from benefits import services as benefit_services
from core import ui
from core.actors import record
from core.errors import DomainError
from core.permissions import sees_pii
from customers import selectors as customer_selectors
from customers.models import Customer
from managers import selectors as manager_selectors
from managers import services as manager_services
from managers.models import AccountManager
from points import selectors as points_selectors
from points import services as points_services
from retention import services as retention_services
from retention import texts as retention_texts
from retention.models import RetentionOffer, RiskScore
from service import rules as complaint_rules
from service import selectors as complaint_selectors
from service import services as complaint_services
from service.models import ComplaintState
from tiers import customer_page as tier_page
from tiers.models import Tier

from . import approvals, forms
from .timeline import member_timeline

DOMAIN_MESSAGES = {
    **approvals.DOMAIN_MESSAGES,
    "frozen": _("Her account is frozen (suspended, pending closure or closed): no redemption or transfer."),
    "not_entitled": _("Her tier gives no such benefit."),
    "quota_exhausted": _("Nothing (or too little) of this benefit is left."),
    "over_cap": _("The amount is over the cap or over what is left."),
    "card_in_progress": _("A card for this customer is already in progress."),
    "card_state": _("This step does not fit the card's current state."),
    "not_member": _("Only members get a membership card."),
    "manager_inactive": _("This account manager is not active."),
    "invalid_transition": _("This step does not fit the case's current state."),
    "transfer_refused": _("These two numbers cannot share points."),
}


def domain_message(exc: DomainError) -> str:
    if exc.code == "invalid_transition":
        return retention_texts.move_message(exc)
    return ui.domain_message(exc, DOMAIN_MESSAGES, approvals.FIELD_MESSAGES)


def page_url(customer) -> str:
    return reverse("staff-member", args=[customer.msisdn])


def member_customer(request, msisdn: str) -> Customer:
    """Role AND branch: staff with a role, and the customer in her scope (403 outside it; 404 for no such number)."""
    if not approvals.is_staff_role(request.user):
        raise PermissionDenied
    qs = Customer.objects.select_related("region")
    qs = manager_selectors.with_active_assignment(points_selectors.with_account_and_rating(qs))
    customer = qs.filter(msisdn=msisdn).first()
    if customer is None:
        raise Http404(gettext("No customer with msisdn %(msisdn)s.") % {"msisdn": msisdn})
    if not manager_selectors.scope_customers(Customer.objects.filter(pk=customer.pk), request.user).exists():
        raise PermissionDenied
    return customer


# --------------------------------------------------------------------------------------------------
# The choices the forms offer


def benefit_choices(rows) -> list[tuple[str, str]]:
    """The benefits she can use at a desk now (something left, or unlimited), named in the page's language."""
    return [
        (row["benefit"], ui.label(row))
        for row in rows
        if row["unit"] != benefit_rules.FLAG and (row.get("unlimited") or Decimal(str(row.get("remaining") or 0)) > 0)
    ]


def tier_choices() -> list[tuple[str, str]]:
    return [(t.code, ui.label(t)) for t in Tier.objects.filter(active=True).order_by("-rank")]


def offer_choices() -> list[tuple[str, str]]:
    return [(o.code, ui.label(o)) for o in RetentionOffer.objects.filter(active=True).order_by("position", "code")]


def manager_choices(user) -> list[tuple[str, str]]:
    qs = manager_selectors.scope_managers(AccountManager.objects.filter(active=True), user).select_related("region")
    return [(str(m.pk), f"{m.name} ({m.employee_no}) · {m.region.name}") for m in qs.order_by("region", "employee_no")]


# --------------------------------------------------------------------------------------------------
# The actions: form, the permission it needs beyond the role, and what it does


@transaction.atomic
def _reassign(customer, manager, reason, actor, on):
    manager_services.customers_reassign(customer_ids=[customer.pk], manager=manager, on=on, actor=actor)
    record(actor=actor, action="member_reassigned", target=customer, manager=manager.employee_no, reason=reason)
    return gettext("%(customer)s is now served by %(manager)s.") % {"customer": customer, "manager": manager}


@transaction.atomic
def _card(customer, data, actor, now):
    step, on = data["step"], timezone.localdate(now)
    if step in ("start", "reissue"):
        card = manager_services.card_start(customer=customer, reissue=step == "reissue", actor=actor)
    else:
        card = manager_selectors.card_in_progress(customer)
        if card is None:
            raise DomainError(gettext("No card is in progress."), code="no_card")
        card = manager_services.card_advance(
            card=card,
            action=step,
            on=on,
            delivery_mode=data["delivery_mode"],
            agreed_date=data["agreed_date"],
            address=(data["address"] or "").strip(),
            at=now,
            actor=actor,
        )
    record(actor=actor, action="member_card_step", target=card, step=step, reason=data["reason"])
    return gettext("%(card)s: %(state)s.") % {"card": card, "state": card.get_state_display()}


def run_action(request, customer, form, context) -> str:
    """Call the action's service with the cleaned form; returns the success message (DomainError on refusal)."""
    user, now = request.user, timezone.now()
    on = timezone.localdate(now)
    data = form.cleaned_data
    reason = data["reason"].strip()
    key = form.key
    if key == "redeem_benefit":
        benefit = benefit_selectors.benefit_get(code=data["benefit"])
        hours = 0
        if benefit.unit == benefit_rules.HOURS:
            hours = points_selectors.credit_reactivation_hours(customer=customer, on=on)
        done = benefit_services.benefit_redeem(
            customer=customer,
            benefit=benefit,
            reference=reason[:100],
            quantity=data["quantity"],
            at=now,
            on=on,
            credit_reactivation_hours=hours,
            actor=user,
        )
        return gettext("%(benefit)s used: %(remaining)s left.") % {
            "benefit": ui.label(benefit),
            "remaining": "∞" if done.remaining is None else done.remaining,
        }
    if key == "adjust_points":
        adjustment = approvals.adjustment_request(
            customer=customer, points=data["points"], reason=reason, actor=user, on=on, at=now
        )
        if adjustment.status == "pending":
            return gettext("%(thing)s waits for a second staff user's approval (over %(n)s points).") % {
                "thing": adjustment,
                "n": points_selectors.points_policy().adjust_approval_above,
            }
        return gettext("%(thing)s applied.") % {"thing": adjustment}
    if key == "redeem_points":
        done = points_services.points_redeem(
            customer=customer, points=data["points"], reference=reason, on=on, actor=user
        )
        return gettext("%(n)s points redeemed; balance %(balance)s.") % {"n": data["points"], "balance": done.balance}
    if key == "transfer_points":
        target = Customer.objects.filter(msisdn=data["target"].strip()).first()
        if (
            target is None
            or not manager_selectors.scope_customers(Customer.objects.filter(pk=target.pk), user).exists()
        ):
            form.add_error("target", gettext("No customer with this msisdn in your branches."))
            raise _FormInvalid
        done = points_services.points_transfer(
            source=customer, target=target, points=data["points"], reference=reason, on=on, actor=user
        )
        return gettext("%(n)s points transferred to %(target)s; balance %(balance)s.") % {
            "n": data["points"],
            "target": target,
            "balance": done.from_balance,
        }
    if key == "override":
        tier = Tier.objects.get(code=data["tier"])
        override = approvals.override_request(
            customer=customer,
            tier=tier,
            reason=reason,
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            actor=user,
            on=on,
        )
        return gettext("%(thing)s created: it waits for a second staff user's approval.") % {"thing": override}
    if key == "closure":
        case, opened = retention_services.closure_request(
            customer=customer,
            reason=reason,
            reason_category=data["reason_category"],
            at=now,
            actor=user,
            source="admin",
        )
        return gettext("Closure request recorded; %(case)s.") % {"case": case}
    if key == "case_move":
        case = context["open_case"]
        if case is None:
            raise DomainError(gettext("She has no open retention case."), code="no_case")
        case = retention_services.case_transition(
            case=case,
            to=data["to"],
            actor=user,
            note=reason,
            offer=data["offer"] or "",
            visit_on=data["visit_on"],
            at=now,
            source="admin",
        )
        return gettext("%(case)s moved.") % {"case": case}
    if key == "complaint_receive":
        complaint = complaint_services.complaint_receive(
            customer=customer,
            channel=data["channel"],
            category=data["category"],
            text=reason,
            received_at=now,
            actor=user,
            received_by=user,
            source="admin",
        )
        return gettext("Complaint #%(id)s received: you own it; acknowledge by %(due)s.") % {
            "id": complaint.pk,
            "due": timezone.localtime(complaint.ack_due_at).strftime("%Y-%m-%d %H:%M"),
        }
    if key == "complaint_move":
        complaint = next((c for c in context["complaints"] if str(c.pk) == data["complaint"]), None)
        if complaint is None or not may_move_complaint(user, complaint):
            raise PermissionDenied
        complaint = complaint_services.complaint_transition(
            complaint=complaint, to=data["to"], note=reason, compensation=form.compensation(), at=now, actor=user
        )
        return gettext("Complaint #%(id)s: %(state)s.") % {"id": complaint.pk, "state": complaint.get_state_display()}
    if key == "holiday_opt_out":
        opted_out = data["choice"] == "out"
        changed = points_services.holiday_opt_out_set(
            customer=customer, opted_out=opted_out, at=now, actor=user, reason=reason
        )
        if not changed:
            return gettext("Nothing changed: that was already her choice.")
        if opted_out:
            return gettext("She opted out of the holiday no-suspension; BOSS is told.")
        return gettext("She has the holiday no-suspension again; BOSS is told.")
    if key == "reassign":
        manager = AccountManager.objects.get(pk=int(data["manager"]))
        return _reassign(customer, manager, reason, user, on)
    if key == "card":
        return _card(customer, data, user, now)
    raise PermissionDenied


class _FormInvalid(Exception):
    pass


def may_move_complaint(user, complaint) -> bool:
    """The transitions on the member page: the complaint's owner, or staff who may change complaints (a supervisor
    of her branch, a club admin: the page's scope is already role AND branch)."""
    return complaint.owner_id == user.pk or user.has_perm("service.change_complaint")


def complaint_choices(user, complaints) -> list[tuple[str, str]]:
    return [
        (str(c.pk), f"#{c.pk} {c.get_category_display()} · {c.get_state_display()}")
        for c in complaints
        if c.state != ComplaintState.CLOSED and may_move_complaint(user, c)
    ]


def complaint_state_choices(user, complaints) -> list[tuple[str, str]]:
    """Every state one of her movable complaints may go to (the service refuses a move that does not fit, naming the
    allowed ones)."""
    states = []
    for c in complaints:
        if c.state == ComplaintState.CLOSED or not may_move_complaint(user, c):
            continue
        allowed = complaint_rules.allowed_transitions(
            c.state, acknowledged=c.acknowledged_at is not None, replied=c.replied_at is not None
        )
        states += [s for s in allowed if s not in states]
    return [(s, ComplaintState(s).label) for s in states]


def compensable_benefit_choices(rows) -> list[tuple[str, str]]:
    return [
        (row["benefit"], ui.label(row))
        for row in rows
        if row["unit"] in benefit_services.COMPENSABLE_UNITS
        and row["period"] in ("year", "month")
        and not row.get("unlimited")
        and row.get("granted") is not None
    ]


ACTIONS = {
    forms.RedeemBenefitForm.key: (forms.RedeemBenefitForm, None),
    forms.AdjustPointsForm.key: (forms.AdjustPointsForm, None),
    forms.RedeemPointsForm.key: (forms.RedeemPointsForm, None),
    forms.TransferPointsForm.key: (forms.TransferPointsForm, None),
    forms.OverrideForm.key: (forms.OverrideForm, "tiers.add_tieroverride"),
    forms.ClosureForm.key: (forms.ClosureForm, None),
    forms.CaseMoveForm.key: (forms.CaseMoveForm, "retention.change_retentioncase"),
    forms.ReassignForm.key: (forms.ReassignForm, "managers.change_assignment"),
    forms.CardForm.key: (forms.CardForm, "managers.change_membershipcard"),
    forms.ComplaintReceiveForm.key: (forms.ComplaintReceiveForm, None),
    forms.ComplaintMoveForm.key: (forms.ComplaintMoveForm, None),
    forms.HolidayOptOutForm.key: (forms.HolidayOptOutForm, None),
}
TITLES = {
    "redeem_benefit": _("Redeem a benefit (desk use)"),
    "adjust_points": _("Adjust points"),
    "redeem_points": _("Redeem points"),
    "transfer_points": _("Transfer points"),
    "override": _("Override the tier"),
    "closure": _("Open a closure request"),
    "case_move": _("Move the retention case"),
    "reassign": _("Reassign the account manager"),
    "card": _("Membership card"),
    "complaint_receive": _("Receive a complaint"),
    "complaint_move": _("Move a complaint"),
    "holiday_opt_out": _("Holiday no-suspension (节假日免停机)"),
}


def build_forms(request, context, posted_key=None, data=None) -> list[dict]:
    kwargs = {
        "redeem_benefit": {"benefits": benefit_choices(context["benefits"])},
        "override": {"tiers": tier_choices()},
        "case_move": {"offers": offer_choices()},
        "reassign": {"managers": manager_choices(request.user)},
        "complaint_move": {
            "complaints": complaint_choices(request.user, context["complaints"]),
            "states": complaint_state_choices(request.user, context["complaints"]),
            "benefits": compensable_benefit_choices(context["benefits"]),
        },
    }
    built = []
    for key, (form_class, perm) in ACTIONS.items():
        if perm and not request.user.has_perm(perm):
            continue
        if key == "case_move" and context["open_case"] is None:
            continue
        if key == "complaint_move" and not kwargs["complaint_move"]["complaints"]:
            continue
        bound = data if key == posted_key else None
        form = form_class(bound, prefix=key, **kwargs.get(key, {}))
        built.append({"key": key, "title": TITLES[key], "form": form, "open": key == posted_key})
    return built


# --------------------------------------------------------------------------------------------------
# The page


def member_context(request, customer) -> dict:
    on = timezone.localdate()
    assignment = manager_selectors.active_assignment_of(customer)
    points = points_selectors.account_brief_of(customer)
    risk = RiskScore.objects.filter(customer_id=customer.pk).first()
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    benefits = benefit_selectors.customer_benefits(customer=customer, on=on)
    for row in benefits:
        row["label"] = ui.label(row)
    return {
        "customer": customer,
        "msisdn_shown": customer.msisdn if sees_pii(request) else customer.masked_msisdn,
        "status": customer.get_status_display(),
        "current_tier": tier_page.current_tier_html(customer),
        "why": tier_page.why_this_tier_html(customer),
        "manager": assignment.manager if assignment else None,
        "assigned_on": assignment.started_on if assignment else None,
        "stars": points_selectors.credit_stars_now_of(customer, on),
        "points": points,
        "risk": risk,
        "benefits": benefits,
        "flags": [row for row in benefits if row.get("enabled")],
        "open_case": retention_services.open_case_of(customer),
        "complaints": complaint_selectors.customer_complaints(customer),
        "holiday_opt_out": Customer.objects.filter(pk=customer.pk).values_list("holiday_opt_out", flat=True).get(),
        "card": manager_selectors.latest_card(customer),
        "timeline": member_timeline(customer, page=page),
        "on": on,
    }


def member_page(request, msisdn: str):
    customer = member_customer(request, msisdn)
    context = member_context(request, customer)
    status = 200
    posted_key = None
    if request.method == "POST":
        posted_key = request.POST.get("action", "")
        if posted_key not in ACTIONS:
            messages.error(request, gettext("Unknown action."))
            return redirect(page_url(customer))
        _form_class, perm = ACTIONS[posted_key]
        if perm and not request.user.has_perm(perm):
            raise PermissionDenied
    action_forms = build_forms(request, context, posted_key, request.POST if posted_key else None)
    if posted_key:
        form = next((f["form"] for f in action_forms if f["key"] == posted_key), None)
        if form is None:  # e.g. a case move without an open case
            messages.error(request, gettext("This action does not apply to her now."))
            return redirect(page_url(customer))
        if form.is_valid():
            try:
                with transaction.atomic():
                    done = run_action(request, customer, form, context)
            except _FormInvalid:
                status = 400
            except DomainError as exc:
                form.add_error(None, domain_message(exc))
                status = 400
            else:
                messages.success(request, done)
                return redirect(page_url(customer))
        else:
            status = 400
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        **context,
        "title": _("Member %(name)s") % {"name": customer},
        "forms": action_forms,
    }
    return TemplateResponse(request, "admin/staff/member.html", context, status=status)


def member_find(request):
    """The admin's "open a member" box: a full msisdn opens her page; 4 or more trailing digits (the visible tail of
    a masked number, `7065` or `134****7065`) list the members of her scope ending so (one match opens her page)."""
    if not approvals.is_staff_role(request.user):
        raise PermissionDenied
    query = (request.GET.get("msisdn") or "").strip()
    digits = "".join(ch for ch in query.split("*")[-1] if ch.isdigit())
    matches, error = [], ""
    if query:
        if len(digits) < 4:
            error = gettext("Enter the full number or at least its last 4 digits.")
        else:
            qs = manager_selectors.scope_customers(Customer.objects.all(), request.user)
            if len(digits) == 11:
                qs = qs.filter(msisdn=digits)
            else:
                qs = qs.filter(customer_selectors.msisdn_ends_with(digits))
            matches = list(qs.select_related("region").order_by("msisdn")[:21])
            if len(matches) == 1:
                return redirect("staff-member", msisdn=matches[0].msisdn)
            if not matches:
                error = gettext("No member of your branches has a number ending in %(digits)s.") % {"digits": digits}
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": _("Open a member"),
        "query": query,
        "error": error,
        "matches": [
            {"customer": c, "shown": c.msisdn if sees_pii(request) else c.masked_msisdn, "url": page_url(c)}
            for c in matches[:20]
        ],
        "more": len(matches) > 20,
    }
    return TemplateResponse(request, "admin/staff/member_find.html", context, status=400 if error else 200)
