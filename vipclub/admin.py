from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from benefits.admin import BenefitAccountAdmin, BenefitAccountInline, BenefitEntryAdmin, BenefitEntryInline
from benefits.models import BenefitAccount, BenefitEntry
from core.errors import DomainError
from core.masking import mask_msisdn
from core.models import ActionLog
from customers.admin import CustomerAdmin, GroupAdmin, GroupKeyPersonInline, MonthlyBillAdmin, ReadOnlyInline
from customers.models import Customer, KeyPersonRole, MonthlyBill
from customers.models import Group as CorporateGroup
from managers.admin import BranchScopedAdmin, BranchScopedInline
from managers.models import Assignment, ContactLog, Obligation
from points.admin import (
    CreditRatingAdmin,
    PointsAccountAdmin,
    PointsEntryAdmin,
    PointsLotAdmin,
    PointsLotInline,
    customer_points_html,
)
from points.models import CreditRating, PointsAccount, PointsEntry, PointsLot
from tiers import selectors as tier_selectors
from tiers.admin import TierChangeAdmin, TierOverrideAdmin, TransferFloorAdmin, tier_label, tier_names
from tiers.models import Source, TierChange, TierOverride, TransferFloor, Transition

from . import workflows
from .models import InboundEvent


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "masked_msisdn", "occurred_at", "outcome", "status_code", "received_at"]
    list_filter = ["outcome", "type", "status_code"]
    search_fields = ["=event_id", "=msisdn"]
    readonly_fields = [f.name for f in InboundEvent._meta.fields]

    @admin.display(description="msisdn")
    def masked_msisdn(self, obj):
        return mask_msisdn(obj.msisdn)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --------------------------------------------------------------------------------------------------
# The customer page with the club's view: current tier, tier history, "Why this tier".
# (vipclub may import every app; customers' own admin cannot know about tiers.)


