"""The admin of the tiers app: tiers (with the distribution chart), policies, runs (start, live progress,
resume), overrides (four-eyes approval), the tier history and move-in floors.

Writes go through `tiers.services`; domain errors become admin messages, never a 500."""

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core import ui
from core.admin import (
    BranchScopedAdmin,
    EstimatedCountPaginator,
    GuardedHistoryAdmin,
    ReadableHistoryMixin,
    ReadOnlyAdmin,
    customer_column,
)
from core.errors import DomainError
from core.forms import DecimalFormField, MonthFormField
from core.history import local_time
from core.masking import mask_msisdn

from . import policy_admin, rules, selectors, services
from .models import (
    OverrideStatus,
    PolicyChange,
    RatingChunk,
    RatingPolicy,
    RatingRun,
    RunStatus,
    Tier,
    TierChange,
    TierOverride,
    TransferFloor,
    Transition,
)

# Messages for the domain errors staff meet here, translated (the services' own texts are English).
DOMAIN_MESSAGES = {
    "four_eyes": _(
        "Four-eyes rule: an override must be approved by a second staff user, not by the user who created it."
    ),
    "override_not_pending": _("This override is not awaiting approval."),
    "override_state": _("Only a pending override can be rejected, and only an approved one revoked."),
    "month_not_closed": _("Billing month %(month)s is not closed yet: close it first, or tick “force” to run anyway."),
    "run_done": _("This run is already done; there is nothing to resume."),
    "no_active_policy": _("No rating policy is active (scheduled); choose a policy or activate one."),
}


def domain_message(exc: DomainError, **params) -> str:
    """The translated text of a known domain error, else the service's own message."""
    return ui.domain_message(exc, DOMAIN_MESSAGES, **params)


def month_label(month: dt.date | None) -> str:
    return f"{month:%Y-%m}" if month else ""


def dash(value) -> str:
    return "—" if value in (None, "") else str(value)


# --------------------------------------------------------------------------------------------------
# Tiers


@admin.register(Tier)
class TierAdmin(GuardedHistoryAdmin):
    list_display = ["code", "name_zh", "name_en", "rank", "active", "members"]
    list_display_links = ["code"]
    list_editable = ["active"]  # the score a tier needs is its rating policy's (one place: the policy's page)
    ordering = ["-rank"]
    change_list_template = "admin/tiers/tier/change_list.html"

    def _distribution(self, request) -> list[dict]:
        if not hasattr(request, "_tier_distribution"):
            request._tier_distribution = selectors.tier_distribution()
        return request._tier_distribution

    def changelist_view(self, request, extra_context=None):
        rows = [
            {"label": ui.label(row), "code": row["code"], "segments": [(row["members"], "bar", ui.label(row))]}
            for row in self._distribution(request)
        ]
        chart = ui.bar_chart(rows, bar_h=28, label_w=130, plot_w=520, value_w=90)
        return super().changelist_view(request, {**(extra_context or {}), "tier_chart": chart})

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        members = {row["code"]: row["members"] for row in self._distribution(request)}
        for tier in changelist.result_list:  # evaluates the page once; the template reuses it
            tier.members_count = members.get(tier.code, 0)
        return changelist

    @admin.display(description=_("members"))
    def members(self, obj):
        return getattr(obj, "members_count", "—")


# --------------------------------------------------------------------------------------------------
# Rating policies


admin.site.register(RatingPolicy, policy_admin.RatingPolicyAdmin)  # rating policies as forms: tiers.policy_admin
admin.site.register(PolicyChange, policy_admin.PolicyChangeAdmin)


# --------------------------------------------------------------------------------------------------
# Rating runs


def run_percent(run: RatingRun) -> int:
    if run.progress_total:
        return min(100, int(run.progress_done * 100 / run.progress_total))
    return 100 if run.status == RunStatus.DONE else 0


def is_live(run: RatingRun) -> bool:
    return run.status in (RunStatus.PENDING, RunStatus.RUNNING)


def render_progress(run: RatingRun, *, reload_when_done: bool = False, compact: bool = False) -> str:
    """The progress bar; while the run is pending or running it polls its own URL every 2 s (htmx)."""
    url = reverse("admin:tiers_ratingrun_progress", args=[run.pk])
    params = [p for p, on in (("reload=1", reload_when_done), ("compact=1", compact)) if on]
    return render_to_string(
        "admin/tiers/ratingrun/_progress.html",
        {
            "run": run,
            "percent": run_percent(run),
            "live": is_live(run),
            "url": f"{url}?{'&'.join(params)}" if params else url,
            "status_label": run.get_status_display(),
            "compact": compact,
        },
    )


