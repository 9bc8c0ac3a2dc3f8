"""Retention on the account manager's pages: the open cases with quick moves and the top of the risk list on the
dashboard, the team's cases and risk list on the supervisor's page. `register()` (RetentionConfig.ready) adds the
sections and the page to managers' dashboard, which cannot import this app."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from managers import views as manager_views
from managers.views import manager_required

from . import rules, selectors, services
from .forms import CaseMoveForm
from .models import CaseState, RetentionOffer

CASES_SHOWN = 30
RISK_SHOWN = 10
TEAM_RISK_SHOWN = 20

DOMAIN_MESSAGES = {
    "invalid_transition": _("This step does not fit the case's current state."),
}
FIELD_MESSAGES = {
    "offer": _("Choose an offer from the catalog."),
    "visit_on": _("Enter the date of the home visit (not before the request)."),
    "note": _("The note is too long."),
}


def move_message(exc: DomainError) -> str:
    """A refusal of the services (which speak English) in the user's language."""
    text = manager_views.domain_message(exc, DOMAIN_MESSAGES, FIELD_MESSAGES)
    if exc.code != "invalid_transition" or not exc.fields.get("allowed"):
        return text
    allowed = ", ".join(str(CaseState(s).label) for s in exc.fields["allowed"])
    return text + " " + gettext("Possible: %(states)s.") % {"states": allowed}


def reason_text(signal: str, shown) -> str:
    """A risk reason as the manager reads it."""
    if signal == "falling_spend":
        return gettext("Spend down %(percent)s %% (last 3 bills against the 3 before)") % {"percent": shown}
    n = int(shown)
    texts = {
        "suspension": ngettext("%(n)d suspension", "%(n)d suspensions", n),
        "arrears": ngettext("%(n)d unpaid bill", "%(n)d unpaid bills", n),
        "closure_request": ngettext("%(n)d closure request", "%(n)d closure requests", n),
        "overdue_contact": ngettext("%(n)d overdue contact", "%(n)d overdue contacts", n),
    }
    return texts.get(signal, signal) % {"n": n}


def _risk_rows(managers, limit: int) -> list:
    rows = selectors.risk_top(managers, limit=limit)
    for row in rows:
        row.reason_texts = [(signal, reason_text(signal, shown), points) for signal, shown, points in row.reasons]
    return rows


def offer_label(offer: RetentionOffer) -> str:
    """An offer's name in the language of the page."""
    return offer.name_zh if (get_language() or "").startswith("zh") else offer.name_en


def _cases(managers) -> tuple[list, list]:
    cases = selectors.open_cases_of(managers, limit=CASES_SHOWN)
    for case in cases:
        case.offer_label = offer_label(case.offer) if case.offer else ""
        case.moves = [(to, CaseState(to).label) for to in rules.allowed_transitions(case.state)]
        case.needs_offer = CaseState.OFFER_MADE in rules.allowed_transitions(case.state)
        case.needs_visit = CaseState.ESCALATED in rules.allowed_transitions(case.state)
    offers = (
        [(o.code, offer_label(o)) for o in RetentionOffer.objects.filter(active=True)]
        if any(c.needs_offer for c in cases)
        else []
    )
    return cases, offers


def cases_section(request, managers) -> dict:
    cases, offers = _cases(managers)
    return {"template": "retention/_cases.html", "section_id": "retention-cases", "cases": cases, "offers": offers,
            "editable": True}  # fmt: skip


def risk_section(request, managers) -> dict:
    return {"template": "retention/_risk.html", "section_id": "risk", "risk": _risk_rows(managers, RISK_SHOWN),
            "show_manager": False}  # fmt: skip


def team_cases_section(request, managers) -> dict:
    cases, _offers = _cases(managers)
    return {"template": "retention/_cases.html", "section_id": "team-retention-cases", "cases": cases,
            "offers": [], "editable": False, "show_manager": True}  # fmt: skip


def team_risk_section(request, managers) -> dict:
    return {"template": "retention/_risk.html", "section_id": "team-risk",
            "risk": _risk_rows(managers, TEAM_RISK_SHOWN), "show_manager": True}  # fmt: skip


@require_POST
@manager_required
def case_move(request, case_id: int, *, manager):
    """A quick move of one of the manager's open cases (the dashboard's buttons); back to the dashboard."""
    case = selectors.open_case_of_managers(case_id, [manager])
    if case is None:
        raise Http404("Not an open case of yours.")
    back = reverse("managers:dashboard") + "#retention-cases"
    form = CaseMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    to = data["to"]
    try:
        services.case_transition(
            case=case, to=to, actor=request.user, note=data["note"].strip(),
            offer=data["offer"] if to == CaseState.OFFER_MADE else "",
            visit_on=data["visit_on"] if to == CaseState.ESCALATED else None,
            channel="call" if to == CaseState.CONTACTED else "", source="",
        )  # fmt: skip
    except DomainError as exc:
        messages.error(request, move_message(exc))
    else:
        messages.success(
            request,
            gettext("Case of %(name)s: %(state)s.") % {"name": case.customer.name, "state": CaseState(to).label},
        )
    return redirect(back)


def register() -> None:
    """Add retention's sections and page to the managers' dashboard (once)."""
    if cases_section in manager_views.DASHBOARD_SECTIONS:
        return
    manager_views.DASHBOARD_SECTIONS.extend([cases_section, risk_section])
    manager_views.TEAM_SECTIONS.extend([team_cases_section, team_risk_section])
    manager_views.EXTRA_URLS.append(path("retention/cases/<int:case_id>/move/", case_move, name="retention-case-move"))
