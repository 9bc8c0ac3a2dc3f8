"""The admin of the customers app: regions, corporate groups with their key persons, bills and billing months.
A supervisor sees her branches' groups' key persons and bills only (core.admin.BranchScopedAdmin). The customer page
itself is registered once by vipclub/admin.py (it composes every app's rows: customers.customer_page)."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import BranchScopedAdmin, BranchScopedInline, EstimatedCountPaginator, customer_column
from core.errors import DomainError
from core.forms import MonthFormField

from . import services
from .models import BillingMonth, Group, KeyPerson, MonthlyBill, Region


def month_formfield(db_field, *, ended: bool = False) -> MonthFormField:
    """A month column (its first day) edited as YYYY-MM within the bounds (core.bounds)."""
    return MonthFormField(
        ended=ended, label=db_field.verbose_name.capitalize(), help_text=_("YYYY-MM"), required=not db_field.blank
    )


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province"]
    list_filter = ["province"]
    search_fields = ["code", "name", "province"]


class GroupKeyPersonInline(BranchScopedInline, admin.TabularInline):  # her branches' key persons only
    model = KeyPerson
    extra = 0
    fields = ["customer", "role", "set_at"]
    raw_id_fields = ["customer"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "group_class"]
    list_filter = ["group_class"]
    search_fields = ["code", "name"]
    inlines = [GroupKeyPersonInline]


@admin.register(MonthlyBill)
class MonthlyBillAdmin(BranchScopedAdmin, admin.ModelAdmin):
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

    customer_masked = customer_column()


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
