"""The member page's timeline: one list, newest first, of what happened to a customer — tier changes, contacts,
retention cases and their steps, benefit uses, points movements and adjustments, cards, overrides.

Each source is one query for its `limit` newest rows (limit = the page's end), merged in Python: the page costs
the same number of queries however long her history is (a test pins it). Labels go through the fields' choices
and the rows' names in the user's language; nothing shows `… object (N)`."""

import datetime as dt
import heapq
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from benefits.models import BenefitEntry
from benefits.models import EntryKind as BenefitKind
from core import ui
from managers.models import ContactLog, MembershipCard
from points.models import PointsAdjustment, PointsEntry
from retention.models import CaseStep
from tiers.models import TierChange, TierOverride

PAGE_SIZE = 25


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str  # css class and filter key
    label: str  # what it is, in the user's language
    text: str
    actor: str = ""


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(0, 0)))


def _name(row) -> str:
    return ui.label(row) if row is not None else _("none")


def _tier_changes(customer, limit):
    rows = TierChange.objects.filter(customer=customer).select_related("from_tier", "to_tier").order_by("-id")[:limit]
    for c in rows:
        text = f"{_name(c.from_tier)} → {_name(c.to_tier)} · {c.get_transition_display()} · {c.get_reason_display()}"
        if c.valid_until:
            text += " · " + _("valid until %(day)s") % {"day": f"{c.valid_until:%Y-%m-%d}"}
        actor = _("rating run #%(id)s") % {"id": c.run_id} if c.run_id else _("daily job / staff")
        yield Event(c.created_at, "tier", _("Tier change"), text, actor)


def _contacts(customer, limit):
    rows = (
        ContactLog.objects.filter(customer=customer)
        .select_related("manager", "logged_by")
        .order_by("-occurred_at", "-id")[:limit]
    )
    for c in rows:
        text = f"{c.get_channel_display()} · {c.get_outcome_display()}" + (f" · {c.note}" if c.note else "")
        actor = c.logged_by.get_username() if c.logged_by else (c.manager.name if c.manager else c.source)
        yield Event(c.occurred_at, "contact", _("Contact"), text, actor)


def _case_steps(customer, limit):
    rows = CaseStep.objects.filter(case__customer=customer).select_related("offer").order_by("-at", "-id")[:limit]
    for s in rows:
        text = _("Case #%(id)s") % {"id": s.case_id} + f": {s.get_action_display()}"
        if s.from_state and s.from_state != s.to_state:
            text += f" · {s.get_from_state_display()} → {s.get_to_state_display()}"
        if s.offer_id:
            text += f" · {ui.label(s.offer)}"
        if s.note:
            text += f" · {s.note}"
        yield Event(s.at, "case", _("Retention case"), text, s.actor_label)


def _benefit_uses(customer, limit):
    rows = (
        BenefitEntry.objects.filter(customer=customer)
        .exclude(kind=BenefitKind.GRANT)
        .select_related("benefit")
        .order_by("-created_at", "-id")[:limit]
    )
    for e in rows:
        text = f"{ui.label(e.benefit)} · {e.get_kind_display()}"
        if e.used_delta:
            text += f" · {e.used_delta:+d}"
        if e.remaining_after is not None:
            text += " · " + _("%(n)s left") % {"n": e.remaining_after}
        if e.reference:
            text += f" · {e.reference}"
        yield Event(e.created_at, "benefit", _("Benefit"), text, e.actor)


def _points(customer, limit):
    rows = PointsEntry.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]
    for e in rows:
        text = f"{e.get_kind_display()} {e.amount:+d}"
        if e.bill_month:
            text += " · " + _("bill %(month)s") % {"month": f"{e.bill_month:%Y-%m}"}
        if e.balance_after is not None:
            text += " · " + _("balance %(n)s") % {"n": e.balance_after}
        if e.reference:
            text += f" · {e.reference}"
        yield Event(e.created_at, "points", _("Points"), text, e.actor)


def _adjustments(customer, limit):
    # applied adjustments are in the ledger already: the requests still waiting or refused
    rows = (
        PointsAdjustment.objects.filter(customer=customer)
        .exclude(status="applied")
        .select_related("requested_by", "decided_by")
        .order_by("-requested_at", "-id")[:limit]
    )
    for a in rows:
        text = f"{a.points:+d} · {a.reason} · {a.get_status_display()}"
        if a.decision_note:
            text += f" ({a.decision_note})"
        yield Event(a.requested_at, "points", _("Points adjustment"), text, a.requested_by.get_username())


def _cards(customer, limit):
    rows = MembershipCard.objects.filter(customer=customer).select_related("tier").order_by("-updated_at")[:limit]
    for c in rows:
        text = f"{str(c)} · {ui.label(c.tier)}" + (" · " + _("re-issue") if c.reissue else "")
        yield Event(c.updated_at, "card", _("Membership card"), text)


def _overrides(customer, limit):
    rows = (
        TierOverride.objects.filter(customer=customer)
        .select_related("tier", "created_by", "approved_by")
        .order_by("-created_at")[:limit]
    )
    for o in rows:
        text = (
            f"{ui.label(o.tier)} · {o.starts_on:%Y-%m-%d} → {o.ends_on:%Y-%m-%d} · {o.get_status_display()} · "
            f"{o.reason}"
        )
        if o.approved_by:
            text += " · " + _("approved by %(who)s") % {"who": o.approved_by.get_username()}
        yield Event(o.created_at, "tier", _("Tier override"), text, o.created_by.get_username())


SOURCES = (_tier_changes, _contacts, _case_steps, _benefit_uses, _points, _adjustments, _cards, _overrides)


def member_timeline(customer, *, page: int = 1, size: int = PAGE_SIZE) -> dict:
    """One page of her timeline, newest first: {"events", "page", "has_next"} (one query per source)."""
    page = max(1, page)
    limit = page * size + 1
    streams = [sorted(source(customer, limit), key=lambda e: e.at, reverse=True) for source in SOURCES]
    merged = list(heapq.merge(*streams, key=lambda e: e.at, reverse=True))
    start = (page - 1) * size
    return {"events": merged[start : start + size], "page": page, "has_next": len(merged) > start + size}
