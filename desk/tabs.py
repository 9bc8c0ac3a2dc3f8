"""The desk's other tabs, each its own light page, paged: retention cases, members at risk, birthdays, cards.
(The queue is desk/queue.py; my customers, plans & log and the customer page are in desk/views.py.)"""

from django.shortcuts import render
from django.utils import timezone

from managers import selectors
from managers.models import AccountManager
from retention import rules as retention_rules
from retention import selectors as retention_selectors
from retention.models import CaseState
from retention.texts import reason_text

from .paging import page_of
from .views import manager_required, offer_label, roles

CASES_PER_PAGE = 8
RISK_PER_PAGE = 15
BIRTHDAYS_PER_PAGE = 20
CARDS_PER_PAGE = 20


def _render(request, template: str, manager: AccountManager, nav: str, **context):
    _manager, supervises = roles(request)
    return render(
        request,
        template,
        {"manager": manager, "supervises": supervises, "nav": nav, "today": timezone.localdate(), **context},
    )


@manager_required
def retention(request, *, manager: AccountManager):
    """Her open retention cases, the oldest first, with the moves each may make."""
    page = page_of(request.GET, count=retention_selectors.open_cases_count([manager]), per_page=CASES_PER_PAGE)
    cases = retention_selectors.open_cases_of([manager], limit=page.per_page, offset=page.offset)
    for case in cases:
        allowed = retention_rules.allowed_transitions(case.state)
        case.offer_label = offer_label(case.offer) if case.offer else ""
        case.moves = [(to, CaseState(to).label) for to in allowed]
        case.needs_offer = CaseState.OFFER_MADE in allowed
        case.needs_visit = CaseState.ESCALATED in allowed
    offers = (
        [(o.code, offer_label(o)) for o in retention_selectors.active_offers()]
        if any(c.needs_offer for c in cases)
        else []
    )
    section = {"section_id": "retention-cases", "cases": cases, "offers": offers, "editable": True, "total": page.count}
    return _render(request, "desk/retention.html", manager, "retention", section=section, page=page)


@manager_required
def risk(request, *, manager: AccountManager):
    """Her members with a risk signal, the heaviest first, with the reasons."""
    page = page_of(request.GET, count=retention_selectors.risk_count([manager]), per_page=RISK_PER_PAGE)
    rows = retention_selectors.risk_top([manager], limit=page.per_page, offset=page.offset)
    for row in rows:
        row.reason_texts = [(signal, reason_text(signal, shown), points) for signal, shown, points in row.reasons]
    section = {"section_id": "risk", "risk": rows, "show_manager": False, "total": page.count}
    return _render(request, "desk/risk.html", manager, "risk", section=section, page=page)


@manager_required
def birthdays(request, *, manager: AccountManager):
    """Her members' birthdays in the next 7 days, the soonest first."""
    today = timezone.localdate()
    rows = selectors.birthdays_of(manager, on=today)
    page = page_of(request.GET, count=len(rows), per_page=BIRTHDAYS_PER_PAGE)
    shown = [
        {"on": day, "customer": customer, "in_days": (day - today).days}
        for day, customer in rows[page.offset : page.offset + page.per_page]
    ]
    return _render(request, "desk/birthdays.html", manager, "birthdays", birthdays=shown, page=page)


@manager_required
def cards(request, *, manager: AccountManager):
    """Her members' membership cards not received yet, the oldest first."""
    qs = selectors.cards_in_progress(manager)
    page = page_of(request.GET, count=qs.count(), per_page=CARDS_PER_PAGE)
    return _render(
        request,
        "desk/cards.html",
        manager,
        "cards",
        cards=list(qs[page.offset : page.offset + page.per_page]),
        page=page,
    )
