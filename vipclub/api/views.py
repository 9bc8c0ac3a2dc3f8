"""API endpoints that compose several apps: customer profile, bills (points hook), events, health."""

import datetime as dt

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.db import retry_on_conflict
from core.errors import InvalidInput
from core.models import JobHeartbeat
from core.permissions import PEOPLE, RoleOrScope
from core.schema import ERROR
from customers import selectors as customer_selectors
from customers.serializers import BillRowSerializer, BulkResultSerializer, bill_rows_check, validate_rows
from managers import selectors as manager_selectors
from tiers import selectors as tier_selectors

from .. import workflows
from ..events import EventSerializer, event_ingest
from .serializers import ClubCustomerListSerializer, ClubCustomerSerializer, club_customer_profile


def heartbeat_state(last_seen, *, now, stale_after) -> str:
    if last_seen is None:
        return "missing"
    return "stale" if now - last_seen > stale_after else "ok"


class HealthApi(APIView):
    """API.md's `{"status", "database", "broker"}`, and the heartbeats of the jobs: `worker` (every worker's own
    timer, every VIPCLUB_WORKER_HEARTBEAT seconds) and `beat` (beat's every-minute heartbeat, recorded by a worker:
    stale with a fresh `worker` means beat stopped), each `ok`, `stale` (older than VIPCLUB_HEARTBEAT_STALE_AFTER
    seconds) or `missing`, with its last time. `status` is `ok` when all of them are, else `degraded`; the answer is
    503 only when the database is unavailable (the web service cannot serve), 200 otherwise."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the service and its jobs",
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.CharField(help_text="ok or degraded"),
                "database": serializers.CharField(help_text="ok or unavailable"),
                "broker": serializers.CharField(help_text="ok or unavailable"),
                "worker": serializers.CharField(help_text="ok, stale or missing"),
                "beat": serializers.CharField(help_text="ok, stale or missing"),
                "worker_last_seen": serializers.DateTimeField(allow_null=True),
                "beat_last_seen": serializers.DateTimeField(allow_null=True),
                "last_heartbeat": serializers.DateTimeField(allow_null=True, help_text="the same as beat_last_seen"),
            },
        ),
    )
    def get(self, request):
        database = "ok"
        seen: dict[str, object] = {}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            seen = dict(JobHeartbeat.objects.filter(name__in=["worker", "beat"]).values_list("name", "last_run_at"))
        except Exception:  # noqa: BLE001 - any database failure is reported, not raised
            database = "unavailable"
        broker = "ok"
        if settings.REDIS_URL:
            try:
                redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
            except redis.RedisError:
                broker = "unavailable"
        elif not settings.CELERY_BROKER_DIR.is_dir():
            broker = "unavailable"
        now = timezone.now()
        stale_after = dt.timedelta(seconds=settings.VIPCLUB_HEARTBEAT_STALE_AFTER)
        jobs = {name: heartbeat_state(seen.get(name), now=now, stale_after=stale_after) for name in ("worker", "beat")}
        healthy = database == "ok" and broker == "ok" and set(jobs.values()) == {"ok"}
        return Response(
            {
                "status": "ok" if healthy else "degraded",
                "database": database,
                "broker": broker,
                **jobs,
                "worker_last_seen": seen.get("worker"),
                "beat_last_seen": seen.get("beat"),
                "last_heartbeat": seen.get("beat"),
            },
            status=status.HTTP_200_OK if database == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


@extend_schema(
    summary="List customers",
    parameters=[
        OpenApiParameter("tier", str, description="tier code, or `none` for non-members"),
        OpenApiParameter("manager", str, description="employee number of the account manager"),
        OpenApiParameter("region", str, description="region code"),
        OpenApiParameter("status", str, enum=["active", "suspended", "pending_closure", "closed"]),
        OpenApiParameter("brand", str, enum=["gotone", "mzone", "easyown"]),
        OpenApiParameter("search", str, description="msisdn prefix (digits) or name prefix"),
    ],
)
class CustomerListApi(generics.ListAPIView):
    """Customers, msisdn and ID number masked for API clients without the `pii` scope: those the user may address (a supervisor her branches', a manager
    her own)."""

    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}
    serializer_class = ClubCustomerListSerializer
    filter_backends: list = []

    def get_queryset(self):
        qs = tier_selectors.annotate_tier(customer_selectors.customer_list(filters=self.request.query_params))
        qs = manager_selectors.scope_customers(qs, self.request.user)
        if self.request.query_params.get("manager"):
            qs = manager_selectors.filter_by_manager(qs, self.request.query_params["manager"])
        tier = self.request.query_params.get("tier")
        if tier:
            codes = tier_selectors.tier_codes()
            if tier not in codes and tier != "none":
                raise InvalidInput(
                    f"Unknown tier {tier!r}; one of: {', '.join([*codes, 'none'])}.", fields={"tier": ["unknown tier"]}
                )
            qs = tier_selectors.filter_by_tier(qs, tier)
        return qs


class CustomerDetailApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(summary="A customer's profile", responses={200: ClubCustomerSerializer, 404: ERROR})
    def get(self, request, msisdn: str):
        data = club_customer_profile(msisdn=msisdn, request=request)  # one narrow query (issue 20)
        if data is None:  # credit stars never stored: the serializer computes them on demand
            customer = manager_selectors.scoped_customer_profile(msisdn=msisdn, user=request.user)
            data = ClubCustomerSerializer(customer, context={"request": request}).data
        return Response(data)


class BillsBulkApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "bills:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Create or correct monthly bills in bulk",
        request=BillRowSerializer(many=True),
        responses={200: BulkResultSerializer, 400: ERROR},
        description="Create or correct monthly bills. Atomic: all rows apply, or none and the 400 names every "
        "bad row by index.",
    )
    @idempotent
    def post(self, request):
        ids: dict[str, int] = {}

        rows = validate_rows(request.data, BillRowSerializer, extra_checks=lambda clean: bill_rows_check(clean, ids))
        for row in rows:
            row["customer_id"] = ids[row.pop("msisdn")]
        result = workflows.bills_import(rows=rows, on=timezone.localdate(), actor=request.user)
        return Response({"created": result.created, "updated": result.updated})


class EventApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Apply an event of the system of record",
        request=EventSerializer,
        responses={
            201: inline_serializer(
                "EventApplied",
                {
                    "event_id": serializers.CharField(),
                    "type": serializers.CharField(),
                    "applied": serializers.BooleanField(help_text="false: older than her latest lifecycle event"),
                    "msisdn": serializers.CharField(),
                    "status": serializers.CharField(),
                    "retention_case": serializers.IntegerField(required=False),
                    "gap": serializers.CharField(required=False, help_text="the steps a fact skipped"),
                    "reason": serializers.CharField(required=False, help_text="superseded"),
                    "message": serializers.CharField(required=False),
                    "latest_lifecycle_at": serializers.DateTimeField(required=False),
                },
            ),
            200: OpenApiResponse(description="replay: the first answer"),
            400: ERROR,
            404: ERROR,
            409: ERROR,
            503: ERROR,
        },
        description="Apply an event of the system of record. Lifecycle events apply per customer in `occurred_at` "
        "order: an older one than her latest is recorded, not applied (`applied: false`, `reason: superseded`); a "
        "newer one that skips a step applies all the same (a `closed` event closes her from any open state) and names the "
        "`gap`, logged for staff; nothing moves a closed customer (409; another `closed` event is recorded). "
        "503 `write_conflict` (with Retry-After) when concurrent writes kept conflicting.",
    )
    @retry_on_conflict
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        serializer = EventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = event_ingest(event=dict(serializer.validated_data), actor=request.user)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return Response(outcome.body, status=outcome.status_code, headers=headers)
