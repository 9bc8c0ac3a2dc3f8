"""The admin of the managers app: account managers, assignments (with the reassign action), the working-day
calendar, contact rules (with history); obligations, contact logs and notifications read-only; cards, service plans
and work logs. A supervisor sees her branches' rows only (core.admin.BranchScopedAdmin)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import BranchScopedAdmin, MaskedCustomerMixin, ReadableHistoryAdmin, ReadOnlyAdmin
from core.errors import DomainError

from . import selectors, services
from .models import (
    AccountManager,
    Assignment,
    CalendarYear,
    ContactLog,
    ContactRule,
    MembershipCard,
    Notification,
    Obligation,
    ServicePlan,
    WorkingDayOverride,
    WorkLog,
)


@admin.register(AccountManager)
class AccountManagerAdmin(BranchScopedAdmin, ReadableHistoryAdmin):
    list_display = ["employee_no", "name", "region", "capacity", "active", "supervisor"]
    list_filter = ["active", "region"]
    search_fields = ["employee_no", "name", "user__username"]
    raw_id_fields = ["user", "supervisor"]
    list_select_related = ["region", "supervisor"]
    customer_field, region_field = None, "region"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.manager_login_role(manager=obj)  # her login is an account manager's (core.permissions)


class ReassignForm(forms.Form):
    manager = forms.ModelChoiceField(queryset=AccountManager.objects.none(), label=_("new manager"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = selectors.scope_managers(AccountManager.objects.filter(active=True), user)


@admin.register(Assignment)
class AssignmentAdmin(BranchScopedAdmin, MaskedCustomerMixin, ReadableHistoryAdmin):
    list_display = ["customer_col", "manager", "started_on", "ended_on", "reason", "end_reason"]
    list_filter = ["reason", "end_reason", ("ended_on", admin.EmptyFieldListFilter), "manager__region"]
    search_fields = ["=customer__msisdn", "manager__employee_no", "manager__name"]
    list_select_related = ["customer", "manager"]
    raw_id_fields = ["customer", "manager"]
    show_full_result_count = False
    actions = ["reassign"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Reassign the selected customers to another manager"))
    def reassign(self, request, queryset):
        from django.shortcuts import render

        if "apply" in request.POST:
            form = ReassignForm(request.POST, user=request.user)
            if form.is_valid():
                ids = list(queryset.filter(ended_on__isnull=True).values_list("customer_id", flat=True))
                try:
                    moved = services.customers_reassign(
                        customer_ids=ids,
                        manager=form.cleaned_data["manager"],
                        on=timezone.localdate(),
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                    return None
                self.message_user(request, _("%(n)d customers moved, with their open obligations.") % {"n": moved})
                return None
        else:
            form = ReassignForm(user=request.user)
        return render(
            request,
            "admin/managers/reassign.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "assignments": queryset[:200],
                "count": queryset.count(),
                "title": _("Reassign customers"),
                "opts": self.model._meta,
            },
        )


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(ReadableHistoryAdmin):
    list_display = ["date", "is_working", "name"]
    list_filter = ["is_working"]
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(ReadableHistoryAdmin):
    list_display = ["year", "loaded_by", "loaded_at"]
    exclude = ["loaded_by"]

    def save_model(self, request, obj, form, change):
        obj.loaded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ContactRule)
class ContactRuleAdmin(ReadableHistoryAdmin):
    list_display = ["tier", "kind", "cadence", "lead_days", "active"]
    list_filter = ["tier", "kind", "active"]


@admin.register(Obligation)
class ObligationAdmin(BranchScopedAdmin, MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["customer_col", "manager", "kind", "period", "due_on", "status", "done_at"]
    list_filter = ["status", "kind", "manager__region"]
    search_fields = ["=customer__msisdn", "manager__employee_no"]
    list_select_related = ["customer", "manager"]
    date_hierarchy = "due_on"
    show_full_result_count = False


@admin.register(ContactLog)
class ContactLogAdmin(BranchScopedAdmin, MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["customer_col", "manager", "channel", "outcome", "occurred_at", "source"]
    list_filter = ["channel", "outcome", "source"]
    search_fields = ["=customer__msisdn", "manager__employee_no"]
    list_select_related = ["customer", "manager"]
    show_full_result_count = False


@admin.register(MembershipCard)
class MembershipCardAdmin(BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = ["customer_col", "tier", "state", "delivery_mode", "reissue", "sent_on", "arrived_on", "received_on"]
    list_filter = ["state", "delivery_mode", "reissue", "tier"]
    search_fields = ["=customer__msisdn"]
    list_select_related = ["customer", "tier"]
    raw_id_fields = ["customer"]
    readonly_fields = ["state", "sent_on", "arrived_on", "mailed_on", "received_on"]


@admin.register(ServicePlan)
class ServicePlanAdmin(BranchScopedAdmin, admin.ModelAdmin):
    list_display = ["manager", "scope", "period_start", "status", "reviewed_by", "reviewed_at"]
    list_filter = ["scope", "status"]
    list_select_related = ["manager", "reviewed_by"]
    customer_field, region_field = None, "manager__region"


@admin.register(WorkLog)
class WorkLogAdmin(BranchScopedAdmin, admin.ModelAdmin):
    list_display = ["manager", "date", "reviewed_by", "reviewed_at"]
    list_filter = ["manager__region"]
    date_hierarchy = "date"
    list_select_related = ["manager", "reviewed_by"]
    customer_field, region_field = None, "manager__region"


@admin.register(Notification)
class NotificationAdmin(BranchScopedAdmin, ReadOnlyAdmin):
    list_display = ["user", "kind", "day", "created_at", "read_at"]
    list_filter = ["kind"]

    def scope_queryset(self, request, qs):
        """Her own notifications and those of her branches' managers."""
        if selectors.sees_all_customers(request.user):
            return qs
        managers = selectors.scope_managers(AccountManager.objects.all(), request.user)
        return qs.filter(Q(user=request.user) | Q(user__account_manager__in=managers))
