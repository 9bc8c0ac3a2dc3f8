"""The admin of club activities: the catalogue with its invited tiers and seat quotas (inline), publishing and
calling off (actions), signing a member up from the activity's page, the sign-ups (a branch supervisor sees her
branches' members only) with attendance and cancellation as actions, and the report of sign-ups, attendance and
cost per tier and branch (CSV)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import bounds, ui
from core.admin import BranchScopedAdmin, BranchScopedInline, MaskedCustomerMixin, ReadOnlyInline, row_scope
from core.errors import DomainError
from core.exports import csv_writer
from customers.models import Region
from managers import selectors as manager_selectors
from retention import selectors as retention_selectors

from . import selectors, services
from .models import Activity, ActivityTierQuota, Signup, SignupChannel, SignupStatus

MESSAGES = {
    "signup_closed": _("The sign-up window of this activity is not open."),
    "not_invited": _("This member is not invited: her tier or branch is not among the activity's."),
    "activity_cancelled": _("This activity was called off."),
    "no_tier_invited": _("Invite at least one tier before publishing."),
    "activity_started": _("The activity has started: record attendance instead."),
    "not_yet_held": _("Attendance is recorded once the activity has taken place."),
    "not_signed_up": _("This member is not signed up."),
}


def _message(exc: DomainError) -> str:
    return ui.domain_message(exc, MESSAGES)


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = list(services.CATALOGUE_FIELDS)  # what staff edit; the counters and the state are the services'

    def clean(self):
        data = super().clean()
        opens, closes, starts = data.get("signup_opens_at"), data.get("signup_closes_at"), data.get("starts_at")
        if opens and closes and opens >= closes:
            self.add_error("signup_closes_at", _("The sign-up closes after it opens."))
        if closes and starts and closes > starts:
            self.add_error("signup_closes_at", _("The sign-up closes before the activity starts."))
        capacity = data.get("capacity")
        if capacity is not None and self.instance.pk and capacity < self.instance.confirmed:
            self.add_error(
                "capacity",
                _("%(n)d seats are already confirmed: the capacity cannot be lower.") % {"n": self.instance.confirmed},
            )
        return data


class QuotaForm(forms.ModelForm):
    class Meta:
        model = ActivityTierQuota
        fields = ["tier", "seats"]

    def clean_seats(self):
        seats = self.cleaned_data.get("seats")
        if seats is not None and self.instance.pk and seats < self.instance.confirmed:
            raise forms.ValidationError(
                _("%(n)d seats of this tier are already confirmed.") % {"n": self.instance.confirmed}
            )
        return seats


class QuotaInline(admin.TabularInline):
    model = ActivityTierQuota
    form = QuotaForm
    extra = 1
    fields = ["tier", "seats", "confirmed"]
    readonly_fields = ["confirmed"]


class SignupInline(BranchScopedInline, ReadOnlyInline):
    model = Signup
    fields = ["customer_col", "tier", "region", "status", "position", "channel", "by_label", "signed_up_at"]
    readonly_fields = fields
    ordering = ["status", "position", "id"]
    customer_col = MaskedCustomerMixin.customer_col
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "tier", "region")


class SignupForm(forms.Form):
    msisdn = forms.RegexField(regex=r"^1[0-9]{10}$", label=_("Member's number"), max_length=11)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    form = ActivityForm
    list_display = [
        "title",
        "kind",
        "starts_at",
        "region",
        "capacity",
        "confirmed",
        "signup_opens_at",
        "signup_closes_at",
        "cost_per_head",
        "status",
    ]
    list_filter = ["status", "kind", "region"]
    search_fields = ["title", "place"]
    date_hierarchy = "starts_at"
    inlines = [QuotaInline, SignupInline]
    actions = ["publish", "call_off"]
    change_form_template = "admin/service/activity/change_form.html"
    change_list_template = "admin/service/activity/change_list.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("region")
        scope = row_scope(request)
        if scope.everyone:
            return qs
        return qs.filter(Q(region__isnull=True) | Q(pk__in=scope.rows(qs, customer=None, region="region").values("pk")))

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Saved with its invited tiers by save_related: one service call, one audit row (who, what changed)."""

    def save_related(self, request, form, formsets, change):
        quotas = None
        for formset in formsets:
            if formset.model is ActivityTierQuota:  # saved by the service (the admin's change message: the form's)
                quotas = {
                    f.cleaned_data["tier"]: f.cleaned_data.get("seats")
                    for f in formset.forms
                    if f.cleaned_data.get("tier") and not f.cleaned_data.get("DELETE")
                }
                formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            else:
                self.save_formset(request, form, formset, change=change)
        try:
            result = services.activity_save(
                activity=form.instance, quotas=quotas, at=timezone.now(), actor=request.user
            )
        except DomainError as exc:  # a sign-up took the seats between the form's check and the save
            self.message_user(request, _message(exc), messages.ERROR)
            return
        if result["promoted"]:
            self.message_user(
                request,
                _("%(n)d members moved up from the waitlist.") % {"n": len(result["promoted"])},
                messages.SUCCESS,
            )

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="service_activity_report"),
            path(
                "<int:activity_id>/signup/",
                self.admin_site.admin_view(self.signup_view),
                name="service_activity_signup",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "signup_form": SignupForm()}
        return super().change_view(request, object_id, form_url, extra)

    def signup_view(self, request, activity_id: int):
        if not request.user.has_perm("service.add_signup"):
            raise PermissionDenied
        activity = self.get_queryset(request).filter(pk=activity_id).first()
        if activity is None:
            raise Http404
        form = SignupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                customer = manager_selectors.scoped_customer(msisdn=form.cleaned_data["msisdn"], user=request.user)
                result = services.activity_signup(
                    activity=activity,
                    customer=customer,
                    at=timezone.now(),
                    actor=request.user,
                    channel=SignupChannel.ADMIN,
                )
            except DomainError as exc:
                self.message_user(request, _message(exc), messages.ERROR)
            except Http404:
                self.message_user(request, _("No member with this number in your branches."), messages.ERROR)
            else:
                text = SignupStatus(result.signup.status).label
                if result.position:
                    text = _("%(status)s, number %(n)d in line") % {"status": text, "n": result.position}
                self.message_user(
                    request, _("%(name)s: %(status)s.") % {"name": customer.name, "status": text}, messages.SUCCESS
                )
        elif request.method == "POST":
            self.message_user(request, _("Enter the member's 11-digit number."), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:service_activity_change", args=[activity_id]))

    @admin.action(description=_("Publish the selected activities (managers invite their members)"))
    def publish(self, request, queryset):
        for activity in queryset[:50]:
            try:
                n = services.activity_publish(activity=activity, at=timezone.now(), actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{activity}: {_message(exc)}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    _("%(activity)s published: %(n)d invitations for the managers to call.")
                    % {"activity": activity, "n": n},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Call off the selected activities"))
    def call_off(self, request, queryset):
        for activity in queryset[:50]:
            services.activity_cancel(activity=activity, at=timezone.now(), actor=request.user)
        self.message_user(request, _("Called off."), messages.SUCCESS)

    # --- the report -------------------------------------------------------------------------------------------

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        try:
            year = bounds.parse_integer(request.GET.get("year") or today.year, min_value=2000, max_value=2099)
        except bounds.BoundsError:
            year = today.year
        allowed = retention_selectors.report_regions(request.user)
        try:
            region_ids, region = retention_selectors.report_scope(request.user, request.GET.get("region") or None)
        except DomainError:
            messages.warning(request, _("That region is not one of yours: all your branches are shown."))
            region_ids, region = retention_selectors.report_scope(request.user, None)
        report = selectors.activity_report(year=year, region_ids=region_ids)
        if request.GET.get("format") == "csv":
            return _csv(year, region, report)
        query = request.GET.copy()
        query["format"] = "csv"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Activities: sign-ups, attendance and cost"),
            "year": year,
            "years": list(range(today.year - 4, today.year + 2)),
            "region": region,
            "regions": allowed if allowed is not None else list(Region.objects.order_by("province", "code")),
            "report": report,
            "csv_query": query.urlencode(),
        }
        return TemplateResponse(request, "admin/service/activity_report.html", context)


KEYS = ["seats", "waitlisted", "cancelled", "attended", "no_show", "attendance_rate", "cost", "attended_cost"]


def _csv(year: int, region, report: dict) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"activities-{year}{'-' + region.code if region else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv_writer(response)
    writer.writerow(["region", "region_name", "tier", *KEYS])
    for r in report["rows"]:
        writer.writerow(
            [r["region"].code, r["region"].name, r["tier"].code, *("" if r[k] is None else r[k] for k in KEYS)]
        )
    writer.writerow([])
    writer.writerow(["activity", "title", "starts_at", "region", "cost_per_head", *KEYS])
    for r in report["activities"]:
        a = r["activity"]
        writer.writerow(
            [
                a.pk,
                a.title,
                timezone.localtime(a.starts_at).strftime("%Y-%m-%d %H:%M"),
                a.region.code if a.region_id else "",
                a.cost_per_head,
                *("" if r[k] is None else r[k] for k in KEYS),
            ]
        )
    return response


@admin.register(Signup)
class SignupAdmin(BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = ["activity", "customer_col", "tier", "region", "status", "position", "channel", "signed_up_at"]
    list_filter = ["status", "channel", "tier", "region", "activity"]
    list_select_related = ["activity", "customer", "tier", "region"]
    search_fields = ["=customer__msisdn", "^customer__name", "activity__title"]
    actions = ["mark_attended", "mark_no_show", "cancel"]
    readonly_fields = [
        "activity",
        "customer_col",
        "tier",
        "region",
        "status",
        "position",
        "channel",
        "by_label",
        "signed_up_at",
        "confirmed_at",
        "cancelled_at",
        "attendance_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _attendance(self, request, queryset, attended: bool):
        marked = 0
        for activity_id in sorted(set(queryset.values_list("activity_id", flat=True)))[:50]:
            ids = list(queryset.filter(activity_id=activity_id).values_list("pk", flat=True))
            try:
                marked += services.signups_attendance(
                    activity=Activity(pk=activity_id),
                    signup_ids=ids,
                    attended=attended,
                    at=timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, _message(exc), messages.WARNING)
        self.message_user(request, _("%(n)d sign-ups marked.") % {"n": marked}, messages.SUCCESS)

    @admin.action(description=_("Mark attended (after the day)"), permissions=["change"])
    def mark_attended(self, request, queryset):
        self._attendance(request, queryset, True)

    @admin.action(description=_("Mark did not come (after the day)"), permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._attendance(request, queryset, False)

    @admin.action(description=_("Cancel the selected sign-ups (the waitlist moves up)"), permissions=["change"])
    def cancel(self, request, queryset):
        done = 0
        for signup in queryset.select_related("activity", "customer")[:200]:
            try:
                services.signup_cancel(
                    activity=signup.activity, customer=signup.customer, at=timezone.now(), actor=request.user
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{signup.customer.name}: {_message(exc)}", messages.WARNING)
        self.message_user(request, _("%(n)d sign-ups cancelled.") % {"n": done}, messages.SUCCESS)
