"""The account managers' and supervisors' pages (DOMAIN §4, §8), mounted at /dashboard/: the dashboard with quick
contact logging (htmx), the open retention cases with quick moves and the risk list, my customers, service plans
and the work log, and the supervisor's team view with reviews, her team's cases and risk list.

Views validate input, read through the apps' selectors, write through their services, and render. Who may do
what:
- a manager (an AccountManager row for the user) works on her own customers (active assignment);
- a supervisor (managers whose `supervisor` is the user) reads her managers' figures, lists and customers, and
  reviews their plans and work logs;
- anybody else gets a friendly 403 page.
"""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from benefits import selectors as benefit_selectors
from core import ui
from core.errors import DomainError, InvalidInput, NotFoundError
from core.permissions import MANAGER, SUPERVISOR, role_of
from customers.models import Customer
from managers import rules, selectors, services
from managers.models import (
    AccountManager,
    CardState,
    Channel,
    MembershipCard,
    ObligationKind,
    Outcome,
    ServicePlan,
)
from points import selectors as points_selectors
from retention import rules as retention_rules
from retention import selectors as retention_selectors
from retention import services as retention_services
from retention.models import CaseState, RetentionOffer
from retention.texts import move_message, reason_text
from service import survey_selectors
from tiers import selectors as tier_selectors
from tiers.models import Source

from . import customer_page
from .forms import (
    QUICK_RESULTS,
    BirthdayGiftForm,
    CardForm,
    CaseMoveForm,
    ContactForm,
    CustomerFilterForm,
    ReviewForm,
    ServicePlanForm,
    WorkLogForm,
)
from .paging import page_of

CUSTOMERS_PER_PAGE = 25
CASES_SHOWN = 30
PLANS_PER_PAGE = 4  # the plans page: its forms, a page of plans and the last week's logs stay under 4 phone screens
WORK_LOGS_SHOWN = 7
TEAM_RISK_SHOWN = 20

# Obligations a contact can close (the others are closed by their own action: gift confirmed, card delivered).
CONTACT_KINDS = frozenset(
    kind
    for kind in ObligationKind.values
    if any(rules.satisfies(kind, c, o) for c in Channel.values for o in Outcome.values)
)

# Messages for the refusals of the services, in the user's language (the services speak English).
DOMAIN_MESSAGES = {
    "not_member": _("Only members get a membership card."),
    "card_in_progress": _("A card for this customer is already in progress."),
    "card_state": _("This step does not fit the card's current state."),
    "not_open": _("This birthday gift is no longer open."),
    "plan_approved": _("An approved plan cannot be changed."),
    "plan_not_submitted": _("Only a submitted plan is reviewed."),
    "not_supervisor": _("Only the manager's supervisor reviews this."),
}
FIELD_MESSAGES = {
    "card_name": _("The name on the card is missing."),
    "address": _("An address is needed."),
    "agreed_date": _("Door delivery needs the agreed date."),
    "delivery_mode": _("Choose how the card is delivered."),
}
CARD_ACTION_LABELS = {
    "start": _("Start a membership card"),
    "reissue": _("Re-issue the card"),
    "collect": _("Save the card data"),
    "send_to_maker": _("Send to the card maker"),
    "arrive": _("The card has arrived"),
    "deliver": _("Deliver the card"),
    "receive": _("The member received the card"),
}
TIER_COLOURS = {"diamond": "#4f6bd8", "platinum": "#7b8794", "gold": "#c9a227", "silver": "#9aa5b1", "guest": "#b5651d"}


def domain_message(exc: DomainError) -> str:
    """A refusal of the managers' services (which speak English) in the user's language."""
    return ui.domain_message(exc, DOMAIN_MESSAGES, FIELD_MESSAGES)


# --- who is asking ---------------------------------------------------------------------------------------


