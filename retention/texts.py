"""How retention speaks to staff, on the admin's pages and the desk's: the refusals of a case move and the risk
reasons, in the user's language (the services speak English)."""

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core import ui
from core.errors import DomainError

from .models import CaseState

DOMAIN_MESSAGES = {
    "invalid_transition": _("This step does not fit the case's current state."),
}
FIELD_MESSAGES = {
    "offer": _("Choose an offer from the catalog."),
    "visit_on": _("Enter the date of the home visit (not before the request)."),
    "note": _("The note is too long."),
}


def move_message(exc: DomainError) -> str:
    """A refusal of a case move in the user's language, with the states the case may move to."""
    text = ui.domain_message(exc, DOMAIN_MESSAGES, FIELD_MESSAGES)
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
