"""The admin kit every app's `admin.py` builds on (each app registers its own admins with it, once):

- `ReadOnlyAdmin`, `ReadOnlyInline`: rows written by the services only (ledgers, history, runs);
- `customer_column()`, `MaskedCustomerMixin`: the row's customer as a list column, msisdn masked (core.masking);
- `GuardedHistoryAdmin`: simple-history whose "revert" needs the change permission;
- `BranchScopedAdmin`, `BranchScopedInline`: a supervisor's lists, pages and pickers hold her branches' rows only.
  The scope is the request's `row_scope` (set by managers.middleware.RowScopeMiddleware): core knows no app;
- `EstimatedCountPaginator` for million-row tables;
- `act_on_each`: a list action's loop over the selected rows (a service call each, a warning per refusal), and
  `move_action`: a list action moving the selected rows of a state machine to one state;
- `report_year`: the year a yearly report page shows."""

import dataclasses
import datetime as dt
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from . import bounds, history
from .errors import DomainError
from .masking import mask_msisdn
from .models import ActionLog, IdempotencyRecord, JobHeartbeat


class EstimatedCountPaginator(Paginator):
    """Admin paginator for million-row tables: on PostgreSQL an unfiltered count uses the planner's
    estimate (instant) instead of COUNT(*) (a full scan)."""

    @cached_property
    def count(self):
        qs = self.object_list
        if connection.vendor == "postgresql" and not getattr(qs.query, "where", None):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return row[0]
        return super().count


# --------------------------------------------------------------------------------------------------
# Read-only rows, masked customers, guarded history


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services only: nobody adds, edits or deletes one here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def customer_column(*, description=None, ordering: str | None = None, name: bool = True):
    """A list column with the row's customer: "name 138****0000", or the masked msisdn alone (`name=False`);
    headed "customer" unless `description` says otherwise."""

    def column(self, obj):
        masked = mask_msisdn(obj.customer.msisdn)
        return f"{obj.customer.name} {masked}" if name else masked

    return admin.display(description=description or _("customer"), ordering=ordering)(column)


class MaskedCustomerMixin:
    customer_col = customer_column()


class ReadableHistoryContext(HistoricalRecordContextHelper):
    """A change on a "History" page as people read it (core.history): values through the field's choices, names of
    related objects and users, local times to the minute."""

    def prepare_delta_change_value(self, change, value):
        field = history.field_of(self.model, change.field)
        if field is None or field.many_to_many:
            return super().prepare_delta_change_value(change, value)
        return history.value_text(field, value)

    def format_delta_change(self, change):
        formatted = super().format_delta_change(change)
        return dataclasses.replace(formatted, field=history.field_label(self.model, change.field))


class ReadableHistoryMixin:
    """simple-history's "History" page, readable: see ReadableHistoryContext and admin/core/object_history_list."""

    object_history_list_template = "admin/core/object_history_list.html"

    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableHistoryContext(self.model, historical_record)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        for record in historical_records:
            record.who = history.user_label(record.history_user) if record.history_user_id else ""
            reason = record.history_change_reason or ""
            record.reason = history.change_reason(reason)


class ReadableHistoryAdmin(ReadableHistoryMixin, SimpleHistoryAdmin):
    pass


