from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator
from core.errors import DomainError
from core.forms import BoundedDateFormField, MonthFormField
from core.masking import mask_id_number, mask_msisdn

from . import services
from .models import BillingMonth, Customer, KeyPerson, MonthlyBill, PlanPeriod, Region, StatusChange


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
    fields = ["occurred_at", "from_status", "to_status", "kind", "source"]
    readonly_fields = fields


class PlanPeriodInline(ReadOnlyInline):
    model = PlanPeriod
    fields = ["plan_code", "started_on"]
    readonly_fields = fields


class KeyPersonInline(admin.TabularInline):
    model = KeyPerson
    extra = 0
    fields = ["group", "role", "set_at"]
    autocomplete_fields = ["group"]


def month_formfield(db_field, *, ended: bool = False) -> MonthFormField:
    """A month column (its first day) edited as YYYY-MM within the bounds (core.bounds)."""
    return MonthFormField(
        ended=ended, label=db_field.verbose_name.capitalize(), help_text=_("YYYY-MM"), required=not db_field.blank
    )


def _transition_action(action: str, kind: str, label):
    def run(modeladmin, request, queryset):
        done, refused = 0, []
        for customer in queryset[:500]:
            try:
                modeladmin.apply_transition(customer=customer, action=action, kind=kind, actor=request.user)
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


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
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
    actions = [
        _transition_action("suspend", "requested", _("Suspend (requested by customer)")),
        _transition_action("reactivate", "", _("Reactivate")),
        _transition_action("request_closure", "", _("Register a closure request")),
        _transition_action("cancel_closure", "", _("Cancel the closure request")),
        _transition_action("close", "voluntary", _("Close (voluntary)")),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("birthday", "join_date"):  # facts of the past: not after today (core.bounds)
            kwargs.update(form_class=BoundedDateFormField, past=True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def apply_transition(self, *, customer, action, kind, actor):
        """The lifecycle move of the admin actions; the project's admin adds what follows it in other apps."""
        return services.customer_transition(customer=customer, action=action, kind=kind, actor=actor)

    @admin.display(description=_("msisdn"), ordering="msisdn")
    def masked_msisdn_col(self, obj):
        return mask_msisdn(obj.msisdn)

    @admin.display(description=_("ID number"))
    def masked_id_col(self, obj):
        return mask_id_number(obj.id_number)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province"]
    list_filter = ["province"]
    search_fields = ["code", "name", "province"]


class GroupKeyPersonInline(admin.TabularInline):
    model = KeyPerson
    extra = 0
    fields = ["customer", "role", "set_at"]
    raw_id_fields = ["customer"]


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class GroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "group_class"]
    list_filter = ["group_class"]
    search_fields = ["code", "name"]
    inlines = [GroupKeyPersonInline]


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class MonthlyBillAdmin(admin.ModelAdmin):
    list_display = ["customer_masked", "month", "amount", "paid", "updated_at"]
    list_filter = ["paid", "month"]
    search_fields = ["=customer__msisdn"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "month":  # YYYY-MM of a month that has ended, as the bills API takes it
            return month_formfield(db_field, ended=True)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("customer"))
    def customer_masked(self, obj):
        return f"{obj.customer.name} {mask_msisdn(obj.customer.msisdn)}"


@admin.register(BillingMonth)
class BillingMonthAdmin(admin.ModelAdmin):
    list_display = ["__str__", "closed_at"]
    actions = ["close_months"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "month":
            return month_formfield(db_field)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.action(description=_("Close the selected billing months"))
    def close_months(self, request, queryset):
        for billing_month in queryset:
            try:
                services.billing_month_close(month=billing_month.month, at=timezone.now(), actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)
