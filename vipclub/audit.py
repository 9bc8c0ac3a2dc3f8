"""The audit trail in one admin page: every staff change to the club's configuration (tiers, rating policies,
overrides, benefits and entitlements, points and credit policies, calendars, managers and assignments, retention
offers, churn targets and risk weights), newest
first, with who, when and each changed field before and after.

The rows are django-simple-history's: the models keep `history = HistoricalRecords()`, the request middleware
names the user, and services that change them in bulk use simple-history's bulk helpers with `default_user`.
Each model's own history page (the admin's "History" button) shows the same rows for one object."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest, ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from core import history
from managers import selectors as manager_selectors

# (app_label, model): the configuration staff change; ledgers and bulk engine writes keep their own tables.
AUDITED = (
    ("tiers", "Tier"),
    ("tiers", "RatingPolicy"),
    ("tiers", "TierOverride"),
    ("benefits", "Benefit"),
    ("benefits", "TierEntitlement"),
    ("points", "RewardRule"),
    ("points", "PointsPolicy"),
    ("points", "CreditPolicy"),
    ("managers", "AccountManager"),
    ("managers", "Assignment"),
    ("managers", "WorkingDayOverride"),
    ("managers", "CalendarYear"),
    ("managers", "ContactRule"),
    ("retention", "RetentionOffer"),
    ("retention", "ChurnTarget"),
    ("retention", "RiskWeight"),
    ("service", "ComplaintPolicy"),
    ("service", "Gift"),
)
# The rows of a supervisor's branches only (managers.selectors.scope_rows' arguments); the others are configuration.
BRANCH_ROWS = {
    ("tiers", "TierOverride"): {"customer": "customer"},
    ("managers", "Assignment"): {"customer": "customer"},
    ("managers", "AccountManager"): {"customer": None, "region": "region"},
}
# Assignments are created in bulk by the monthly pipeline (not a staff change); their state before a staff
# change is recorded by that change (managers.services.customers_reassign).
BACKFILLED = tuple(model for model in AUDITED if model != ("managers", "Assignment"))
ACTIONS = {"+": _("added"), "~": _("changed"), "-": _("deleted")}
PAGE_SIZE = 50


@dataclass
class Entry:
    record: object
    model: type
    changes: list[tuple[str, str, str]]
    instance: models.Model  # the object as of the row (`record.history_object`, built once)
    label: str  # its `str()`, or "<model> #<id>" when an object it names has since been deleted

    @property
    def action(self):
        return ACTIONS.get(self.record.history_type, self.record.history_type)

    @property
    def reason(self) -> str:
        return history.change_reason(self.record.history_change_reason)

    @property
    def who(self) -> str:
        return history.user_label(self.record.history_user)

    @property
    def when(self) -> str:
        return history.local_time(self.record.history_date)

    @property
    def model_name(self):
        return self.model._meta.verbose_name

    @property
    def history_url(self) -> str:
        """The object's own history page in the admin (its rows, with simple-history's view of each)."""
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_history", args=[getattr(self.record, opts.pk.attname)]
        )


def audited_models() -> list[type]:
    return [apps.get_model(app, name) for app, name in AUDITED]


def record_initial_state(**kwargs) -> None:
    """After migrate: rows of the audited configuration that have no history yet (seeded by data migrations or
    loaded in bulk) get one, so the first staff change shows its "before". Small tables; idempotent."""
    for app_label, name in BACKFILLED:
        model = apps.get_model(app_label, name)
        recorded = model.history.values("id")  # the history rows keep the object's id
        missing = list(model.objects.exclude(pk__in=recorded))
        if missing:
            model.history.bulk_history_create(missing, default_change_reason="initial state")


def _previous(model: type, records: list) -> dict[int, object]:
    """history_id → the row before it of the same object (simple-history's `prev_record`: the newest row of that
    object dated earlier), for rows of one model in one query: the database finds each row's predecessor's id, the
    rows found are matched back here."""
    key = model._meta.pk.attname  # the history rows keep the object's id under its own name
    newest_earlier = (
        model.history.filter(**{key: OuterRef(key)}, history_date__lt=OuterRef("history_date"))
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    ids = model.history.filter(history_id__in=[r.history_id for r in records]).values(prev=Subquery(newest_earlier))
    by_object = defaultdict(list)
    for row in model.history.filter(history_id__in=ids):
        by_object[getattr(row, key)].append(row)
    previous = {}
    for record in records:
        earlier = [row for row in by_object[getattr(record, key)] if row.history_date < record.history_date]
        previous[record.history_id] = max(earlier, key=lambda row: (row.history_date, row.history_id), default=None)
    return previous


def _load_label_relations(model: type, instances: list[models.Model]) -> None:
    """A model's own `__str__` may name related objects (an entitlement: its tier and benefit): read those of all
    the page's rows of the model at once, one query per relation, instead of one per row. A related object since
    deleted is cached as missing when the relation is required (reading it raises, with no query); of an optional
    relation it is left to the usual lazy lookup (which raises), as None would read as "no object"."""
    if model.__str__ is models.Model.__str__:
        return
    for field in model._meta.concrete_fields:
        if not (field.many_to_one or field.one_to_one):
            continue
        ids = {getattr(obj, field.attname) for obj in instances} - {None}
        if not ids:
            continue
        target = field.target_field.attname
        related = field.related_model._base_manager.filter(**{f"{target}__in": ids})
        found = {getattr(obj, target): obj for obj in related}
        for obj in instances:
            if getattr(obj, field.attname) in found:
                field.set_cached_value(obj, found[getattr(obj, field.attname)])
            elif getattr(obj, field.attname) is not None and not field.null:
                field.set_cached_value(obj, None)


def _label(model: type, record, instance: models.Model) -> str:
    """The object's own label, or its model and id when the label names an object since deleted (the history row
    keeps the id of an entitlement's benefit or tier after they are gone)."""
    try:
        return str(instance)
    except ObjectDoesNotExist:
        return _("%(model)s #%(id)s (related object deleted)") % {
            "model": model._meta.verbose_name,
            "id": getattr(record, model._meta.pk.attname),
        }


