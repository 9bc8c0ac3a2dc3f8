"""The sections of the manager's customer page (views.customer_detail): her retention case with its steps, offers and
next steps, the birthday-gift status, why she holds her tier and the tier history, and the contact timeline. Each
returns the context of its part of managers/customer_detail.html, read through the apps' selectors; the long lists
(tier history, contacts) are paged, so the page's queries do not grow with her history."""

import datetime as dt

from django.core.paginator import Paginator
from django.utils.translation import gettext_lazy as _

from core import ui
from core.errors import DomainError
from customers.models import Customer
from managers import rules as manager_rules
from managers import selectors
from managers.models import ObligationStatus
from retention import rules as retention_rules
from retention import selectors as retention_selectors
from retention.models import CaseState, StepAction
from tiers import selectors as tier_selectors
from tiers.models import Source, Transition

TIER_HISTORY_PER_PAGE = 8
CONTACTS_PER_PAGE = 10
# The page's query parameters of the paged sections (they page apart from each other).
TIER_HISTORY_PAGE = "th"
CONTACTS_PAGE = "tp"


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


# --- the retention case ----------------------------------------------------------------------------------


def case_section(customer: Customer, *, editable: bool) -> dict | None:
    """Her open case (else her latest closed one, read only), its steps, and when she may move it the next steps
    and the offers of the catalog; None when she never asked to leave."""
    case = retention_selectors.customer_case(customer)
    if case is None:
        return None
    is_open = case.state not in retention_rules.TERMINAL
    moves = retention_rules.allowed_transitions(case.state) if is_open and editable else ()
    case.offer_label = ui.label(case.offer)
    case.moves = [(to, CaseState(to).label) for to in moves]
    case.needs_offer = CaseState.OFFER_MADE in moves
    case.needs_visit = CaseState.ESCALATED in moves
    steps = [
        {
            "at": step.at,
            "action": _label(StepAction, step.action),
            "to": _label(CaseState, step.to_state) if step.action == StepAction.TRANSITION else "",
            "by": ui.user_name(step.actor) if step.actor_id else step.actor_label,
            "note": step.note,
            "offer": ui.label(step.offer),
            "visit_on": step.visit_on,
        }
        for step in case.steps.all()
    ]
    offers = [(o.code, ui.label(o)) for o in retention_selectors.active_offers()] if case.needs_offer else []
    return {"case": case, "open": is_open, "steps": steps, "offers": offers, "editable": bool(moves)}


# --- the birthday gift -----------------------------------------------------------------------------------


def gift_status(customer: Customer, *, today: dt.date) -> dict:
    """Her birthday gift this year: `confirmed` (when, what), `open` (to confirm by), or `coming` (her next birthday;
    the gift opens before it)."""
    gift = selectors.latest_birthday_gift(customer)
    next_birthday = manager_rules.next_birthday(customer.birthday, today) if customer.birthday else None
    if gift is not None and gift.status in (ObligationStatus.OPEN, ObligationStatus.OVERDUE):
        return {"state": "open", "gift": gift, "next_birthday": next_birthday}
    recent = gift is not None and gift.status == ObligationStatus.DONE and (today - gift.due_on).days <= 60
    if recent:
        return {"state": "confirmed", "gift": gift, "next_birthday": next_birthday}
    return {"state": "coming", "gift": gift, "next_birthday": next_birthday}


# --- the tier --------------------------------------------------------------------------------------------


def why_tier(customer: Customer) -> dict | None:
    """How the last applied rating run rated her, in a few lines: the score and the tier it gives, the floors that
    gave a tier, an override, the decision. None before any run."""
    run = tier_selectors.latest_applied_run()
    if run is None:
        return None
    try:
        explain = tier_selectors.tier_explain(customer, run)
    except DomainError as exc:
        return {"error": exc.message}
    names = tier_selectors.tier_names()

    def tier(code):
        return names.get(code, code) if code else ""

    floors = [
        (
            _("tariff plan %(plan)s") % {"plan": explain["floors"]["plan"]["plan_code"] or ""},
            explain["floors"]["plan"]["tier"],
        ),
        (_("group key person"), explain["floors"]["key_person"]["tier"]),
        (_("cross-region move-in"), explain["floors"]["transfer"]["tier"]),
        (_("staff override"), explain["override"]["tier"]),
    ]
    thresholds = sorted(
        ((names.get(code, code), value) for code, value in explain["policy"]["thresholds"].items()),
        key=lambda pair: -float(pair[1]),
    )
    after = explain["after"]
    return {
        "month": explain["month"],
        "score": explain["score"]["total"],
        "bill_points": explain["score"]["bill_points"],
        "tenure_bonus": explain["score"]["tenure_bonus"],
        "bill_months": len(explain["score"]["bill_months"]),
        "score_tier": tier(explain["score"]["tier"]),
        "thresholds": thresholds,
        "floors": [(label, tier(code)) for label, code in floors if code],
        "after": tier(after["tier"]),
        "valid_until": after["valid_until"],
        "held": explain["held_by_validity"],
        "transition": _label(Transition, explain["transition"]) if explain["transition"] else "",
        "reason": _label(Source, explain["reason"]) if explain["reason"] else "",
    }


def tier_history_page(customer: Customer, number) -> object:
    page = Paginator(tier_selectors.tier_history(customer), TIER_HISTORY_PER_PAGE).get_page(number)
    for change in page.object_list:
        change.from_label = ui.label(change.from_tier)
        change.to_label = ui.label(change.to_tier)
    return page


# --- the contacts ----------------------------------------------------------------------------------------


def timeline_page(customer: Customer, number) -> object:
    return Paginator(selectors.contact_timeline(customer), CONTACTS_PER_PAGE).get_page(number)
