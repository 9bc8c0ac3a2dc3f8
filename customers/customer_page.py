"""The customer's admin page as the customers app knows it: her fields and masked columns, her key-person roles,
plan periods, status changes and bills, and the lifecycle actions. vipclub/admin.py registers the page once,
composing these with the other apps' parts (customer_page.py of tiers, benefits, points, managers) and the lifecycle
move the actions run. Classes and functions only: nothing is registered here."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator, ReadOnlyInline
from core.errors import DomainError
from core.forms import BoundedDateFormField
from core.masking import mask_id_number, mask_msisdn

from .models import KeyPerson, MonthlyBill, PlanPeriod, StatusChange


class BillInline(ReadOnlyInline):
    model = MonthlyBill
    fields = ["month", "amount", "paid", "updated_at"]
    readonly_fields = fields
    ordering = ["-month"]
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-month")


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    verbose_name_plural = _("status changes")  # the model names no plural: Django would append an English "s"
    fields = ["occurred_at", "from_status", "to_status", "kind", "source"]
    readonly_fields = fields


class PlanPeriodInline(ReadOnlyInline):
    model = PlanPeriod
    verbose_name_plural = _("plan periods")
    fields = ["plan_code", "started_on"]
    readonly_fields = fields


class KeyPersonInline(admin.TabularInline):
    model = KeyPerson
    extra = 0
    fields = ["group", "role", "set_at"]
    autocomplete_fields = ["group"]


def transition_action(move: Callable, action: str, kind: str, label):
    """An admin action running `move(customer=, action=, kind=, actor=)` (the lifecycle) on up to 500 customers."""

    def run(modeladmin, request, queryset):
        done, refused = 0, []
        for customer in queryset[:500]:
            try:
                move(customer=customer, action=action, kind=kind, actor=request.user)
                done += 1
            except DomainError as exc:
                refused.append(f"{customer.masked_msisdn}: {exc.message}")
        if done:
            modeladmin.message_user(request, _("%(n)d customers updated.") % {"n": done}, messages.SUCCESS)
        for line in refused[:20]:
            modeladmin.message_user(request, line, messages.WARNING)

    run.short_description = label
    run.__name__ = f"{action}_{kind or 'x'}"
    return run


def transition_actions(move: Callable) -> list:
    """The lifecycle actions of the customer list, each running `move`."""
    return [
        transition_action(move, "suspend", "requested", _("Suspend (requested by customer)")),
        transition_action(move, "reactivate", "", _("Reactivate")),
        transition_action(move, "request_closure", "", _("Register a closure request")),
        transition_action(move, "cancel_closure", "", _("Cancel the closure request")),
        transition_action(move, "close", "voluntary", _("Close (voluntary)")),
    ]


class CustomerPage(admin.ModelAdmin):
    """The customers app's part of the customer admin: columns, filters, search, fields, its own inlines."""

    list_display = [
        "masked_msisdn_col",
        "name",
        "masked_id_col",
        "brand",
        "product_type",
        "plan_code",
        "region",
        "status",
        "join_date",
    ]
    list_filter = ["status", "brand", "product_type", "region__province", "region"]
    search_fields = ["=msisdn", "^name"]
    search_help_text = _("Exact msisdn, or the start of a name.")
    list_select_related = ["region"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    readonly_fields = [
        "status",
        "suspension_kind",
        "closure_kind",
        "status_changed_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["msisdn", "name", "id_number", "birthday", "landline"]}),
        (
            _("Subscription"),
            {"fields": ["join_date", "brand", "product_type", "plan_code", "plan_started_on", "region"]},
        ),
        (
            _("Status"),
            {
                "fields": [
                    "status",
                    "suspension_kind",
                    "closure_kind",
                    "status_changed_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [KeyPersonInline, PlanPeriodInline, StatusChangeInline, BillInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("birthday", "join_date"):  # facts of the past: not after today (core.bounds)
            kwargs.update(form_class=BoundedDateFormField, past=True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("msisdn"), ordering="msisdn")
    def masked_msisdn_col(self, obj):
        return mask_msisdn(obj.msisdn)

    @admin.display(description=_("ID number"))
    def masked_id_col(self, obj):
        return mask_id_number(obj.id_number)
