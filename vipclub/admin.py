from django.contrib import admin

from core.masking import mask_msisdn

from .models import InboundEvent


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "masked_msisdn", "occurred_at", "status_code", "received_at"]
    list_filter = ["type", "status_code"]
    search_fields = ["=event_id", "=msisdn"]
    readonly_fields = [f.name for f in InboundEvent._meta.fields]

    @admin.display(description="msisdn")
    def masked_msisdn(self, obj):
        return mask_msisdn(obj.msisdn)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
