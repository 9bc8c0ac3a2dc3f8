"""Complaints on the desk (DOMAIN §9, issue 19 item 1): a manager logs a member's complaint from her customer page
(she owns it: 首问负责制), sees her members' open complaints with their deadlines (/dashboard/complaints/), and moves
them on the complaint's page; a supervisor sees her branches' late and escalated complaints on her team page and
resolves them, with compensation (points, or a benefit use) when the club was at fault (服务差错主动补偿).

Views validate input, read through service.selectors, write through service.services (the business time is the
request's moment), and render. Who: a manager her own members' (and those she owns), a supervisor her branches'
(service.selectors.scope_complaints); anybody else the desk's 403 page."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from benefits import selectors as benefit_selectors
from benefits import services as benefit_services
from core import ui
from core.errors import DomainError
from service import rules as complaint_rules
from service import selectors as complaint_selectors
from service import services as complaint_services
from service.models import Complaint, ComplaintCategory, ComplaintChannel, ComplaintState

from .views import forbidden, roles, visible_customer

DESK_CHANNELS = [
    (ComplaintChannel.MANAGER, ComplaintChannel.MANAGER.label),
    (ComplaintChannel.HOTLINE, ComplaintChannel.HOTLINE.label),
    (ComplaintChannel.HALL, ComplaintChannel.HALL.label),
]
DOMAIN_MESSAGES = {
    "invalid_transition": _("This step does not fit the complaint's current state."),
    "not_entitled": _("Her tier gives no such benefit: choose points or another benefit."),
    "complaint_not_open": _("The complaint is not open any more."),
}
FIELD_MESSAGES = {
    "text": _("Write what she complains about."),
    "compensation": _("Compensation: points, or a benefit and how many uses."),
    "benefit": _("This benefit cannot be given as compensation."),
    "occurred_at": _("A step cannot come before the complaint was received."),
}


class ComplaintLogForm(forms.Form):
    """Log a complaint from the customer's page: the manager receives it (and owns it)."""

    channel = forms.ChoiceField(label=_("Received by"), choices=DESK_CHANNELS, initial=ComplaintChannel.MANAGER)
    category = forms.ChoiceField(label=_("Category"), choices=ComplaintCategory.choices)
    text = forms.CharField(
        label=_("What she complains about"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ComplaintMoveForm(forms.Form):
    """The next step of a complaint; resolving may grant compensation (points or uses of a benefit)."""

    to = forms.ChoiceField(label=_("Next step"), choices=())
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    points = forms.IntegerField(label=_("Compensation (points)"), min_value=1, max_value=100_000, required=False)
    benefit = forms.ChoiceField(label=_("or a benefit use"), choices=(), required=False)
    quantity = forms.IntegerField(label=_("Uses"), min_value=1, max_value=100, required=False)

    def __init__(self, *args, moves=(), benefits=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = list(moves)
        self.fields["benefit"].choices = [("", "—"), *benefits]

    def clean(self):
        data = super().clean()
        points, benefit, quantity = data.get("points"), data.get("benefit"), data.get("quantity")
        if (points or benefit) and data.get("to") != ComplaintState.RESOLVED:
            raise forms.ValidationError(gettext("Compensation is granted only when the complaint is resolved."))
        if points and benefit:
            raise forms.ValidationError(gettext("Compensate with points or with a benefit, not both."))
        if benefit and not quantity:
            self.add_error("quantity", gettext("How many uses of the benefit?"))
        return data

    def compensation(self) -> dict | None:
        data = self.cleaned_data
        if data.get("points"):
            return {"points": data["points"]}
        if data.get("benefit"):
            return {"benefit": data["benefit"], "quantity": data["quantity"]}
        return None


def _message(exc: DomainError) -> str:
    return ui.domain_message(exc, DOMAIN_MESSAGES, FIELD_MESSAGES)


def _desk_user(request):
    manager, supervises = roles(request)
    return manager, supervises, manager is not None or supervises


def moves_of(complaint: Complaint) -> list[tuple[str, str]]:
    allowed = complaint_rules.allowed_transitions(
        complaint.state, acknowledged=complaint.acknowledged_at is not None, replied=complaint.replied_at is not None
    )
    return [(to, ComplaintState(to).label) for to in allowed]


def compensable_benefits(customer) -> list[tuple[str, str]]:
    """The benefits of her tier that can be given as extra uses (counted per year or month)."""
    return [
        (row["benefit"], ui.label(row))
        for row in benefit_selectors.customer_benefits(customer=customer, on=timezone.localdate())
        if row["unit"] in benefit_services.COMPENSABLE_UNITS
        and row["period"] in ("year", "month")
        and not row.get("unlimited")
        and row.get("granted") is not None
    ]


def deadline_state(complaint: Complaint, now) -> str:
    """ "late" when a deadline it has not met has passed (or it was escalated), else "open"."""
    late = complaint_rules.lateness(
        at=now,
        today=timezone.localdate(now),
        ack_due_at=complaint.ack_due_at,
        reply_due_at=complaint.reply_due_at,
        resolve_due_on=complaint.resolve_due_on,
        acknowledged_at=complaint.acknowledged_at,
        replied_at=complaint.replied_at,
        resolved_at=complaint.resolved_at,
    )
    return "late" if late or complaint.escalated else "open"


def decorate(rows: list[Complaint], now) -> list[Complaint]:
    for c in rows:
        c.deadline_state = deadline_state(c, now) if c.is_open else ""
        c.next_due = c.ack_due_at if c.acknowledged_at is None else c.reply_due_at if c.replied_at is None else None
    return rows


# --- the customer page's panel (desk/templatetags/desk_complaints.py) ----------------------------------------


def customer_panel(request, customer, *, editable: bool) -> dict:
    """Her complaints (newest first) and, for her manager or a supervisor, the "log a complaint" form."""
    _manager, supervises = roles(request)
    rows = decorate(complaint_selectors.customer_complaints(customer), timezone.now())
    return {
        "customer": customer,
        "complaints": rows,
        "can_log": editable or supervises,
        "form": ComplaintLogForm(prefix="complaint"),
        "request": request,
    }


def team_panel(request) -> dict:
    """The supervisor's team page: her branches' late and escalated complaints."""
    now = timezone.now()
    rows, total = complaint_selectors.late_complaints_for_supervisor(request.user, at=now)
    return {"complaints": decorate(rows, now), "total": total, "request": request}


# --- the pages ----------------------------------------------------------------------------------------------


@require_POST
@login_required
def complaint_log(request, msisdn: str):
    """Log a complaint of one of her members (a manager) or of her branches' (a supervisor), received now by her."""
    manager, supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    customer = visible_customer(msisdn, request.user)
    back = reverse("managers:customer", args=[customer.msisdn]) + "#complaints"
    form = ComplaintLogForm(request.POST, prefix="complaint")
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    try:
        complaint = complaint_services.complaint_receive(
            customer=customer,
            channel=data["channel"],
            category=data["category"],
            text=data["text"],
            received_at=timezone.now(),
            actor=request.user,
            received_by=request.user,
            source="desk",
        )
    except DomainError as exc:
        messages.error(request, _message(exc))
        return redirect(back)
    messages.success(
        request,
        gettext("Complaint #%(id)s logged: acknowledge by %(due)s, reply by %(reply)s.")
        % {
            "id": complaint.pk,
            "due": timezone.localtime(complaint.ack_due_at).strftime("%m-%d %H:%M"),
            "reply": timezone.localtime(complaint.reply_due_at).strftime("%m-%d %H:%M"),
        },
    )
    return redirect(back)


@login_required
def complaint_list(request):
    """Her members' open complaints (a supervisor: her branches'), the soonest reply deadline first."""
    manager, supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    rows, total = complaint_selectors.open_complaints_for_desk(request.user)
    context = {
        "complaints": decorate(rows, timezone.now()),
        "total": total,
        "manager": manager,
        "supervises": supervises,
        "nav": "complaints",
        "today": timezone.localdate(),
    }
    return render(request, "desk/complaints.html", context)


def _visible_complaint(request, complaint_id: int) -> Complaint:
    try:
        return complaint_selectors.complaint_get(complaint_id=complaint_id, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@login_required
def complaint_detail(request, complaint_id: int):
    """One complaint: its deadlines and steps, and the next step (the owner, the member's manager, a supervisor)."""
    manager, supervises, ok = _desk_user(request)
    if not ok:
        return forbidden(request)
    complaint = _visible_complaint(request, complaint_id)
    moves = moves_of(complaint)
    benefits = compensable_benefits(complaint.customer) if any(to == "resolved" for to, _l in moves) else []
    form = ComplaintMoveForm(request.POST or None, moves=moves, benefits=benefits)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                complaint_services.complaint_transition(
                    complaint=complaint,
                    to=data["to"],
                    note=data["note"].strip(),
                    compensation=form.compensation(),
                    at=timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, _message(exc))
                status = 400
            else:
                messages.success(
                    request,
                    gettext("Complaint #%(id)s: %(state)s.")
                    % {"id": complaint.pk, "state": ComplaintState(data["to"]).label},
                )
                return redirect("managers:complaint", complaint_id=complaint.pk)
        else:
            status = 400
    steps = list(complaint.steps.all())
    now = timezone.now()
    decorate([complaint], now)
    context = {
        "complaint": complaint,
        "steps": steps,
        "form": form,
        "moves": moves,
        "benefits": benefits,
        "manager": manager,
        "supervises": supervises,
        "nav": "complaints",
        "today": timezone.localdate(),
    }
    return render(request, "desk/complaint.html", context, status=status)