def _changes(record, previous) -> list[tuple[object, str, object, object]]:
    """(field, label, before, after) of one history row against the row before it of the same object; the raw
    values, made readable by `_readable` (the related objects of the whole page read at once)."""
    if previous is None:
        return []
    delta = record.diff_against(previous)
    model = record.instance_type
    return [
        (history.field_of(model, c.field), history.field_label(model, c.field), c.old, c.new) for c in delta.changes
    ]


def _readable(changes: list, related: dict) -> list[tuple[str, str, str]]:
    return [
        (label, history.value_text(field, old, related=related), history.value_text(field, new, related=related))
        for field, label, old, new in changes
    ]


def _entries(rows: list[tuple[object, type]]) -> list[Entry]:
    """The page's rows with their changes and labels, in a fixed number of queries per model on the page."""
    by_model = defaultdict(list)
    for record, model in rows:
        by_model[model].append(record)
    previous, instances = {}, {}  # by (model, history_id): each history table numbers its own rows
    for model, records in by_model.items():
        previous.update({(model, hid): row for hid, row in _previous(model, records).items()})
        objs = {(model, record.history_id): record.history_object for record in records}
        _load_label_relations(model, list(objs.values()))
        instances.update(objs)
    raw = {(m, r.history_id): _changes(r, previous[m, r.history_id]) for r, m in rows}
    related = history.related_objects([(f, old, new) for changes in raw.values() for f, _l, old, new in changes])
    return [
        Entry(
            record=r,
            model=m,
            changes=_readable(raw[m, r.history_id], related),
            instance=instances[m, r.history_id],
            label=_label(m, r, instances[m, r.history_id]),
        )
        for r, m in rows
    ]