def roles(request) -> tuple[AccountManager | None, bool]:
    """(her AccountManager if she is an account manager, whether she is a supervisor with managers), once per
    request: the roles of core.permissions, as the API and the admin have them."""
    if not hasattr(request, "_dashboard_roles"):
        role = role_of(request.user)
        manager = selectors.manager_of_user(request.user) if role == MANAGER else None
        supervises = role == SUPERVISOR and selectors.supervised_managers(request.user).exists()
        request._dashboard_roles = (manager, supervises)
    return request._dashboard_roles


def forbidden(request):
    return render(request, "managers/forbidden.html", status=403)


def manager_required(view):
    """Login, then a manager (her AccountManager passed as `manager`); anybody else gets the 403 page."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        manager, _supervises = roles(request)
        if manager is None:
            return forbidden(request)
        return view(request, *args, manager=manager, **kwargs)

    return wrapper


def supervisor_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        _manager, supervises = roles(request)
        if not supervises:
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapper


def visible_customer(msisdn: str, user) -> Customer:
    """The customer when this user may see her (own, a supervised manager's, or staff); 404 otherwise."""
    try:
        return selectors.scoped_customer(msisdn=msisdn, user=user)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


def own_customer(msisdn: str, user, manager: AccountManager) -> Customer:
    """The customer when she is this manager's own (active assignment); 404 otherwise, also for a supervisor."""
    customer = visible_customer(msisdn, user)
    if not selectors.serves(customer=customer, manager=manager):
        raise Http404("Not one of your customers.")
    return customer


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def tier_name(row: dict, prefix: str = "") -> str:
    zh = (get_language() or "").startswith("zh")
    return row[f"{prefix}name_zh" if zh else f"{prefix}name_en"]


# --- the home page ---------------------------------------------------------------------------------------


@login_required
def home(request):
    """Managers start on their daily page, supervisors on their team; everybody else on the club's home page."""
    manager, supervises = roles(request)
    if manager is not None:
        return redirect("managers:dashboard")
    if supervises:
        return redirect("managers:team")
    return render(request, "home.html")


# --- the dashboard ---------------------------------------------------------------------------------------


def tier_chart(by_tier: list[dict]) -> dict:
    """A horizontal bar chart of members per tier, drawn as SVG by the template."""
    bar_height, gap, label_width, chart_width, value_width = 26, 10, 72, 220, 52
    top = max((row["n"] for row in by_tier), default=0)
    bars = []
    for i, row in enumerate(by_tier):
        y = i * (bar_height + gap)
        width = max(3, round(chart_width * row["n"] / top)) if top else 0
        bars.append(
            {
                "code": row["tier__code"],
                "label": tier_name(row, "tier__"),
                "members": row["n"],
                "y": y,
                "text_y": y + bar_height // 2 + 5,
                "width": width,
                "value_x": label_width + width + 6,
                "colour": TIER_COLOURS.get(row["tier__code"], "#8a6d1f"),
            }
        )
    return {
        "bars": bars,
        "bar_height": bar_height,
        "label_width": label_width,
        "width": label_width + chart_width + value_width,
        "height": max(len(bars) * (bar_height + gap) - gap, 0),
        "total": sum(row["n"] for row in by_tier),
    }


@require_POST
@manager_required
def contact_log(request, msisdn: str, *, manager: AccountManager):
    """Log a contact (the form of the customer page; the queue's one-tap outcomes are desk/queue.py's), then back
    to `next` or the queue."""
    customer = own_customer(msisdn, request.user, manager)
    form = ContactForm(request.POST)
    back = safe_next(request, reverse("managers:dashboard"))
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    _log, closed = services.contact_log(
        customer=customer,
        channel=data["channel"],
        outcome=data["outcome"],
        note=data["note"].strip(),
        occurred_at=timezone.now(),
        actor=request.user,
        source="dashboard",
    )
    if closed:
        flash = ngettext(
            "Contact with %(name)s logged; %(count)d obligation closed.",
            "Contact with %(name)s logged; %(count)d obligations closed.",
            len(closed),
        ) % {"name": customer.name, "count": len(closed)}
    else:
        flash = gettext("Contact with %(name)s logged; it closes no open obligation.") % {"name": customer.name}
    messages.success(request, flash)
    return redirect(back)


# --- my customers ----------------------------------------------------------------------------------------


def tier_choices() -> list[tuple[str, str]]:
    zh = (get_language() or "").startswith("zh")
    return [(code, name_zh if zh else name_en) for code, name_zh, name_en in tier_selectors.tier_choices()] + [
        ("none", gettext("Not a member"))
    ]


def customers_of(manager: AccountManager, user, params) -> tuple[CustomerFilterForm, object, str]:
    """A manager's customers (active assignment), filtered and searched, one page of them, and the query string
    of the filters (for the pager). Each row has its tier and the due date of its next open obligation."""
    form = CustomerFilterForm(params or None, tiers=tier_choices())
    filters = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    qs = selectors.manager_customers(
        manager=manager,
        user=user,
        tier=filters.get("tier", ""),
        status=filters.get("status", ""),
        q=filters.get("q", ""),
    )
    page = Paginator(qs, CUSTOMERS_PER_PAGE).get_page(params.get("page"))
    today = timezone.localdate()
    page.object_list = list(page.object_list)
    for customer in page.object_list:  # overdue customers read how late, not when the next item was due
        customer.days_late = (today - customer.next_due).days if customer.next_due and customer.next_due < today else 0
    return form, page, urlencode(filters)


@manager_required
def customer_list(request, *, manager: AccountManager):
    form, page, query = customers_of(manager, request.user, request.GET)
    _manager, supervises = roles(request)
    return render(
        request,
        "managers/customer_list.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "manager": manager,
            "supervises": supervises,
            "nav": "customers",
            "chart": tier_chart(selectors.members_by_tier(manager)),
        },
    )


