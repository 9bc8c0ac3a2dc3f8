"""Admin of the points app: accounts, lots and the ledger read-only (the ledger is append-only); reward rules,
the points and credit policies editable (with history); credit ratings and jobs to look at. A supervisor sees her
branches' rows only (core.admin.BranchScopedAdmin). The customer page's part is points/customer_page.py."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import BranchScopedAdmin, EstimatedCountPaginator, GuardedHistoryAdmin, ReadOnlyAdmin, customer_column
from core.errors import DomainError

from . import rules, services
from .customer_page import customer_points_html
from .models import (
    CreditPolicy,
    CreditRating,
    PointsAccount,
    PointsAdjustment,
    PointsEntry,
    PointsJob,
    PointsLot,
    PointsPolicy,
    RewardRule,
)


class LedgerAdmin(ReadOnlyAdmin):
    """Written by the services only; million-row tables."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


class CustomerColumns:
    msisdn_col = customer_column(description=_("msisdn"), ordering="customer__msisdn", name=False)

    @admin.display(description=_("name"), ordering="customer__name")
    def name_col(self, obj):
        return obj.customer.name


@admin.register(PointsAccount)
class PointsAccountAdmin(BranchScopedAdmin, CustomerColumns, LedgerAdmin):
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


@admin.register(PointsLot)
class PointsLotAdmin(BranchScopedAdmin, CustomerColumns, LedgerAdmin):
    list_display = ["msisdn_col", "name_col", "year", "kind", "original", "remaining", "expires_on"]
    list_filter = ["kind", "year", "expires_on"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn"]


@admin.register(PointsEntry)
class PointsEntryAdmin(BranchScopedAdmin, CustomerColumns, LedgerAdmin):
    """The ledger: append-only, nobody edits or deletes an entry."""

    list_display = [
        "id",
        "occurred_on",
        "msisdn_col",
        "name_col",
        "kind",
        "amount",
        "year",
        "bill_month",
        "reference",
        "balance_after",
        "actor",
    ]
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
    list_display = ["__str__", "expiry_years", "adjust_approval_above"]


@admin.register(PointsAdjustment)
class PointsAdjustmentAdmin(BranchScopedAdmin, CustomerColumns, ReadOnlyAdmin):
    """Staff corrections of points: applied at once up to the policy's threshold, above it decided in the approvals
    inbox (a second staff user). Made from the member page; read-only here."""

    list_display = [
        "id",
        "msisdn_col",
        "name_col",
        "points",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]
    list_filter = ["status"]
    list_select_related = ["customer", "requested_by", "decided_by"]
    search_fields = ["=customer__msisdn"]


class CreditPolicyForm(forms.ModelForm):
    class Meta:
        model = CreditPolicy
        fields = [
            "code",
            "brand_points",
            "tenure_points",
            "average_bands",
            "over_top_band_points",
            "bills_counted",
            "suspension_penalty",
            "suspension_months",
            "star_thresholds",
            "reactivation_hours",
        ]

    def clean(self):
        data = super().clean()
        fields = [
            "brand_points",
            "tenure_points",
            "average_bands",
            "over_top_band_points",
            "bills_counted",
            "suspension_penalty",
            "suspension_months",
            "star_thresholds",
            "reactivation_hours",
        ]
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


@admin.register(CreditRating)
class CreditRatingAdmin(BranchScopedAdmin, CustomerColumns, LedgerAdmin):
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
class PointsJobAdmin(LedgerAdmin):
    list_display = [
        "kind",
        "business_date",
        "status",
        "chunks_done",
        "last_id",
        "counts_col",
        "started_at",
        "finished_at",
        "actor",
    ]
    list_filter = ["kind", "status"]

    @admin.display(description=_("counts"))
    def counts_col(self, obj):
        return json.dumps(obj.counts, ensure_ascii=False)