def _sort_key(record, model: type) -> tuple:
    """The trail's total order (newest first = descending): date, then model, then row; history tables number
    their rows separately and rows written together (an initial state, a bulk change) share one date."""
    return (record.history_date, model._meta.label_lower, record.history_id)


def _older_than(model: type, before: tuple) -> Q:
    """The rows of `model` after the cursor (date, model label, history_id) in the trail's order."""
    date, label, history_id = before
    own = model._meta.label_lower
    if own < label:
        return Q(history_date__lte=date)
    if own == label:
        return Q(history_date__lt=date) | Q(history_date=date, history_id__lt=history_id)
    return Q(history_date__lt=date)


def cursor(entry: Entry) -> str:
    """The "Older" link's cursor after `entry`: `<UTC date>|<model label>|<history_id>`."""
    date = entry.record.history_date.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return f"{date}|{entry.model._meta.label_lower}|{entry.record.history_id}"


def parse_cursor(value: str, labels) -> tuple:
    """(date, model label, history_id) of a cursor made by `cursor`; ValueError when it is not one."""
    date, label, history_id = value.split("|")  # ValueError unless three parts
    date = parse_datetime(date.replace(" ", "+"))  # a "+" left unencoded in a hand-written link reads as a space
    if date is None or date.tzinfo is None or label not in labels:
        raise ValueError(value)
    if not (history_id.isascii() and history_id.isdigit() and len(history_id) <= 18):
        raise ValueError(value)
    return date, label, int(history_id)


def audit_entries(*, model: type | None = None, user_id: int | None = None, before: tuple | None = None, viewer=None):
    """One page of history rows of the audited models (or one model), newest first by (date, model, row), after
    `before` (a cursor: that key of the last row of the previous page), of the rows `viewer` may see (a supervisor:
    her branches' assignments, overrides and managers). Each table gives at most a page, then merge."""
    rows = []
    for m in [model] if model else audited_models():
        qs = m.history.select_related("history_user").order_by("-history_date", "-history_id")
        scope = BRANCH_ROWS.get((m._meta.app_label, m.__name__))
        if scope and viewer is not None:
            qs = manager_selectors.scope_rows(qs, viewer, **scope)
        if user_id:
            qs = qs.filter(history_user_id=user_id)
        if before:
            qs = qs.filter(_older_than(m, before))
        rows += [(r, m) for r in qs[:PAGE_SIZE]]
    rows.sort(key=lambda pair: _sort_key(*pair), reverse=True)
    return _entries(rows[:PAGE_SIZE])


def audit_view(request):
    """Admin page (superusers and staff with the view permission of every audited model)."""
    models = audited_models()
    if not all(request.user.has_perm(f"{m._meta.app_label}.view_{m._meta.model_name}") for m in models):
        raise PermissionDenied
    by_label = {m._meta.label_lower: m for m in models}
    model = by_label.get(request.GET.get("model", ""))
    user_id = request.GET.get("user", "")
    user_id = int(user_id) if user_id.isascii() and user_id.isdigit() and len(user_id) <= 18 else None
    try:
        before = parse_cursor(request.GET["before"], by_label) if request.GET.get("before") else None
    except ValueError:
        raise BadRequest("malformed cursor") from None
    entries = audit_entries(model=model, user_id=user_id, before=before, viewer=request.user)
    model_label = model._meta.label_lower if model else ""
    older = ""
    if len(entries) == PAGE_SIZE:
        params = {"model": model_label, "user": user_id or "", "before": cursor(entries[-1])}
        older = "?" + urlencode(params, safe=":|")
    context = {
        **admin.site.each_context(request),
        "title": _("Audit trail"),
        "entries": entries,
        "models": [(label, m._meta.verbose_name_plural) for label, m in by_label.items()],
        "model": model_label,
        "users": [
            (user.pk, history.user_label(user))
            for user in get_user_model().objects.filter(is_staff=True).order_by("username")
        ],
        "user_id": user_id,
        "older_url": older,
    }
    return TemplateResponse(request, "admin/audit/audit.html", context)