def card_actions(card: MembershipCard | None, is_member: bool) -> list[str]:
    if card is None or card.state == CardState.RECEIVED:
        if not is_member:
            return []
        return ["reissue" if card is not None else "start"]
    return [action for action, (states, _new) in services.CARD_FLOW.items() if card.state in states]


@login_required
def customer_detail(request, msisdn: str):
    manager, supervises = roles(request)
    if manager is None and not supervises:
        return forbidden(request)
    customer = visible_customer(msisdn, request.user)
    assignment = selectors.active_assignment(customer)
    editable = manager is not None and assignment is not None and assignment.manager_id == manager.pk
    tier = tier_selectors.tier_state(customer)
    obligations = selectors.customer_open_obligations(customer)
    today = timezone.localdate()
    for obligation in obligations:
        obligation.days_late = (today - obligation.due_on).days
    card = selectors.latest_card(customer)
    gifts = [
        (o, BirthdayGiftForm(initial={"obligation": o.pk, "address": card.address if card else ""}, prefix=f"g{o.pk}"))
        for o in obligations
        if o.kind == ObligationKind.BIRTHDAY_GIFT
    ]
    actions = card_actions(card, tier is not None) if editable else []
    card_form = CardForm(
        initial={
            "card_name": card.card_name if card else customer.name,
            "landline": card.landline if card else customer.landline,
            "birthday": (card.birthday if card else None) or customer.birthday,
            "address": card.address if card else "",
            "delivery_mode": card.delivery_mode if card else "",
            "agreed_date": card.agreed_date if card else None,
        }
    )
    context = {
        "customer": customer,
        "assignment": assignment,
        "editable": editable,
        "tier": tier,
        "tier_label": tier_name(tier) if tier else "",
        "tier_source": Source(tier["source"]).label if tier and tier["source"] in Source.values else "",
        "obligations": obligations,
        "case_section": customer_page.case_section(customer, editable=editable),
        "gift_status": customer_page.gift_status(customer, today=today),
        "why_tier": customer_page.why_tier(customer),
        "tier_history": customer_page.tier_history_page(customer, request.GET.get(customer_page.TIER_HISTORY_PAGE)),
        "trail": customer_page.timeline_page(customer, request.GET.get(customer_page.CONTACTS_PAGE)),
        "benefits": benefit_selectors.customer_benefits(customer=customer, on=today),
        "points": points_selectors.customer_points_panel(customer, on=today),
        "card": card,
        "card_actions": [(a, CARD_ACTION_LABELS[a]) for a in actions],
        "card_form": card_form,
        "gifts": gifts,
        "contact_form": ContactForm(initial={"channel": Channel.CALL, "outcome": Outcome.REACHED}),
        "quick_results": QUICK_RESULTS,
        "contact_kinds": CONTACT_KINDS,
        "manager": manager,
        "supervises": supervises,
        "today": today,
        "nav": "customers" if editable else "team",
    }
    return render(request, "managers/customer_detail.html", context)


