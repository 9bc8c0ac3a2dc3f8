"""Retention's texts in the user's language, for the pages (desk) and the admin: a refused case move, a risk
reason."""

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, user_message

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
    """A refusal of the case services (which speak English) in the user's language."""
    text = user_message(exc, codes=DOMAIN_MESSAGES, fields=FIELD_MESSAGES)
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