class TierFilter(admin.SimpleListFilter):
    title = _("tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        names = tier_names()
        return [*((code, names.get(code, code)) for code in tier_selectors.tier_codes()), ("none", _("Not a member"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value and (value == "none" or value in tier_selectors.tier_codes()):
            return tier_selectors.filter_by_tier(queryset, value)
        return queryset


class TierHistoryInline(ReadOnlyInline):
    model = TierChange
    fk_name = "customer"
    verbose_name = _("tier change")
    verbose_name_plural = _("tier history (newest first)")
    fields = ["effective_on", "from_tier", "to_tier", "transition", "reason", "score", "valid_until", "run"]
    readonly_fields = fields
    ordering = ["-id"]
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_tier", "to_tier", "run__policy").order_by("-id")


def _source_label(source: str) -> str:
    return Source(source).label if source in Source.values else source


admin.site.unregister(Customer)


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    can_delete = False
    fields = ["manager", "started_on", "ended_on", "reason", "end_reason"]
    readonly_fields = fields
    verbose_name_plural = _("account managers (assignments)")

    def has_add_permission(self, request, obj=None):
        return False


class ContactLogInline(admin.TabularInline):
    model = ContactLog
    extra = 0
    can_delete = False
    fields = ["occurred_at", "manager", "channel", "outcome", "note", "source"]
    readonly_fields = fields
    verbose_name_plural = _("contact trail")
    ordering = ["-occurred_at"]

    def has_add_permission(self, request, obj=None):
        return False


class ObligationInline(admin.TabularInline):
    model = Obligation
    extra = 0
    can_delete = False
    fields = ["kind", "period", "due_on", "status", "done_at", "manager"]
    readonly_fields = fields
    ordering = ["-due_on"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class ClubCustomerAdmin(BranchScopedAdmin, CustomerAdmin):
    list_display = [*CustomerAdmin.list_display[:2], "tier_col", *CustomerAdmin.list_display[2:]]
    list_filter = [TierFilter, *CustomerAdmin.list_filter]
    inlines = [
        AssignmentInline, *CustomerAdmin.inlines, TierHistoryInline, BenefitAccountInline, BenefitEntryInline,
        PointsLotInline, ObligationInline, ContactLogInline,
    ]  # fmt: skip
    readonly_fields = [*CustomerAdmin.readonly_fields, "current_tier", "why_this_tier", "points_panel"]
    customer_field = ""  # a supervisor sees her branches' customers (BranchScopedAdmin)

    def get_queryset(self, request):
        # One join brings every row's current tier: no query per row in the list. (The change list skips
        # list_select_related once the queryset has a select_related, so the region is joined here too.)
        qs = super().get_queryset(request)
        return tier_selectors.annotate_tier(qs).select_related(*self.list_select_related)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            (_("Tier"), {"fields": ["current_tier"]}),
            (_("Why this tier"), {"fields": ["why_this_tier"], "classes": ["wide"]}),
            (_("Points"), {"fields": ["points_panel"]}),
        ]

    @admin.display(description=_("tier"))
    def tier_col(self, obj):
        try:
            state = obj.tier_state  # loaded by annotate_tier (select_related)
        except ObjectDoesNotExist:
            return "—"
        if state.tier is None:
            return "—"
        return tier_label(state.tier.name_zh, state.tier.name_en)

    @admin.display(description=_("current tier"))
    def current_tier(self, obj):
        state = tier_selectors.tier_state(obj)
        if state:
            state = {
                **state,
                "name": tier_label(state["name_zh"], state["name_en"]),
                "source": _source_label(state["source"]),
            }
        return render_to_string("admin/tiers/_customer_tier.html", {"state": state})

    def apply_transition(self, *, customer, action, kind, actor):
        return workflows.customer_lifecycle(customer=customer, action=action, kind=kind, actor=actor, source="admin")

    @admin.display(description=_("points"))
    def points_panel(self, obj):
        return customer_points_html(obj)

    @admin.display(description=_("Why this tier"))
    def why_this_tier(self, obj):
        run = tier_selectors.latest_applied_run()
        if run is None:
            return render_to_string("admin/tiers/_why_this_tier.html", {"explain": None})
        try:
            explain = tier_selectors.tier_explain(obj, run)
        except DomainError as exc:
            return exc.message
        names = tier_names()

        def tier(code):
            return names.get(code, code) if code else _("none")

        def state(data):
            return {
                "tier": tier(data["tier"]),
                "source": _source_label(data["source"]) if data["source"] else "",
                "valid_until": data["valid_until"],
            }

        roles = [
            f"{KeyPersonRole(r['role']).label if r['role'] in KeyPersonRole.values else r['role']}"
            + (f" ({r['group_class']})" if r["group_class"] else "")
            for r in explain["floors"]["key_person"]["roles"]
        ]
        transition = explain["transition"]
        context = {
            "explain": explain,
            "run_url": reverse("admin:tiers_ratingrun_change", args=[run.pk]),
            "bill_months": sorted(explain["score"]["bill_months"].items()),
            "score_tier": tier(explain["score"]["tier"]),
            "plan_tier": tier(explain["floors"]["plan"]["tier"]),
            "key_person_tier": tier(explain["floors"]["key_person"]["tier"]),
            "transfer_tier": tier(explain["floors"]["transfer"]["tier"]),
            "override_tier": tier(explain["override"]["tier"]),
            "roles": roles,
            "states": [
                (_("before the run"), state(explain["before"])),
                (_("candidate"), state(explain["candidate"])),
                (_("after the run"), state(explain["after"])),
            ],
            "transition": Transition(transition).label if transition in Transition.values else transition,
            "reason": _source_label(explain["reason"]) if explain["reason"] else "—",
        }
        return render_to_string("admin/tiers/_why_this_tier.html", context)


# --------------------------------------------------------------------------------------------------
# The other apps' lists of customer rows, limited to a supervisor's branches. The scope needs the managers app
# (assignments, branches), above customers, tiers, benefits and points: their admins are registered here, with it.


class ClubKeyPersonInline(BranchScopedInline, GroupKeyPersonInline):
    pass


@admin.register(CorporateGroup)
class ClubGroupAdmin(GroupAdmin):
    inlines = [ClubKeyPersonInline]  # a group's key persons of her branches only


@admin.register(MonthlyBill)
class ClubMonthlyBillAdmin(BranchScopedAdmin, MonthlyBillAdmin):
    pass


@admin.register(TierOverride)
class ClubTierOverrideAdmin(BranchScopedAdmin, TierOverrideAdmin):
    pass


@admin.register(TierChange)
class ClubTierChangeAdmin(BranchScopedAdmin, TierChangeAdmin):
    pass


@admin.register(TransferFloor)
class ClubTransferFloorAdmin(BranchScopedAdmin, TransferFloorAdmin):
    pass


@admin.register(BenefitAccount)
class ClubBenefitAccountAdmin(BranchScopedAdmin, BenefitAccountAdmin):
    pass


@admin.register(BenefitEntry)
class ClubBenefitEntryAdmin(BranchScopedAdmin, BenefitEntryAdmin):
    pass


@admin.register(PointsAccount)
class ClubPointsAccountAdmin(BranchScopedAdmin, PointsAccountAdmin):
    pass


@admin.register(PointsLot)
class ClubPointsLotAdmin(BranchScopedAdmin, PointsLotAdmin):
    pass


@admin.register(PointsEntry)
class ClubPointsEntryAdmin(BranchScopedAdmin, PointsEntryAdmin):
    pass


@admin.register(CreditRating)
class ClubCreditRatingAdmin(BranchScopedAdmin, CreditRatingAdmin):
    pass


@admin.register(ActionLog)
class ActionLogAdmin(admin.ModelAdmin):
    """Who closed a billing month, moved a card, froze points…: read-only, newest first."""

    list_display = ["at", "actor", "action", "app_label", "model", "object_id"]
    list_filter = ["action", "app_label"]
    search_fields = ["=object_id", "actor"]
    readonly_fields = [f.name for f in ActionLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
