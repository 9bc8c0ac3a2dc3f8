"""The audit trail in one admin page: every staff change to the club's configuration (tiers, rating policies,
overrides, benefits and entitlements, points and credit policies, calendars, managers and assignments, retention
offers, churn targets and risk weights), newest
first, with who, when and each changed field before and after.

The rows are django-simple-history's: the models keep `history = HistoricalRecords()`, the request middleware
names the user, and services that change them in bulk use simple-history's bulk helpers with `default_user`.
Each model's own history page (the admin's "History" button) shows the same rows for one object."""

from dataclasses import dataclass

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

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
)
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

    @property
    def action(self):
        return ACTIONS.get(self.record.history_type, self.record.history_type)

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


def _changes(record) -> list[tuple[str, str, str]]:
    """(field, before, after) of one history row against the row before it of the same object."""
    previous = record.prev_record
    if previous is None:
        return []
    delta = record.diff_against(previous)
    names = {f.name: f.verbose_name for f in record.instance_type._meta.fields}
    return [(str(names.get(c.field, c.field)), _text(c.old), _text(c.new)) for c in delta.changes]


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)[:200]


def audit_entries(*, model: type | None = None, user_id: int | None = None, before=None) -> list[Entry]:
    """One page of history rows of the audited models (or one model), newest first, older than `before`
    (a cursor: the date of the last row of the previous page). Each table gives at most a page, then merge."""
    rows = []
    for m in [model] if model else audited_models():
        qs = m.history.select_related("history_user").order_by("-history_date", "-history_id")
        if user_id:
            qs = qs.filter(history_user_id=user_id)
        if before:
            qs = qs.filter(history_date__lt=before)
        rows += [(r, m) for r in qs[:PAGE_SIZE]]
    rows.sort(key=lambda pair: pair[0].history_date, reverse=True)
    return [Entry(record=r, model=m, changes=_changes(r)) for r, m in rows[:PAGE_SIZE]]


def audit_view(request):
    """Admin page (superusers and staff with the view permission of every audited model)."""
    models = audited_models()
    if not all(request.user.has_perm(f"{m._meta.app_label}.view_{m._meta.model_name}") for m in models):
        raise PermissionDenied
    by_label = {m._meta.label_lower: m for m in models}
    model = by_label.get(request.GET.get("model", ""))
    user_id = request.GET.get("user", "")
    user_id = int(user_id) if user_id.isdigit() else None
    before = parse_datetime(request.GET.get("before", "")) if request.GET.get("before") else None
    entries = audit_entries(model=model, user_id=user_id, before=before)
    context = {
        **admin.site.each_context(request),
        "title": _("Audit trail"),
        "entries": entries,
        "models": [(label, m._meta.verbose_name_plural) for label, m in by_label.items()],
        "model": model._meta.label_lower if model else "",
        "users": get_user_model().objects.filter(is_staff=True).order_by("username").values_list("id", "username"),
        "user_id": user_id,
        "next_before": entries[-1].record.history_date.isoformat() if len(entries) == PAGE_SIZE else "",
    }
    return TemplateResponse(request, "admin/audit/audit.html", context)
