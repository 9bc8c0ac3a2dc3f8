"""The project's admin: the inbound events, and the customer page, registered here once because it composes every
app's rows (customers' fields and actions, tiers, benefits, points, the account managers) and the lifecycle move
its actions run. Every other admin is registered by its own app (core.admin's kit)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from benefits.customer_page import BenefitAccountInline, BenefitEntryInline
from core.admin import BranchScopedAdmin
from core.masking import mask_msisdn
from core.models import scope_codename
from customers import customer_page
from customers import selectors as customer_selectors
from customers.models import Customer
from managers.customer_page import AssignmentInline, ContactLogInline, ObligationInline
from points import services as points_services
from points.customer_page import PointsLotInline, customer_points_html
from retention import services as retention_services
from tiers import customer_page as tier_page
from tiers import selectors as tier_selectors

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


def customer_move(*, customer, action, kind, actor):
    """The lifecycle move of the customer list's actions (what follows it in other apps included)."""
    return retention_services.customer_lifecycle(
        customer=customer, action=action, kind=kind, at=timezone.now(), actor=actor, source="admin"
    )


@admin.register(Customer)
class CustomerAdmin(BranchScopedAdmin, customer_page.CustomerPage):
    """The customer page with the club's view: her current tier, tier history and "Why this tier", benefits,
    points, account managers, obligations and contacts. A supervisor sees her branches' customers."""

    list_display = [
        *customer_page.CustomerPage.list_display[:2],
        "tier_col",
        *customer_page.CustomerPage.list_display[2:],
    ]
    list_filter = [tier_page.TierFilter, *customer_page.CustomerPage.list_filter, "holiday_opt_out"]
    inlines = [
        AssignmentInline,
        *customer_page.CustomerPage.inlines,
        tier_page.TierHistoryInline,
        BenefitAccountInline,
        BenefitEntryInline,
        PointsLotInline,
        ObligationInline,
        ContactLogInline,
    ]
    readonly_fields = [
        *customer_page.CustomerPage.readonly_fields,
        "member_page",
        "current_tier",
        "why_this_tier",
        "points_panel",
        "holiday_opt_out",
    ]
    actions = [*customer_page.transition_actions(customer_move), "holiday_opt_out_action", "holiday_opt_in_action"]
    search_help_text = _(
        "Full msisdn, its last 4 or more digits, the masked form 138****5678, the start of a name, "
        "or an ID number (staff who see personal data)."
    )
    customer_field = ""  # the rows are the customers themselves (BranchScopedAdmin)

    def get_queryset(self, request):
        # One join brings every row's current tier: no query per row in the list. (The change list skips
        # list_select_related once the queryset has a select_related, so the region is joined here too.)
        qs = super().get_queryset(request)
        return tier_selectors.annotate_tier(qs).select_related(*self.list_select_related)

    def get_search_results(self, request, queryset, search_term):
        """customers.selectors.customer_search_q: msisdn, its tail or masked form, a name's start, an ID number."""
        user = request.user
        pii = user.is_superuser or user.has_perm(f"core.{scope_codename('pii')}")
        q = customer_selectors.customer_search_q(search_term, pii=pii)
        if q is None:
            if not pii:
                self.message_user(
                    request, _("Searching by ID number needs the permission to see personal data."), messages.WARNING
                )
            return queryset.none(), False
        return queryset.filter(q), False

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            (_("Tier"), {"fields": ["member_page", "current_tier"]}),
            (_("Why this tier"), {"fields": ["why_this_tier"], "classes": ["wide"]}),
            (_("Points"), {"fields": ["points_panel"]}),
            (_("Privileges"), {"fields": ["holiday_opt_out"]}),
        ]

    def _holiday(self, request, queryset, opted_out: bool) -> None:
        """The holiday no-suspension choice through points.services (audited, `privileges.changed` when it changes
        what she gets); one customer at a time, each in its own transaction."""
        changed = sum(
            points_services.holiday_opt_out_set(
                customer=customer, opted_out=opted_out, at=timezone.now(), actor=request.user, reason="admin"
            )
            for customer in queryset
        )
        self.message_user(request, _("%(n)s customer(s) changed.") % {"n": changed})

    @admin.action(description=_("Opt out of the holiday no-suspension (节假日免停机)"), permissions=["change"])
    def holiday_opt_out_action(self, request, queryset):
        self._holiday(request, queryset, True)

    @admin.action(description=_("Opt back in to the holiday no-suspension"), permissions=["change"])
    def holiday_opt_in_action(self, request, queryset):
        self._holiday(request, queryset, False)

    @admin.display(description=_("tier"))
    def tier_col(self, obj):
        return tier_page.tier_column(obj)

    @admin.display(description=_("member page"))
    def member_page(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("staff-member", args=[obj.msisdn]), _("Open her page: timeline and actions")
        )

    @admin.display(description=_("current tier"))
    def current_tier(self, obj):
        return tier_page.current_tier_html(obj)

    @admin.display(description=_("Why this tier"))
    def why_this_tier(self, obj):
        return tier_page.why_this_tier_html(obj)

    @admin.display(description=_("points"))
    def points_panel(self, obj):
        return customer_points_html(obj)
