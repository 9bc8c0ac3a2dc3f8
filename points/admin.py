"""Admin of the points app: accounts, lots and the ledger read-only (the ledger is append-only); reward rules,
the points and credit policies editable (with history); credit ratings and jobs to look at.

For the customer page (vipclub/admin.py composes it): `PointsLotInline` and `customer_points_html(customer)`."""

import json

from django import forms
from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator
from core.errors import DomainError
from core.masking import mask_msisdn
from customers.admin import ReadOnlyInline
from tiers.admin import GuardedHistoryAdmin

from . import rules, selectors, services
from .models import (
    CreditPolicy,
    PointsJob,
    PointsLot,
    PointsPolicy,
    RewardRule,
)


def customer_points_html(customer) -> str:
    """The points panel of a customer (balance, freeze, lots, expiring, consumption, credit stars, ledger)."""
    return render_to_string(
        "points/_customer_points.html",
        {"points": selectors.customer_points_panel(customer, on=timezone.localdate()), "bare": True},
    )


class PointsLotInline(ReadOnlyInline):
    """The customer's lots, oldest expiry first (add to the customer page's inlines)."""

    model = PointsLot
    fk_name = "customer"
    fields = ["year", "kind", "original", "remaining", "expires_on", "created_at"]
    readonly_fields = fields
    ordering = ["expires_on", "id"]
    max_num = 0
    verbose_name_plural = _("points lots")


class ReadOnlyAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CustomerColumns:
    @admin.display(description=_("msisdn"), ordering="customer__msisdn")
    def msisdn_col(self, obj):
        return mask_msisdn(obj.customer.msisdn)

    @admin.display(description=_("name"), ordering="customer__name")
    def name_col(self, obj):
        return obj.customer.name


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class PointsAccountAdmin(CustomerColumns, ReadOnlyAdmin):
    list_display = ["msisdn_col", "name_col", "balance", "frozen", "frozen_reason", "total_consumption", "updated_at"]
    list_filter = ["frozen", "frozen_reason"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn"]
    fields = ["customer", "balance", "frozen", "frozen_reason", "frozen_at", "total_consumption", "panel"]
    readonly_fields = fields
    raw_id_fields = ["customer"]

    @admin.display(description=_("points"))
    def panel(self, obj):
        return customer_points_html(obj.customer)


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class PointsLotAdmin(CustomerColumns, ReadOnlyAdmin):
    list_display = ["msisdn_col", "name_col", "year", "kind", "original", "remaining", "expires_on"]
    list_filter = ["kind", "year", "expires_on"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn"]


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class PointsEntryAdmin(CustomerColumns, ReadOnlyAdmin):
    """The ledger: append-only, nobody edits or deletes an entry."""

    list_display = [
        "id", "occurred_on", "msisdn_col", "name_col", "kind", "amount", "year", "bill_month", "reference",
        "balance_after", "actor",
    ]  # fmt: skip
    list_filter = ["kind", "occurred_on"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn", "=idempotency_key", "reference"]
    date_hierarchy = None


@admin.register(RewardRule)
class RewardRuleAdmin(GuardedHistoryAdmin):
    list_display = ["name", "code", "kind", "brand", "min_years", "percent", "active"]
    list_filter = ["kind", "active"]
    list_editable = ["active"]


class SingletonAdmin(GuardedHistoryAdmin):
    """One row, seeded by a migration: edited, never added (no query here: the sidebar asks on every page)."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsPolicy)
class PointsPolicyAdmin(SingletonAdmin):
    list_display = ["__str__", "expiry_years"]


class CreditPolicyForm(forms.ModelForm):
    class Meta:
        model = CreditPolicy
        fields = [
            "code", "brand_points", "tenure_points", "average_bands", "over_top_band_points", "bills_counted",
            "suspension_penalty", "suspension_months", "star_thresholds",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        fields = ["brand_points", "tenure_points", "average_bands", "over_top_band_points", "bills_counted",
                  "suspension_penalty", "suspension_months", "star_thresholds"]  # fmt: skip
        if all(f in data for f in fields):
            try:
                rules.CreditTable.from_data(**{f: data[f] for f in fields})
            except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                raise forms.ValidationError(
                    _("The table does not have the expected shape: %(error)s") % {"error": exc}
                ) from exc
        return data


@admin.register(CreditPolicy)
class CreditPolicyAdmin(SingletonAdmin):
    form = CreditPolicyForm
    list_display = ["__str__", "bills_counted", "suspension_penalty", "suspension_months", "updated_at"]


@admin.action(description=_("Recompute the credit stars of the selected customers now"))
def recompute_credit(modeladmin, request, queryset):
    done = 0
    for rating in queryset.select_related("customer")[:500]:
        try:
            services.credit_rating_refresh(customer=rating.customer, on=timezone.localdate())
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, exc.message, messages.WARNING)
    modeladmin.message_user(request, _("%(n)d credit ratings recomputed.") % {"n": done}, messages.SUCCESS)


# Registered by vipclub/admin.py, limited to a supervisor's branches (managers.admin.BranchScopedAdmin).
class CreditRatingAdmin(CustomerColumns, ReadOnlyAdmin):
    list_display = ["msisdn_col", "name_col", "stars", "score", "as_of", "computed_at"]
    list_filter = ["stars", "as_of"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn"]
    actions = [recompute_credit]

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("points.change_creditrating"):
            actions.pop("recompute_credit", None)
        return actions


@admin.register(PointsJob)
class PointsJobAdmin(ReadOnlyAdmin):
    list_display = ["kind", "business_date", "status", "chunks_done", "last_id", "counts_col", "started_at",
                    "finished_at", "actor"]  # fmt: skip
    list_filter = ["kind", "status"]

    @admin.display(description=_("counts"))
    def counts_col(self, obj):
        return json.dumps(obj.counts, ensure_ascii=False)
