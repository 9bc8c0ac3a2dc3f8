"""The managers rows on the customer's admin page (composed by vipclub/admin.py): her account managers, the
obligations towards her and the contact trail. Classes only: nothing is registered here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Assignment, ContactLog, Obligation


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