class GuardedHistoryAdmin(ReadableHistoryAdmin):
    """simple-history saves a POST to its "revert" form for anyone who may *view* the history; here a
    revert needs the change permission, like any other edit."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


# --------------------------------------------------------------------------------------------------
# List actions

ACTION_ROWS_MAX = 200  # rows one list action moves (the rest of a larger selection waits for the next)


def act_on_each(
    model_admin: admin.ModelAdmin,
    request,
    queryset,
    act: Callable[[object], object],
    *,
    refused: Callable[[DomainError], str],
    done: Callable[[int], str],
) -> int:
    """A list action that calls a service on each selected row (the first ACTION_ROWS_MAX), each in its own
    transaction: a row the service refuses gets a warning `#id: refused(exc)` and the others go on; then one success
    message `done(n)` when any moved. Returns how many moved."""
    moved = 0
    for obj in queryset[:ACTION_ROWS_MAX]:
        try:
            act(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"#{obj.pk}: {refused(exc)}", messages.WARNING)
        else:
            moved += 1
    if moved:
        model_admin.message_user(request, done(moved), messages.SUCCESS)
    return moved


def mover(
    transition: Callable[..., object], keyword: str, *, states: type, done, refused: Callable[[DomainError], str]
):
    """A ModelAdmin's `_move(request, queryset, to)` for `move_action`: `transition(<keyword>=row, to=to, at=now,
    actor=user)` (the app's state-machine service) on each selected row through `act_on_each`; `done` is the success
    text, formatted with `n` and the target state's label `state` (a label of `states`, a TextChoices class)."""

    def _move(model_admin, request, queryset, to: str) -> int:
        return act_on_each(
            model_admin,
            request,
            queryset,
            lambda row: transition(**{keyword: row}, to=to, at=timezone.now(), actor=request.user),
            refused=refused,
            done=lambda n: done % {"n": n, "state": states(to).label},
        )

    return _move


def move_action(to: str, description):
    """A list action (for those who may change the rows) moving the selected rows to the state `to` through the
    admin's `_move(request, queryset, to)`, which calls its service on each (`act_on_each`)."""

    def move(model_admin, request, queryset):
        model_admin._move(request, queryset, to)

    move.__name__ = f"move_to_{to}"
    return admin.action(description=description, permissions=["change"])(move)


# --------------------------------------------------------------------------------------------------
# Report pages


def report_year(request, today: dt.date) -> int:
    """The year a yearly report page shows: its `year` parameter (2000 to 2099), else (none, or not such a year)
    this year."""
    try:
        return bounds.parse_integer(request.GET.get("year") or today.year, min_value=2000, max_value=2099)
    except bounds.BoundsError:
        return today.year


# --------------------------------------------------------------------------------------------------
# A supervisor's branches


class _NoRows:
    """The scope of a request no middleware scoped (a bare RequestFactory request): no rows, no choices."""

    everyone = False

    def rows(self, qs, *, customer="customer", region=None):
        return qs.none()

    def choices(self, model):
        return model._default_manager.none()


def row_scope(request):
    """The rows the request's user may address: `request.row_scope` (managers.middleware.RowScopeMiddleware) with
    `everyone`, `rows(qs, customer=path, region=path)` and `choices(model)` (a picker's queryset, or None)."""
    return getattr(request, "row_scope", None) or _NoRows()


class BranchScopedAdmin:
    """The admin's one row scope (issue 13), for every list of customer-related rows: a supervisor's changelists,
    change, history and delete pages, actions and customer or manager pickers hold her branches' rows only; club
    admins see every row; a staff login without a role none (managers.selectors.scope_rows, the API's lookup).

    `customer_field` is the path from a row to its customer ("" for customers, None for rows without one);
    `region_field` scopes rows by a region of their own instead (a churn record's branch, a manager's region)."""

    customer_field: str | None = "customer"
    region_field: str | None = None

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def scope_queryset(self, request, qs):
        return row_scope(request).rows(qs, customer=self.customer_field, region=self.region_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = row_scope(request).choices(db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _in_scope(self, request, object_id) -> bool:
        try:
            return self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, TypeError, ValidationError):
            return False

    def check_in_scope(self, request, object_id) -> None:
        """A 404 for a row outside her branches (or deleted) for anybody who does not see every row."""
        if not row_scope(request).everyone and not self._in_scope(request, object_id):
            raise Http404

    # simple-history's pages fall back to the last historical record of a row get_queryset does not hold.
    def history_view(self, request, object_id, extra_context=None):
        self.check_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.check_in_scope(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class BranchScopedInline:
    """BranchScopedAdmin's row scope for an inline (e.g. a corporate group's key persons of several branches)."""

    customer_field: str | None = "customer"

    def get_queryset(self, request):
        return row_scope(request).rows(super().get_queryset(request), customer=self.customer_field)


# --------------------------------------------------------------------------------------------------
# core's own rows


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    readonly_fields = ["name", "last_run_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "client", "method", "path", "status_code", "created_at"]
    list_filter = ["status_code", "method"]
    search_fields = ["=key"]
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ActionLog)
class ActionLogAdmin(ReadOnlyAdmin):
    """Who closed a billing month, moved a card, froze points…: the services' action log, newest first."""

    list_display = ["at_col", "actor", "action_col", "target_col"]
    list_filter = ["action", "app_label"]
    search_fields = ["=object_id", "actor"]
    fields = ["at_col", "actor", "action_col", "target_col", "details"]
    readonly_fields = fields

    @admin.display(description=_("at"), ordering="at")
    def at_col(self, obj):
        return history.local_time(obj.at)

    @admin.display(description=_("action"), ordering="action")
    def action_col(self, obj):
        return history.action_label(obj.action)

    @admin.display(description=_("on"))
    def target_col(self, obj):
        return history.target_label(obj.app_label, obj.model, obj.object_id)
