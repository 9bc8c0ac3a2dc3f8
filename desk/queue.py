"""The manager's work queue, the desk's home page (/dashboard/): everything she owes up to the end of the week in
one prioritised list (overdue by days late, then due today, then this week; within, diamond first, then kind), with
the true count of each section, paged, filtered by kind and tier. Each item has a call button (`tel:` with the
member's number: she serves her own members), the one-tap outcomes, and after a tap an undo for
rules.UNDO_SECONDS seconds that reopens what the contact closed (managers.services.contact_log_undo).

A tap is an htmx post answered with the queue's body (the item gone, the counts updated, the undo bar); without
JavaScript the forms post and redirect back to the same page of the queue (`?undo=<log>` shows the undo bar)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import ui
from core.errors import DomainError
from managers import rules, selectors, services
from managers.models import AccountManager, ObligationKind

from .forms import QUEUE_RESULTS, QueueContactForm, QueueFilterForm
from .paging import page_of
from .views import CONTACT_KINDS, forbidden, manager_required, own_customer, roles, tier_choices

QUEUE_PER_PAGE = 10
SECTION_TITLES = {0: _("Overdue"), 1: _("Due today"), 2: _("Due this week")}
UNDO_MESSAGES = {
    "undo_expired": _("Too late to undo: a contact can be undone for 10 seconds only. Log a new one if needed."),
    "undo_not_author": _("Only who logged this contact can undo it."),
    "undo_gone": _("This contact is already undone."),
}


def queue_filters(params) -> tuple[QueueFilterForm, dict]:
    """The filter form and the valid filters ({"kind": …, "tier": …}, empty ones left out)."""
    form = QueueFilterForm(
        {k: params.get(k, "") for k in ("kind", "tier")}, kinds=ObligationKind.choices, tiers=tier_choices()
    )
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    return form, filters


def queue_context(request, manager: AccountManager, params, **extra) -> dict:
    """The queue's body: true counts per section, one page of items, the filters and the pager's query string."""
    today = timezone.localdate()
    form, filters = queue_filters(params)
    kind, tier = filters.get("kind", ""), filters.get("tier", "")
    counts = selectors.work_queue_counts(manager=manager, on=today, kind=kind, tier=tier)
    page = page_of(params, count=counts["total"], per_page=QUEUE_PER_PAGE)
    items = selectors.work_queue_page(
        manager=manager, on=today, offset=page.offset, limit=QUEUE_PER_PAGE, kind=kind, tier=tier
    )
    previous = None
    for item in items:
        item.heading = SECTION_TITLES[item.section] if item.section != previous else ""
        item.section_count = counts[("overdue", "today", "week")[item.section]]
        previous = item.section
    return {
        "manager": manager,
        "today": today,
        "counts": counts,
        "items": items,
        "page": page,
        "filter_form": form,
        "filters": filters,
        "query": urlencode(filters),
        "quick_results": QUEUE_RESULTS,
        "contact_kinds": CONTACT_KINDS,
        "undo_seconds": rules.UNDO_SECONDS,
        **extra,
    }


def queue_url(filters: dict, page: int | None = None, **more) -> str:
    params = {**filters, **({"page": page} if page and page > 1 else {}), **more}
    return reverse("managers:dashboard") + (f"?{urlencode(params)}" if params else "")


def undo_bar(log, at) -> dict:
    """The undo bar after a tap: the log and the seconds left to undo it."""
    left = rules.UNDO_SECONDS - (at - log.created_at).total_seconds()
    return {"undo_log": log, "undo_left": max(0, round(left, 1))}


@login_required
def queue(request):
    """The work queue (the desk's first tab); a supervisor without members of her own goes to her team."""
    manager, supervises = roles(request)
    if manager is None:
        return redirect("managers:team") if supervises else forbidden(request)
    now = timezone.now()
    log = selectors.undoable_log(user=request.user, log_id=request.GET.get("undo", ""), at=now)
    context = queue_context(request, manager, request.GET, **(undo_bar(log, now) if log else {}))
    today = context["today"]
    missing = selectors.calendar_missing_years(today)
    context.update(
        compliance=selectors.compliance(managers=[manager], start=today.replace(day=1), end=today),
        calendar_missing_years=missing,
        missing_years=", ".join(str(y) for y in missing),
        supervises=supervises,
        nav="queue",
    )
    return render(request, "desk/queue.html", context)


def _answer(request, manager, *, flash: str, level: str, status: int = 200, extra=None):
    """The queue's body for htmx (the same page and filters as the form posted), else a redirect back to it."""
    if request.htmx:
        context = queue_context(request, manager, request.POST, flash=flash, flash_level=level, **(extra or {}))
        # the queue tab's count (unfiltered), out of band
        context["queue_total"] = (
            selectors.work_queue_counts(manager=manager, on=context["today"])["total"]
            if context["filters"]
            else context["counts"]["total"]
        )
        return render(request, "desk/_queue.html", context, status=status)
    (messages.success if level == "success" else messages.error)(request, flash)
    _form, filters = queue_filters(request.POST)
    more = {"undo": extra["undo_log"].pk} if extra and "undo_log" in extra else {}
    page = request.POST.get("page", "")
    return redirect(queue_url(filters, int(page) if page.isdigit() and len(page) < 7 else None, **more))


@require_POST
@manager_required
def queue_log(request, msisdn: str, *, manager: AccountManager):
    """A one-tap outcome on a queue item: the contact is logged and closes what it satisfies."""
    customer = own_customer(msisdn, request.user, manager)
    form = QueueContactForm(request.POST)
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _answer(request, manager, flash=error, level="error", status=400)
    data = form.cleaned_data
    now = timezone.now()
    log, closed = services.contact_log(
        customer=customer,
        channel=data["channel"],
        outcome=data["outcome"],
        note=data["note"].strip(),
        occurred_at=now,
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
    return _answer(request, manager, flash=flash, level="success", extra=undo_bar(log, now))


@require_POST
@manager_required
def queue_undo(request, log_id: int, *, manager: AccountManager):
    """Undo the contact just logged: its obligations are open again (only its author, within the window)."""
    log = selectors.contact_log_of(user=request.user, log_id=log_id)
    if log is None:
        raise Http404("No such contact of your members.")
    name = log.customer.name
    try:
        reopened = services.contact_log_undo(actor=request.user, log=log, at=timezone.now())
    except DomainError as exc:
        return _answer(request, manager, flash=ui.domain_message(exc, UNDO_MESSAGES), level="error", status=409)
    flash = ngettext(
        "Undone: the contact with %(name)s is removed and %(count)d obligation is open again.",
        "Undone: the contact with %(name)s is removed and %(count)d obligations are open again.",
        len(reopened),
    ) % {"name": name, "count": len(reopened)}
    return _answer(request, manager, flash=flash, level="success")
