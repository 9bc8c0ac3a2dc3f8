"""The admin of partner systems: webhook endpoints (with history; actions: resume, pause, replay everything parked)
and the delivery log (read-only; filter by endpoint and status; action: replay the chosen deliveries)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator, GuardedHistoryAdmin, ReadOnlyAdmin

from . import services, sms, sms_rules
from .models import Delivery, SmsKind, SmsOptOut, SmsTemplate, WebhookEndpoint
from .ssrf import UnsafeUrl, check_url


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "types", "active"]

    def clean_url(self):
        try:
            check_url(self.cleaned_data["url"])
        except UnsafeUrl as exc:
            raise forms.ValidationError(str(exc)) from exc
        return self.cleaned_data["url"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(GuardedHistoryAdmin):
    form = EndpointForm
    list_display = ["url", "types", "active", "paused_reason", "consecutive_failures", "created_by", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    fields = ["url", "description", "types", "active", "paused_reason", "paused_at", "created_by"]
    readonly_fields = ["paused_reason", "paused_at", "created_by"]
    actions = ["resume", "pause", "replay_parked"]

    def save_model(self, request, obj, form, change):
        at = timezone.now()
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EndpointForm.Meta.fields}
            services.endpoint_update(endpoint=obj, actor=request.user, at=at, **changes)
            return
        created = services.endpoint_create(
            url=obj.url, types=obj.types or [], description=obj.description, actor=request.user, at=at
        )
        obj.pk = created.pk
        messages.info(request, _("The signing secret, shown this once: %s") % created.secret)

    @admin.action(description=_("Resume the chosen endpoints"))
    def resume(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, active=True, actor=request.user, at=timezone.now())

    @admin.action(description=_("Pause the chosen endpoints"))
    def pause(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_pause(
                endpoint=endpoint, reason=f"paused by {request.user}", actor=request.user, at=timezone.now()
            )

    @admin.action(description=_("Replay everything parked for the chosen endpoints"))
    def replay_parked(self, request, queryset):
        n = sum(services.endpoint_replay_parked(endpoint=e, actor=request.user, at=timezone.now()) for e in queryset)
        messages.info(request, _("%d parked deliveries will be sent again.") % n)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "public_event_id",
        "endpoint",
        "type",
        "status",
        "attempts",
        "last_status_code",
        "last_duration_ms",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    list_filter = ["status", "endpoint", "type"]
    search_fields = ["=event_id"]
    list_select_related = ["endpoint"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ["replay"]

    @admin.action(description=_("Send the chosen deliveries again"))
    def replay(self, request, queryset):
        n = services.delivery_replay(deliveries=queryset, actor=request.user, at=timezone.now())
        messages.info(request, _("%d deliveries will be sent again.") % n)


# -- member SMS ---------------------------------------------------------------------------------------------------------


class SmsTemplateForm(forms.ModelForm):
    class Meta:
        model = SmsTemplate
        fields = ["kind", "language", "body", "active", "service_notice"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def clean(self):
        data = super().clean()
        kind, body = data.get("kind"), data.get("body")
        if kind and body is not None:
            for message in sms.template_problems(kind=kind, body=body).get("body", []):
                self.add_error("body", message)
        return data


def _placeholder_list(kind: str) -> str:
    return format_html_join(
        mark_safe("<br>"),
        "<code>{{{}}}</code> {}",
        ((name, sms_rules.PLACEHOLDER_HELP.get(name, "")) for name in sms_rules.PLACEHOLDERS.get(kind, ())),
    )


@admin.register(SmsTemplate)
class SmsTemplateAdmin(GuardedHistoryAdmin):
    """Staff edit the member SMS: the text with its placeholders (an unknown one is refused, naming it), and a
    preview against a sample member (the Preview button shows the text being edited without saving it)."""

    form = SmsTemplateForm
    change_form_template = "admin/partners/smstemplate/change_form.html"
    list_display = ["kind", "language", "body", "active", "service_notice", "updated_at"]
    list_filter = ["kind", "language", "active", "service_notice"]
    search_fields = ["body"]
    readonly_fields = ["placeholders", "preview"]

    def get_fields(self, request, obj=None):
        return ["kind", "language", "body", "placeholders", "preview", "active", "service_notice"]

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj):
        return _placeholder_list(obj.kind) if obj and obj.kind else "—"

    @admin.display(description=_("preview (sample member)"))
    def preview(self, obj):
        if not obj or not obj.pk:
            return "—"
        text = sms.template_preview(**_preview_args(obj))
        return format_html('<div id="sms-preview" lang="{}">{}</div>', obj.language, text)  # data in its language

    def save_model(self, request, obj, form, change):
        sms.template_save(template=obj, actor=request.user, at=timezone.now())

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name=f"{prefix}_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """The text of the form being edited (POST kind, language, body) for the sample member, or what is wrong
        with it (an htmx fragment)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        kind = request.POST.get("kind", "")
        language = request.POST.get("language", "zh-hans")
        body = request.POST.get("body", "")
        if kind not in SmsKind.values:
            return HttpResponse(format_html('<p class="errornote">{}</p>', _("Choose the kind first.")))
        problems = sms.template_problems(kind=kind, body=body).get("body")
        if problems:
            return HttpResponse(format_html('<p class="errornote">{}</p>', problems[0]))
        text = sms.template_preview(kind=kind, language=language, body=body)
        return HttpResponse(
            format_html(
                '<div>{}</div><p class="help">{}</p>',
                text,
                _("%(n)d characters (an SMS holds 70 Chinese characters)") % {"n": len(text)},
            )
        )


def _preview_args(obj: SmsTemplate) -> dict:
    return {"kind": obj.kind, "language": obj.language, "body": obj.body}


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    """Members who want no marketing SMS (service notices still go); adding or deleting one goes through the
    service (audit row)."""

    list_display = ["customer", "opted_out_at", "note", "recorded_by"]
    search_fields = ["=customer__msisdn", "customer__name"]
    raw_id_fields = ["customer"]
    fields = ["customer", "note", "opted_out_at", "recorded_by"]
    readonly_fields = ["opted_out_at", "recorded_by"]
    list_select_related = ["customer"]

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        sms.opt_out_set(customer=obj.customer, opted_out=True, note=obj.note, actor=request.user, at=timezone.now())
        obj.pk = SmsOptOut.objects.get(customer=obj.customer).pk

    def delete_model(self, request, obj):
        sms.opt_out_set(customer=obj.customer, opted_out=False, actor=request.user, at=timezone.now())

    def delete_queryset(self, request, queryset):
        for row in queryset.select_related("customer"):
            self.delete_model(request, row)