def counts_rows(counts: dict) -> list[tuple[str, str, int]]:
    """(code, label, n) per transition, in the order of the choices, then any unknown key."""
    rows = [(t.value, t.label, counts.get(t.value, 0)) for t in Transition]
    rows += [(k, k, n) for k, n in counts.items() if k not in Transition.values]
    return rows


class StartRunForm(forms.Form):
    month = MonthFormField(
        label=_("month"),
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text=_("YYYY-MM. The run rates customers as of this month, from the bills of the months before it."),
    )
    policy = forms.ModelChoiceField(queryset=RatingPolicy.objects.order_by("code"), label=_("rating policy"))
    dry_run = forms.BooleanField(
        label=_("dry run"), required=False, help_text=_("Preview: records what would change, changes no customer.")
    )
    force = forms.BooleanField(
        label=_("force"),
        required=False,
        help_text=_("Run even though the previous billing month is not closed yet."),
    )

    def __init__(self, *args, tiers=(), policy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.draft_names = []
        for tier in tiers:
            name = f"threshold_{tier.code}"
            current = (policy.thresholds.get(tier.code) if policy else None) or "—"
            self.fields[name] = DecimalFormField(
                label=ui.label(tier),
                required=False,
                min_value=0,
                max_digits=rules.THRESHOLD_DIGITS,
                decimal_places=rules.THRESHOLD_PLACES,
                widget=forms.NumberInput(attrs={"placeholder": str(current), "step": "any"}),
            )
            self.draft_names.append((name, tier.code))

    @property
    def main_fields(self):
        return [self[name] for name in ("month", "policy", "dry_run", "force")]

    @property
    def draft_fields(self):
        return [self[name] for name, _code in self.draft_names]

    def draft(self) -> dict | None:
        thresholds = {
            code: str(self.cleaned_data[name])
            for name, code in self.draft_names
            if self.cleaned_data.get(name) is not None
        }
        return {"thresholds": thresholds} if thresholds else None

    def clean(self):
        cleaned = super().clean()
        if not self.errors and self.draft() and not cleaned.get("dry_run"):
            raise ValidationError(_("Draft thresholds can only be tried in a dry run: tick “dry run”."))
        return cleaned


@admin.register(RatingRun)
class RatingRunAdmin(ReadOnlyAdmin):  # started by the "Start a run" view and the scheduler, not the generic forms
    list_display = [
        "id",
        "policy_col",
        "month_col",
        "dry_run",
        "status",
        "progress_col",
        "counts_col",
        "created_by",
        "started_col",
        "finished_col",
    ]
    list_display_links = ["id", "month_col"]
    list_filter = ["status", "dry_run", "policy"]
    list_select_related = ["policy", "created_by"]
    change_list_template = "admin/tiers/ratingrun/change_list.html"
    change_form_template = "admin/tiers/ratingrun/change_form.html"
    actions = ["resume_runs"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "policy",
                    "policy_version",
                    "month_col",
                    "evaluation_date",
                    "dry_run",
                    "forced",
                    "status",
                    "progress_live",
                    "created_by",
                ]
            },
        ),
        (_("Counts per transition"), {"fields": ["counts_table"]}),
        (_("Timings"), {"fields": ["created_at", "started_at", "finished_at", "duration", "chunks_summary"]}),
        (_("Error"), {"fields": ["error_text"]}),
        (_("Policy used"), {"fields": ["snapshot"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "id",
        "policy",
        "policy_version",
        "month_col",
        "evaluation_date",
        "dry_run",
        "forced",
        "status",
        "progress_live",
        "created_by",
        "counts_table",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "chunks_summary",
        "error_text",
        "snapshot",
    ]

    def has_run_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name=f"{prefix}_start"),
            path(
                "<path:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name=f"{prefix}_progress",
            ),
            *super().get_urls(),
        ]

    # ---- columns and read-only fields

    @admin.display(description=_("rating policy"), ordering="policy__code")
    def policy_col(self, obj):
        return obj.policy.code

    @admin.display(description=_("month"), ordering="month")
    def month_col(self, obj):
        return month_label(obj.month)

    @admin.display(description=_("started at"), ordering="started_at")
    def started_col(self, obj):
        return local_time(obj.started_at)

    @admin.display(description=_("finished at"), ordering="finished_at")
    def finished_col(self, obj):
        return local_time(obj.finished_at)

    @admin.display(description=_("progress"))
    def progress_col(self, obj):
        return mark_safe(render_progress(obj, compact=True))

    @admin.display(description=_("progress"))
    def progress_live(self, obj):
        return mark_safe(render_progress(obj, reload_when_done=is_live(obj)))

    @admin.display(description=_("counts"))
    def counts_col(self, obj):
        """One chip per transition that happened ("Upgraded 12"), kept on one line each (core's admin-lists.css)."""
        chips = [(label, n) for _code, label, n in counts_rows(obj.counts or {}) if n]
        if not chips:
            return "—"
        return format_html_join("", '<span class="chip">{} {}</span>', chips)

    @admin.display(description=_("counts"))
    def counts_table(self, obj):
        return mark_safe(
            render_to_string(
                "admin/tiers/ratingrun/_counts.html",
                {"rows": counts_rows(obj.counts or {}), "done": obj.status == RunStatus.DONE},
            )
        )

    @admin.display(description=_("duration"))
    def duration(self, obj):
        seconds = obj.duration_seconds
        if seconds is None:
            return "—"
        return _("%(seconds).1f s") % {"seconds": seconds}

    @admin.display(description=_("chunks"))
    def chunks_summary(self, obj):
        stats = RatingChunk.objects.filter(run=obj).aggregate(
            total=Count("id"), done=Count("id", filter=Q(done=True)), seconds=Sum("seconds")
        )
        return _("%(done)d of %(total)d done, %(seconds).1f s of work") % {
            "done": stats["done"],
            "total": stats["total"],
            "seconds": stats["seconds"] or 0,
        }

    @admin.display(description=_("error"))
    def error_text(self, obj):
        return format_html("<pre class='run-error'>{}</pre>", obj.error) if obj.error else "—"

    @admin.display(description=_("policy used"))
    def snapshot(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.policy_snapshot, indent=2, ensure_ascii=False))

    # ---- the detail page: first 200 changes

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        try:
            run = selectors.run_get(object_id)
        except DomainError:
            run = None
        if run is not None:
            changes = selectors.run_changes(run)
            rows = [
                {
                    "msisdn": mask_msisdn(change.customer.msisdn),
                    "customer_id": change.customer_id,
                    "from_tier": change.from_tier,
                    "to_tier": change.to_tier,
                    "transition": change.get_transition_display(),
                    "reason": change.get_reason_display(),
                    "score": change.score,
                    "effective_on": change.effective_on,
                    "valid_until": change.valid_until,
                }
                for change in changes[:200]
            ]
            extra.update(
                {
                    "run_changes": rows,
                    "run_changes_total": changes.count() if len(rows) == 200 else len(rows),
                    "run_is_dry": run.dry_run,
                    "tier_changes_url": reverse("admin:tiers_tierchange_changelist") + f"?run={run.pk}",
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "can_start_run": self.has_run_permission(request)}
        return super().changelist_view(request, extra)

    # ---- live progress (htmx fragment)

    def progress_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            run = selectors.run_get(object_id)
        except DomainError as exc:
            raise Http404(exc.message) from exc
        reload_when_done = request.GET.get("reload") == "1"
        compact = request.GET.get("compact") == "1"
        response = HttpResponse(
            render_progress(run, reload_when_done=reload_when_done and is_live(run), compact=compact)
        )
        if reload_when_done and not is_live(run) and getattr(request, "htmx", False):
            response["HX-Refresh"] = "true"  # the run finished: reload the page to show its counts
        response["Cache-Control"] = "no-store"
        return response

    # ---- start a run

    def start_view(self, request):
        if not self.has_run_permission(request):
            raise PermissionDenied
        tiers = list(Tier.objects.filter(active=True).order_by("-rank"))
        try:
            policy = services.default_policy()
        except DomainError:
            policy = None
        if request.method == "POST":
            form = StartRunForm(request.POST, tiers=tiers, policy=policy)
            if form.is_valid():
                data = form.cleaned_data
                month = data["month"].replace(day=1)
                try:
                    run, created = services.tier_run_start(
                        month=month,
                        policy=data["policy"],
                        dry_run=data["dry_run"],
                        force=data["force"],
                        draft=form.draft(),
                        actor=request.user,
                    )
                except DomainError as exc:
                    previous = month_label(rules.add_months(month, -1))
                    self.message_user(request, domain_message(exc, month=previous), messages.ERROR)
                else:
                    if created:
                        self.log_addition(request, run, [{"added": {}}])
                        self.message_user(request, _("Rating run #%(id)s started.") % {"id": run.pk}, messages.SUCCESS)
                    else:
                        self.message_user(
                            request,
                            _("This policy already has a run for %(month)s: #%(id)s.")
                            % {"month": month_label(run.month), "id": run.pk},
                            messages.WARNING,
                        )
                    return HttpResponseRedirect(reverse("admin:tiers_ratingrun_change", args=[run.pk]))
        else:
            form = StartRunForm(
                initial={"month": timezone.localdate().replace(day=1), "policy": policy}, tiers=tiers, policy=policy
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Start a rating run"),
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/tiers/ratingrun/start.html", context)

    # ---- actions

    @admin.action(description=_("Resume the selected runs"), permissions=["run"])
    def resume_runs(self, request, queryset):
        resumed = 0
        for run in queryset.select_related("policy")[:50]:
            try:
                services.tier_run_resume(run=run, actor=request.user)
                resumed += 1
            except DomainError as exc:
                self.message_user(request, f"#{run.pk}: {domain_message(exc)}", messages.ERROR)
        if resumed:
            self.message_user(request, _("%(n)d runs resumed.") % {"n": resumed}, messages.SUCCESS)


# --------------------------------------------------------------------------------------------------
# Overrides


class TierOverrideForm(forms.ModelForm):
    """The add form: the customer by msisdn (or the raw-id picker), looked up among the customers the user may
    address (the picker's scoped queryset)."""

    msisdn = forms.CharField(
        label=_("Msisdn"), max_length=20, required=False, help_text=_("The customer's number (or pick her below).")
    )

    class Meta:
        model = TierOverride
        fields = ["msisdn", "customer", "tier", "reason", "starts_on", "ends_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "tier" in self.fields:
            self.fields["tier"].queryset = Tier.objects.filter(active=True).order_by("-rank")
        if "customer" in self.fields:
            self.fields["customer"].required = False

    def clean(self):
        cleaned = super().clean()
        msisdn = (cleaned.get("msisdn") or "").strip()
        if "customer" in self.fields:
            if msisdn:
                found = self.fields["customer"].queryset.filter(msisdn=msisdn).first()
                if found is None:
                    self.add_error("msisdn", _("No customer with this msisdn in your branches."))
                else:
                    cleaned["customer"] = found
                    self.instance.customer = found
            elif not cleaned.get("customer") and "customer" not in self.errors:
                self.add_error("msisdn", _("Enter the customer's msisdn."))
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The end date is before the start date."))
        return cleaned

    def _get_validation_exclusions(self):
        # clean() words the date check for people; skip the model's bare "constraint violated" twin.
        return {*super()._get_validation_exclusions(), "ends_on"}


@admin.register(TierOverride)
class TierOverrideAdmin(BranchScopedAdmin, ReadableHistoryMixin, SimpleHistoryAdmin):
    form = TierOverrideForm
    list_display = [
        "id",
        "customer_col",
        "tier",
        "status",
        "starts_on",
        "ends_on",
        "created_by",
        "approved_by",
        "created_at",
    ]
    list_filter = ["status", "tier"]
    list_select_related = ["customer", "tier", "created_by", "approved_by"]
    search_fields = ["=customer__msisdn"]
    search_help_text = _("Exact msisdn of the customer.")
    raw_id_fields = ["customer"]
    actions = ["approve", "reject", "revoke"]
    readonly_fields = ["status", "created_by", "created_at", "approved_by", "approved_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["msisdn", "customer", "tier", "reason", "starts_on", "ends_on"]
        return ["customer", "tier", "reason", "starts_on", "ends_on", *self.readonly_fields]

    # An override is decided through the actions; editing it (or reverting its history) would bypass them.
    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            self.check_in_scope(request, object_id)  # a row outside her branches stays a 404
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    customer_col = customer_column(ordering="customer__msisdn")

    def save_model(self, request, obj, form, change):
        if change:  # not reachable through the UI (read-only once created)
            raise PermissionDenied
        data = form.cleaned_data
        created = services.tier_override_create(
            customer=data["customer"],
            tier=data["tier"],
            reason=data["reason"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            actor=request.user,
        )
        # The admin logs and redirects with `obj`: give it the stored row's identity and values.
        for field in ("pk", "id", "status", "created_by_id", "created_at", "reason"):
            setattr(obj, field, getattr(created, field))
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, _("The override awaits approval by a second staff user (four-eyes rule)."), messages.INFO
        )
        return super().response_add(request, obj, post_url_continue)

    def _decide(self, request, queryset, decide, done_message):
        done = 0
        for override in queryset.select_related("customer", "tier")[:200]:
            try:
                decide(override)
                done += 1
            except DomainError as exc:
                self.message_user(
                    request,
                    _("Override #%(id)s (%(customer)s): %(error)s")
                    % {
                        "id": override.pk,
                        "customer": mask_msisdn(override.customer.msisdn),
                        "error": domain_message(exc),
                    },
                    messages.ERROR,
                )
        if done:
            self.message_user(request, done_message % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Approve the selected overrides"), permissions=["change"])
    def approve(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda o: services.tier_override_approve(override=o, actor=request.user, at=timezone.now()),
            _("%(n)d overrides approved."),
        )

    @admin.action(description=_("Reject the selected overrides"), permissions=["change"])
    def reject(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda o: services.tier_override_decide(override=o, status=OverrideStatus.REJECTED, actor=request.user),
            _("%(n)d overrides rejected."),
        )

    @admin.action(description=_("Revoke the selected overrides"), permissions=["change"])
    def revoke(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda o: services.tier_override_decide(override=o, status=OverrideStatus.REVOKED, actor=request.user),
            _("%(n)d overrides revoked."),
        )


# --------------------------------------------------------------------------------------------------
# History and move-in floors


class RunListFilter(admin.SimpleListFilter):
    title = _("rating run")
    parameter_name = "run"

    def lookups(self, request, model_admin):
        runs = RatingRun.objects.filter(dry_run=False).select_related("policy").order_by("-month", "-id")[:24]
        return [(str(run.pk), f"#{run.pk} {run.policy.code} {month_label(run.month)}") for run in runs]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(run__isnull=True)
        if value and value.isdigit():
            return queryset.filter(run_id=int(value))
        return queryset


@admin.register(TierChange)
class TierChangeAdmin(BranchScopedAdmin, ReadOnlyAdmin):
    list_display = [
        "id",
        "customer_col",
        "from_tier",
        "to_tier",
        "transition",
        "reason",
        "score",
        "run_col",
        "effective_on",
        "valid_until",
    ]
    list_filter = ["transition", "reason", "to_tier", RunListFilter]
    list_select_related = ["customer", "from_tier", "to_tier", "run__policy"]
    search_fields = ["=customer__msisdn"]
    search_help_text = _("Exact msisdn of the customer.")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    ordering = ["-id"]
    fields = [
        "customer_col",
        "from_tier",
        "to_tier",
        "transition",
        "reason",
        "score",
        "run",
        "effective_on",
        "valid_until",
        "created_at",
    ]
    readonly_fields = fields
    customer_col = customer_column(description=_("msisdn"), ordering="customer__msisdn", name=False)

    @admin.display(description=_("rating run"), ordering="run")
    def run_col(self, obj):
        return f"#{obj.run_id}" if obj.run_id else dash(None)


class TransferFloorForm(forms.ModelForm):
    class Meta:
        model = TransferFloor
        fields = ["customer", "tier", "from_region", "moved_on"]


@admin.register(TransferFloor)
class TransferFloorAdmin(BranchScopedAdmin, admin.ModelAdmin):
    """跨区入网: added through the service (kept until 31 December of the move's year, applied at once)."""

    form = TransferFloorForm
    list_display = ["id", "customer_col", "tier", "from_region", "moved_on", "kept_until"]
    list_filter = ["tier"]
    list_select_related = ["customer", "tier"]
    search_fields = ["=customer__msisdn"]
    search_help_text = _("Exact msisdn of the customer.")
    raw_id_fields = ["customer"]
    readonly_fields = ["kept_until"]

    def get_fields(self, request, obj=None):
        fields = ["customer", "tier", "from_region", "moved_on"]
        return fields if obj is None else [*fields, "kept_until"]

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    customer_col = customer_column(ordering="customer__msisdn")

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        data = form.cleaned_data
        created = services.tier_transfer_floor_set(
            customer=data["customer"],
            tier_code=data["tier"].code,
            from_region=data["from_region"],
            moved_on=data["moved_on"],
            actor=request.user,
        )
        for field in ("pk", "id", "kept_until"):
            setattr(obj, field, getattr(created, field))
        obj._state.adding = False
