from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from .models import IdempotencyRecord, JobHeartbeat


class EstimatedCountPaginator(Paginator):
    """Admin paginator for million-row tables: on PostgreSQL an unfiltered count uses the planner's
    estimate (instant) instead of COUNT(*) (a full scan)."""

    @cached_property
    def count(self):
        qs = self.object_list
        if connection.vendor == "postgresql" and not getattr(qs.query, "where", None):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return row[0]
        return super().count


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    readonly_fields = ["name", "last_run_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "client", "method", "path", "status_code", "created_at"]
    list_filter = ["status_code", "method"]
    search_fields = ["=key"]
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
