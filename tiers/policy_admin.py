"""Rating policies as forms (issue 16 item 4): the thresholds per tier, the tenure bonus, the plan and key-person
floors are edited as tables of rows (formsets), checked as a run would use them (tiers.rules.policy_problems via
services.policy_rules). The thresholds live here only. An inactive policy is saved at once (services.policy_save);
an active one by a proposal with an effective month that a second staff user approves (PolicyChange, four-eyes),
with a what-if: members per tier before and after and the from→to matrix (two dry runs, selectors.policy_what_if).
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import GuardedHistoryAdmin
from core.errors import DomainError, InvalidInput
from core.forms import DecimalFormField, MonthFormField
from core.history import local_time, user_label
from customers.models import GroupClass, KeyPersonRole

from . import rules, selectors, services
from .models import PolicyChange, PolicyChangeStatus, PolicyKind, RatingPolicy, Tier

DOMAIN_MESSAGES = {
    "four_eyes": _("Four-eyes rule: a policy change must be approved by a second staff user, not by its proposer."),
    "policy_change_not_pending": _("This policy change is not awaiting approval."),
    "policy_needs_approval": _("An active policy changes by a proposal that a second staff user approves."),
}
FIELD_LABELS = {
    "thresholds": _("thresholds"),
    "tenure_bonus": _("tenure bonus"),
    "plan_tiers": _("plan floors"),
    "key_person_tiers": _("key-person floors"),
    "window_months": _("window (months)"),
    "min_tenure_months": _("minimum tenure to win by score (months)"),
    "validity_months": _("validity (months)"),
    "expiry_day": _("expiry day"),
    "run_day": _("run day of month"),
    "name": _("name"),
    "name_zh": _("Chinese name"),
    "kind": _("kind"),
    "active": _("scheduled"),
    "note": _("reason"),
    "effective_month": _("effective month"),
    "values": _("proposed values"),
}


BLANK = [("", "---------")]  # an empty row of a table stays empty (unchanged) and is not saved


def tier_choices() -> list[tuple[str, str]]:
    return BLANK + [(t.code, ui.label(t)) for t in Tier.objects.filter(active=True).order_by("-rank")]


# --------------------------------------------------------------------------------------------------
# The forms: the policy's fields, one threshold per tier, and three tables of rows


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    name_zh = forms.CharField(label=_("Chinese name"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("kind"), choices=PolicyKind.choices)
    active = forms.BooleanField(
        label=_("scheduled"), required=False, help_text=_("the monthly schedule runs active policies")
    )
    run_day = forms.IntegerField(label=_("run day of month"), min_value=1, max_value=28)
    window_months = forms.IntegerField(label=_("window (months)"), min_value=1, max_value=36)
    min_tenure_months = forms.IntegerField(label=_("minimum tenure to win by score (months)"), min_value=0)
    validity_months = forms.IntegerField(label=_("validity (months)"), min_value=1)
    expiry_day = forms.IntegerField(
        label=_("expiry day"),
        required=False,
        min_value=1,
        max_value=28,
        help_text=_("empty: valid to the end of month M+11; D: to day D of month M+12"),
    )

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.threshold_names = []
        for tier in tiers:
            name = f"threshold_{tier.code}"
            self.fields[name] = DecimalFormField(
                label=ui.label(tier),
                required=False,
                min_value=0,
                max_digits=rules.THRESHOLD_DIGITS,
                decimal_places=rules.THRESHOLD_PLACES,
                help_text=_("empty: won by floors only"),
            )
            self.threshold_names.append((name, tier.code))

    @property
    def main_fields(self):
        names = ("name", "name_zh", "kind", "active", "run_day", "window_months", "min_tenure_months")
        return [self[n] for n in names]

    @property
    def validity_fields(self):
        return [self["validity_months"], self["expiry_day"]]

    @property
    def threshold_fields(self):
        return [self[name] for name, _code in self.threshold_names]

    def thresholds(self) -> dict[str, str]:
        return {
            code: str(self.cleaned_data[name])
            for name, code in self.threshold_names
            if self.cleaned_data.get(name) is not None
        }


class ProposalForm(forms.Form):
    effective_month = MonthFormField(
        label=_("effective month"),
        help_text=_("YYYY-MM: the first month whose run uses the change (this month: at once, once approved)."),
    )
    note = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), max_length=2000)

    def clean_effective_month(self):
        month = self.cleaned_data["effective_month"].replace(day=1)
        if month < timezone.localdate().replace(day=1):
            raise forms.ValidationError(_("The effective month has passed."))
        return month


class TenureBonusRow(forms.Form):
    years = forms.IntegerField(label=_("from years of tenure"), min_value=0, max_value=rules.TENURE_YEARS_MAX)
    bonus = forms.IntegerField(label=_("bonus points"), min_value=0, max_value=rules.TENURE_BONUS_MAX)


class PlanFloorRow(forms.Form):
    plan = forms.CharField(label=_("tariff plan"), max_length=20)
    tier = forms.ChoiceField(label=_("tier at least"), choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = tier_choices()


class KeyPersonRow(forms.Form):
    role = forms.ChoiceField(label=_("key-person role"), choices=BLANK + KeyPersonRole.choices)
    group_class = forms.ChoiceField(
        label=_("group class"), choices=[("", _("any class")), *GroupClass.choices], required=False
    )
    tier = forms.ChoiceField(label=_("tier at least"), choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = tier_choices()


class RowsFormSet(forms.BaseFormSet):
    def rows(self) -> list[dict]:
        """The rows kept: filled in (an empty extra row has no data) and not marked for deletion."""
        return [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]


def rows_formset(form_class, prefix: str):
    return forms.formset_factory(
        form_class, formset=RowsFormSet, extra=2, can_delete=True, max_num=50, validate_max=True
    ), prefix


TABLES = {
    "tenure_bonus": (TenureBonusRow, "bonus"),
    "plan_tiers": (PlanFloorRow, "plan"),
    "key_person_tiers": (KeyPersonRow, "keyperson"),
}


def table_initial(policy: RatingPolicy | None) -> dict[str, list[dict]]:
    if policy is None:
        return {"tenure_bonus": [], "plan_tiers": [], "key_person_tiers": []}
    return {
        "tenure_bonus": [{"years": y, "bonus": b} for y, b in sorted(policy.tenure_bonus or [], reverse=True)],
        "plan_tiers": [{"plan": plan, "tier": tier} for plan, tier in sorted((policy.plan_tiers or {}).items())],
        "key_person_tiers": [
            {"role": row.get("role"), "group_class": row.get("group_class") or "", "tier": row.get("tier")}
            for row in policy.key_person_tiers or []
        ],
    }


def table_values(formsets: dict) -> dict:
    bonus = sorted(([r["years"], r["bonus"]] for r in formsets["tenure_bonus"].rows()), reverse=True)
    plans = {r["plan"].strip(): r["tier"] for r in formsets["plan_tiers"].rows()}
    key_persons = [
        {"role": r["role"], "group_class": r["group_class"] or None, "tier": r["tier"]}
        for r in formsets["key_person_tiers"].rows()
    ]
    return {"tenure_bonus": bonus, "plan_tiers": plans, "key_person_tiers": key_persons}


def policy_initial(policy: RatingPolicy | None, tiers) -> dict:
    if policy is None:
        return {
            "kind": PolicyKind.ANNUAL_COMPOSITE,
            "run_day": 1,
            "window_months": 12,
            "min_tenure_months": 12,
            "validity_months": 12,
        }
    initial = {
        name: getattr(policy, name)
        for name in (
            "name",
            "name_zh",
            "kind",
            "active",
            "run_day",
            "window_months",
            "min_tenure_months",
            "validity_months",
            "expiry_day",
        )
    }
    for tier in tiers:
        value = (policy.thresholds or {}).get(tier.code)
        initial[f"threshold_{tier.code}"] = Decimal(str(value)) if value is not None else None
    return initial


def shown(value) -> str:
    """A policy field's value for the proposal's page."""
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(
            " / ".join(str(x) for x in (item.values() if isinstance(item, dict) else item) if x is not None)
            for item in value
        )
    return str(value)


# --------------------------------------------------------------------------------------------------
# The policy's page


class RatingPolicyAdmin(GuardedHistoryAdmin):
    list_display = [
        "code",
        "name",
        "name_zh",
        "kind",
        "active",
        "window_months",
        "validity_months",
        "run_day",
        "version",
    ]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]

    # A revert from the history would bypass the form's checks and the four-eyes rule: the page is read-only.
    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self.edit_view(request, None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        policy = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if policy is None:
            raise Http404
        if not self.has_view_or_change_permission(request, policy):
            raise PermissionDenied
        if request.method == "POST" and not self.has_change_permission(request, policy):
            raise PermissionDenied
        return self.edit_view(request, policy)

    def edit_view(self, request, policy: RatingPolicy | None):
        tiers = list(Tier.objects.filter(active=True).order_by("-rank"))
        editable = self.has_change_permission(request, policy) if policy else self.has_add_permission(request)
        proposing = policy is not None and policy.active
        data = request.POST if request.method == "POST" else None
        form = PolicyForm(data, tiers=tiers, initial=policy_initial(policy, tiers))
        code_form = None
        if policy is None:
            code_form = forms.Form(data)
            code_form.fields["code"] = forms.CharField(label=_("code"), max_length=30)
        proposal = (
            ProposalForm(data, initial={"effective_month": timezone.localdate().replace(day=1)})
            if proposing and editable
            else None
        )
        initial = table_initial(policy)
        formsets = {
            name: rows_formset(form_class, prefix)[0](data, initial=initial[name], prefix=prefix)
            for name, (form_class, prefix) in TABLES.items()
        }
        if not editable:
            for f in [form, *(fs_form for fs in formsets.values() for fs_form in fs.forms)]:
                for field in f.fields.values():
                    field.disabled = True
        if request.method == "POST" and editable:
            response = self._save(request, policy, form, code_form, proposal, formsets)
            if response is not None:
                return response
        changes = policy.changes.select_related("created_by", "decided_by")[:10] if policy else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": (_("Change rating policy") if editable else _("View rating policy"))
            if policy
            else _("Add rating policy"),
            "subtitle": str(policy) if policy else "",
            "original": policy,
            "form": form,
            "code_form": code_form,
            "proposal": proposal,
            "formsets": [(FIELD_LABELS[name], formsets[name]) for name in TABLES],
            "editable": editable,
            "proposing": proposing,
            "tables_invalid": any(fs.is_bound and not fs.is_valid() for fs in formsets.values()),
            "changes": [
                {"change": c, "who": user_label(c.created_by), "when": local_time(c.created_at)} for c in changes
            ],
            "has_view_permission": True,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/tiers/ratingpolicy/edit.html", context)

    def _save(self, request, policy, form, code_form, proposal, formsets):
        valid = [form.is_valid(), *(fs.is_valid() for fs in formsets.values())]
        if code_form is not None:
            valid.append(code_form.is_valid())
        if proposal is not None:
            valid.append(proposal.is_valid())
        if not all(valid):
            return None
        values = {
            name: form.cleaned_data[name]
            for name in (
                "name",
                "name_zh",
                "kind",
                "active",
                "run_day",
                "window_months",
                "min_tenure_months",
                "validity_months",
                "expiry_day",
            )
        }
        values["thresholds"] = form.thresholds()
        values.update(table_values(formsets))
        try:
            if policy is None:
                created = services.policy_create(code=code_form.cleaned_data["code"], values=values, actor=request.user)
                self.message_user(request, _("The rating policy was added."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:tiers_ratingpolicy_change", args=[created.pk]))
            if proposal is None:
                services.policy_save(policy=policy, values=values, actor=request.user)
                self.message_user(request, _("The rating policy was saved."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:tiers_ratingpolicy_change", args=[policy.pk]))
            change = services.policy_change_propose(
                policy=policy,
                values=values,
                effective_month=proposal.cleaned_data["effective_month"],
                note=proposal.cleaned_data["note"],
                actor=request.user,
                at=timezone.now(),
            )
        except InvalidInput as exc:
            self._form_errors(exc, form, proposal, code_form)
            return None
        except DomainError as exc:
            self.message_user(request, ui.domain_message(exc, DOMAIN_MESSAGES), messages.ERROR)
            return None
        self.message_user(
            request,
            _("The change awaits approval by a second staff user. Its what-if is on its page."),
            messages.INFO,
        )
        return HttpResponseRedirect(reverse("admin:tiers_policychange_change", args=[change.pk]))

    @staticmethod
    def _form_errors(exc: InvalidInput, form, proposal, code_form) -> None:
        fields = dict(exc.fields or {})
        nested = (
            {**fields.pop("policy", {}), **fields.pop("draft", {})}
            if isinstance(fields.get("policy", fields.get("draft")), dict)
            else {}
        )
        fields.update(nested)
        for name, problems in fields.items():
            text = "; ".join(str(p) for p in (problems if isinstance(problems, list) else [problems]))
            if proposal is not None and name in proposal.fields:
                proposal.add_error(name, text)
            elif code_form is not None and name in code_form.fields:
                code_form.add_error(name, text)
            elif name in form.fields:
                form.add_error(name, text)
            else:
                form.add_error(None, f"{FIELD_LABELS.get(name, name)}: {text}")


# --------------------------------------------------------------------------------------------------
# Proposals: the diff, the what-if, approve or reject


class PolicyChangeAdmin(admin.ModelAdmin):
    list_display = ["id", "policy", "effective_month_col", "status", "proposer", "proposed", "decider"]
    list_filter = ["status", "policy"]
    list_select_related = ["policy", "created_by", "decided_by"]

    def has_add_permission(self, request):
        return False  # proposed from the policy's page

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.user.has_perm("tiers.change_ratingpolicy")

    @admin.display(description=_("effective month"), ordering="effective_month")
    def effective_month_col(self, obj):
        return f"{obj.effective_month:%Y-%m}"

    @admin.display(description=_("proposed by"), ordering="created_by__username")
    def proposer(self, obj):
        return user_label(obj.created_by)

    @admin.display(description=_("proposed at"), ordering="created_at")
    def proposed(self, obj):
        return local_time(obj.created_at)

    @admin.display(description=_("decided by"))
    def decider(self, obj):
        return user_label(obj.decided_by) if obj.decided_by_id else "—"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="tiers_policychange_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = (
            PolicyChange.objects.select_related("policy", "created_by", "decided_by", "base_run", "draft_run")
            .filter(pk=object_id)
            .first()
            if str(object_id).isdigit()
            else None
        )
        if change is None:
            raise Http404
        if not self.has_view_or_change_permission(request, change):
            raise PermissionDenied
        policy = change.policy
        tier_names = {t.code: ui.label(t) for t in Tier.objects.all()}
        diff = []
        for name, new in change.values.items():
            old = getattr(policy, name) if change.status != PolicyChangeStatus.APPLIED else None
            if name == "thresholds":
                old_t, new_t = old or {}, new or {}
                for code in sorted(set(old_t) | set(new_t)):
                    if old_t.get(code) != new_t.get(code) or change.status == PolicyChangeStatus.APPLIED:
                        label = f"{FIELD_LABELS['thresholds']}: {tier_names.get(code, code)}"
                        diff.append((label, shown(old_t.get(code)) if old is not None else "", shown(new_t.get(code))))
                continue
            if name == "kind":
                old, new = (PolicyKind(v).label if v in PolicyKind.values else v for v in (old, new))
            diff.append((FIELD_LABELS.get(name, name), shown(old) if old is not None else "", shown(new)))
        what_if = selectors.policy_what_if(change)
        runs_going = (change.base_run_id or change.draft_run_id) and what_if is None
        can_decide = (
            self.has_decide_permission(request)
            and change.status == PolicyChangeStatus.PENDING
            and change.created_by_id != request.user.pk
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Policy change #%(id)s") % {"id": change.pk},
            "original": change,
            "change": change,
            "proposer": user_label(change.created_by),
            "proposed_at": local_time(change.created_at),
            "decider": user_label(change.decided_by) if change.decided_by_id else "",
            "decided_at": local_time(change.decided_at) if change.decided_at else "",
            "diff": diff,
            "what_if": what_if,
            "runs_going": runs_going,
            "base_run": change.base_run,
            "draft_run": change.draft_run,
            "can_decide": can_decide,
            "can_what_if": self.has_decide_permission(request) and change.status == PolicyChangeStatus.PENDING,
            "own_proposal": change.created_by_id == request.user.pk and change.status == PolicyChangeStatus.PENDING,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/tiers/policychange/detail.html", context)

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:tiers_policychange_change", args=[object_id]))
        if not self.has_decide_permission(request):
            raise PermissionDenied
        change = PolicyChange.objects.filter(pk=object_id).first()
        if change is None:
            raise Http404
        decision = request.POST.get("decision")
        now = timezone.now()
        try:
            if decision == "approve":
                change = services.policy_change_approve(change=change, actor=request.user, at=now)
                text = (
                    _("Approved and applied: the policy is now version %(version)s.")
                    % {"version": change.policy.version}
                    if change.status == PolicyChangeStatus.APPLIED
                    else _("Approved: the change applies from %(month)s.")
                    % {"month": f"{change.effective_month:%Y-%m}"}
                )
                self.message_user(request, text, messages.SUCCESS)
            elif decision == "reject":
                services.policy_change_reject(change=change, actor=request.user, at=now)
                self.message_user(request, _("The policy change was rejected."), messages.SUCCESS)
            elif decision == "what_if":
                services.policy_change_what_if(change=change, actor=request.user)
                self.message_user(
                    request, _("The what-if is running: two dry runs of the effective month."), messages.INFO
                )
            else:
                self.message_user(request, _("Choose approve, reject or what-if."), messages.ERROR)
        except DomainError as exc:
            self.message_user(request, ui.domain_message(exc, DOMAIN_MESSAGES), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:tiers_policychange_change", args=[change.pk]))