@require_POST
@manager_required
def card_action(request, msisdn: str, *, manager: AccountManager):
    customer = own_customer(msisdn, request.user, manager)
    back = reverse("managers:customer", args=[customer.msisdn]) + "#card"
    form = CardForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Please check the card form: %(errors)s") % {"errors": form.errors.as_text()})
        return redirect(back)
    data = form.cleaned_data
    action = data["action"]
    try:
        if action in ("start", "reissue"):
            card = services.card_start(customer=customer, reissue=action == "reissue", actor=request.user)
        else:
            card = selectors.card_in_progress(customer)
            if card is None:
                raise Http404("No card in progress.")
            card = services.card_advance(
                card=card,
                action=action,
                on=timezone.localdate(),
                delivery_mode=data["delivery_mode"],
                agreed_date=data["agreed_date"],
                address=data["address"].strip(),
                card_name=data["card_name"].strip(),
                landline=data["landline"].strip(),
                birthday=data["birthday"],
                at=timezone.now(),
                actor=request.user,
            )
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(request, gettext("Card: %(state)s.") % {"state": card.get_state_display()})
    return redirect(back)


@require_POST
@manager_required
def birthday_gift(request, msisdn: str, obligation_id: int, *, manager: AccountManager):
    customer = own_customer(msisdn, request.user, manager)
    obligation = selectors.birthday_gift_of(customer=customer, obligation_id=obligation_id)
    if obligation is None:
        raise Http404("No such birthday gift.")
    form = BirthdayGiftForm(request.POST, prefix=f"g{obligation.pk}")
    back = reverse("managers:customer", args=[customer.msisdn])
    if not form.is_valid():
        messages.error(request, gettext("Gift choice, delivery time and address are all needed."))
        return redirect(back + "#gifts")
    data = form.cleaned_data
    try:
        services.birthday_gift_confirm(
            obligation=obligation,
            choice=data["choice"],
            time_note=data["time_note"],
            address=data["address"],
            at=timezone.now(),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(request, gettext("Birthday gift confirmed."))
    return redirect(back)


# --- plans and the work log ------------------------------------------------------------------------------


@manager_required
def plans(request, *, manager: AccountManager):
    """The manager writes her yearly, monthly and weekly service plans (draft or submit) and her daily log."""
    today = timezone.localdate()
    plan_initial = {"scope": ServicePlan.Scope.WEEK, "period": today}
    editing = request.GET.get("plan")
    if editing and editing.isdigit():
        plan = selectors.plan_of(manager=manager, plan_id=editing)
        if plan is not None:
            plan_initial = {"scope": plan.scope, "period": plan.period_start, "content": plan.content}
    todays_log = selectors.work_log_of(manager=manager, on=today)
    plan_form = ServicePlanForm(initial=plan_initial)
    log_form = WorkLogForm(initial={"date": today, "content": todays_log.content if todays_log else ""})
    if request.method == "POST":
        which = request.POST.get("form")
        if which == "plan":
            plan_form = ServicePlanForm(request.POST)
            if plan_form.is_valid():
                data = plan_form.cleaned_data
                submit = "submit" in request.POST
                try:
                    services.service_plan_save(
                        manager=manager,
                        scope=data["scope"],
                        period_start=data["period_start"],
                        content=data["content"],
                        submit=submit,
                    )
                except DomainError as exc:
                    messages.error(request, domain_message(exc))
                else:
                    messages.success(
                        request,
                        gettext("Plan submitted to your supervisor.") if submit else gettext("Plan saved as a draft."),
                    )
                    return redirect("managers:plans")
        elif which == "worklog":
            log_form = WorkLogForm(request.POST)
            if log_form.is_valid():
                data = log_form.cleaned_data
                try:
                    services.work_log_save(manager=manager, date=data["date"], content=data["content"])
                except DomainError as exc:
                    messages.error(request, domain_message(exc))
                else:
                    messages.success(request, gettext("Work log saved."))
                    return redirect("managers:plans")
    _manager, supervises = roles(request)
    plan_page = page_of(request.GET, count=selectors.plan_count(manager), per_page=PLANS_PER_PAGE)
    context = {
        "manager": manager,
        "plan_form": plan_form,
        "log_form": log_form,
        "plans": selectors.plans_of(manager, limit=plan_page.per_page, offset=plan_page.offset),
        "page": plan_page,
        "logs": selectors.work_logs_of(manager, limit=WORK_LOGS_SHOWN),
        "supervises": supervises,
        "nav": "plans",
        "today": today,
    }
    return render(request, "managers/plans.html", context)


# --- the supervisor's team -------------------------------------------------------------------------------


@supervisor_required
def team(request):
    today = timezone.localdate()
    rows = selectors.manager_overview(supervisor=request.user, on=today)
    manager, _supervises = roles(request)
    compliance = selectors.compliance(managers=[row["manager"] for row in rows], start=today.replace(day=1), end=today)
    plans_to_review = [(plan, ReviewForm(prefix=f"p{plan.pk}")) for plan in selectors.plans_to_review(request.user)]
    logs_to_review = [
        (log, ReviewForm(prefix=f"w{log.pk}")) for log in selectors.work_logs_to_review(request.user, limit=50)
    ]
    team = [row["manager"] for row in rows]
    context = {
        "rows": rows,
        "totals": {
            "members": sum(r["members"] for r in rows),
            "overdue": sum(r["overdue"] for r in rows),
            "due_today": sum(r["due_today"] for r in rows),
            "compliance": compliance.percent,
        },
        "plans_to_review": plans_to_review,
        "logs_to_review": logs_to_review,
        "review_count": len(plans_to_review) + len(logs_to_review),
        "team_cases": team_cases_section(team),
        "team_risk": team_risk_section(team),
        "satisfaction": survey_selectors.quarter_figures(
            year=today.year, quarter=(today.month - 1) // 3 + 1, manager_ids=[m.pk for m in team]
        ),
        "today": today,
        "manager": manager,
        "supervises": True,
        "nav": "team",
    }
    return render(request, "managers/team.html", context)


@supervisor_required
def team_manager(request, employee_no: str):
    """One of the supervisor's managers, read-only: overdue and due today, and her customers."""
    member = selectors.supervised_managers(request.user).filter(employee_no=employee_no).first()
    if member is None:
        raise Http404("Not one of your managers.")
    today = timezone.localdate()
    overdue, due_today = selectors.manager_obligations(member, on=today)
    totals = selectors.manager_obligation_counts(member, on=today)  # the lists stop at 100: say how many there are
    for obligation in overdue:
        obligation.days_late = (today - obligation.due_on).days
    form, page, query = customers_of(member, request.user, request.GET)
    manager, _supervises = roles(request)
    context = {
        "member": member,
        "overdue": overdue,
        "due_today": due_today,
        "totals": totals,
        "form": form,
        "page": page,
        "query": query,
        "today": today,
        "manager": manager,
        "supervises": True,
        "nav": "team",
    }
    return render(request, "managers/team_manager.html", context)


def _review(request, prefix: str, review):
    form = ReviewForm(request.POST, prefix=prefix)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(reverse("managers:team") + "#reviews")
    try:
        review(form.cleaned_data["decision"], form.cleaned_data["comment"].strip())
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    return redirect(reverse("managers:team") + "#reviews")


@require_POST
@supervisor_required
def plan_review(request, pk: int):
    plan = selectors.team_plan(supervisor=request.user, plan_id=pk)
    if plan is None:
        raise Http404("Not a plan of your team.")

    def review(decision, comment):
        if decision not in ("approve", "return"):
            raise InvalidInput("approve or return", fields={"decision": ["approve", "return"]})
        services.service_plan_review(
            plan=plan, approve=decision == "approve", at=timezone.now(), comment=comment, actor=request.user
        )
        text = gettext("Plan of %(name)s approved.") if decision == "approve" else gettext("Plan of %(name)s returned.")
        messages.success(request, text % {"name": plan.manager.name})

    return _review(request, f"p{plan.pk}", review)


@require_POST
@supervisor_required
def work_log_review(request, pk: int):
    log = selectors.team_work_log(supervisor=request.user, log_id=pk)
    if log is None:
        raise Http404("Not a work log of your team.")

    def review(_decision, comment):
        services.work_log_review(log=log, comment=comment, at=timezone.now(), actor=request.user)
        messages.success(request, gettext("Work log of %(name)s reviewed.") % {"name": log.manager.name})

    return _review(request, f"w{log.pk}", review)


# --- retention: the open cases and the risk list on the dashboard and the team page ---------------------


def risk_rows(managers: list[AccountManager], limit: int) -> list:
    rows = retention_selectors.risk_top(managers, limit=limit)
    for row in rows:
        row.reason_texts = [(signal, reason_text(signal, shown), points) for signal, shown, points in row.reasons]
    return rows


def offer_label(offer: RetentionOffer) -> str:
    """An offer's name in the language of the page."""
    return offer.name_zh if (get_language() or "").startswith("zh") else offer.name_en


def open_cases(managers: list[AccountManager]) -> tuple[list, list]:
    """The open cases of these managers with the moves each may make, and the offers (when a move needs one)."""
    cases = retention_selectors.open_cases_of(managers, limit=CASES_SHOWN)
    for case in cases:
        case.offer_label = offer_label(case.offer) if case.offer else ""
        case.moves = [(to, CaseState(to).label) for to in retention_rules.allowed_transitions(case.state)]
        case.needs_offer = CaseState.OFFER_MADE in retention_rules.allowed_transitions(case.state)
        case.needs_visit = CaseState.ESCALATED in retention_rules.allowed_transitions(case.state)
    offers = (
        [(o.code, offer_label(o)) for o in retention_selectors.active_offers()]
        if any(c.needs_offer for c in cases)
        else []
    )
    return cases, offers


# Each section is the context (`section`) of its template, included by the page: retention/_cases.html,
# retention/_risk.html.
def team_cases_section(managers: list[AccountManager]) -> dict:
    cases, _offers = open_cases(managers)
    return {"section_id": "team-retention-cases", "cases": cases, "offers": [], "editable": False, "show_manager": True}


def team_risk_section(managers: list[AccountManager]) -> dict:
    return {"section_id": "team-risk", "risk": risk_rows(managers, TEAM_RISK_SHOWN), "show_manager": True}


@require_POST
@manager_required
def case_move(request, case_id: int, *, manager: AccountManager):
    """A quick move of one of the manager's open cases (the buttons of the dashboard and of the customer page); back
    to the page it came from (`next`, on this site: the customer page's case), else to the dashboard."""
    case = retention_selectors.open_case_of_managers(case_id, [manager])
    if case is None:
        raise Http404("Not an open case of yours.")
    back = safe_next(request, "")
    back = f"{back}#case" if back else reverse("managers:retention") + "#retention-cases"
    form = CaseMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    to = data["to"]
    try:
        retention_services.case_transition(
            case=case,
            to=to,
            actor=request.user,
            note=data["note"].strip(),
            offer=data["offer"] if to == CaseState.OFFER_MADE else "",
            visit_on=data["visit_on"] if to == CaseState.ESCALATED else None,
            channel="call" if to == CaseState.CONTACTED else "",
            source="",
            at=timezone.now(),
        )
    except DomainError as exc:
        messages.error(request, move_message(exc))
    else:
        messages.success(
            request,
            gettext("Case of %(name)s: %(state)s.") % {"name": case.customer.name, "state": CaseState(to).label},
        )
    return redirect(back)
