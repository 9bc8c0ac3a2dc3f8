"""The admin of partner systems: webhook endpoints (with history; actions: resume, pause, replay everything parked)
and the delivery log (read-only; filter by endpoint and status; action: replay the chosen deliveries)."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin import EstimatedCountPaginator, GuardedHistoryAdmin, ReadOnlyAdmin

from . import services
from .models import Delivery, WebhookEndpoint
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
