"""Retention API (API.md): retention cases (closure requests, transitions with history) and the churn and tier
reports."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent, object_action
from core.dates import month_str
from core.permissions import PEOPLE, SUPERVISOR, RoleOrScope
from core.schema import ERROR
from managers import selectors as manager_selectors

from . import selectors, services
from .models import CaseState, ReasonCategory
from .serializers import (
    CaseOpenSerializer,
    CaseSerializer,
    CaseTransitionSerializer,
    ChurnReportQuerySerializer,
    ChurnRowSerializer,
    SnapshotRowSerializer,
    TierReportQuerySerializer,
)


@extend_schema(
    summary="List retention cases",
    parameters=[
        OpenApiParameter("state", str, enum=CaseState.values, many=True),
        OpenApiParameter("open", bool, description="true: open cases, false: retained or churned"),
        OpenApiParameter("manager", str, description="employee number"),
        OpenApiParameter("msisdn", str),
        OpenApiParameter("region", str, description="region code"),
        OpenApiParameter("reason_category", str, enum=ReasonCategory.values),
        OpenApiParameter("opened_after", str, description="YYYY-MM-DD"),
        OpenApiParameter("opened_before", str, description="YYYY-MM-DD"),
    ],
)
class RetentionCaseListApi(generics.ListAPIView):
    """Retention cases with their history, newest first; an account manager sees her own customers' cases."""

    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}  # the API client's token scope per method (core.permissions)
    roles = {"GET": PEOPLE, "POST": PEOPLE}  # supervisors and managers, each on her own customers
    serializer_class = CaseSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.case_list(filters=self.request.query_params, user=self.request.user)

    @extend_schema(
        summary="Open a retention case (a closure request)",
        request=CaseOpenSerializer,
        responses={201: CaseSerializer, 200: CaseSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="A closure request (hotline, hall): the customer becomes pending closure, her points are "
        "frozen and a retention case opens for her account manager (201), with a retention contact due in 1 "
        "working day. While a case is open, another request joins it (200). 409 for a closed customer.",
    )
    @idempotent
    def post(self, request):
        serializer = CaseOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = manager_selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
        case, created = services.closure_request(
            customer=customer,
            channel=data["channel"],
            reason=data["reason"],
            reason_category=data["reason_category"],
            at=data.get("occurred_at") or timezone.now(),
            actor=request.user,
        )
        case = selectors.case_get(case_id=case.pk, user=request.user)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RetentionCaseTransitionApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}  # the API client's token scope per method (core.permissions)
    roles = {"POST": PEOPLE}  # supervisors and managers, each on her own customers' cases

    @extend_schema(
        summary="Move a retention case",
        request=CaseTransitionSerializer,
        responses={200: CaseSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Move a case: open → contacted → offer_made → retained | considering | declined; considering → "
        "considering (follow-up) | offer_made | retained | declined; declined → escalated (home visit, `visit_on`) → "
        "retained | churned. `offer_made` needs an `offer` code. 409 `invalid_transition` names the allowed moves "
        "(`fields.allowed`). Retained cancels the closure request.",
    )
    @idempotent
    def post(self, request, case_id: int):
        # the client sent a case id, not the msisdn: the answer masks it as the list does (no `pii` scope)
        return object_action(
            request,
            case_id,
            lookup=lambda pk: selectors.case_get(case_id=pk, user=request.user),
            payload=CaseTransitionSerializer,
            act=lambda case, data: services.case_transition(
                case=case, at=data.pop("occurred_at") or timezone.now(), actor=request.user, **data
            ),
            answer=CaseSerializer,
        )


class ChurnReportApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": (SUPERVISOR,)}  # her branches only (selectors.report_scope)

    @extend_schema(
        summary="Churn per month and tier",
        parameters=[
            OpenApiParameter("year", int, description="YYYY (default: this year)"),
            OpenApiParameter("region", str, description="region code (default: all your branches)"),
        ],
        responses={
            200: inline_serializer(
                "ChurnReport",
                {
                    "year": serializers.IntegerField(),
                    "region": serializers.CharField(allow_null=True),
                    "regions": serializers.ListField(child=serializers.CharField(), allow_null=True),
                    "ytd_base": serializers.CharField(allow_null=True),
                    "results": ChurnRowSerializer(many=True),
                    "snapshot_retention": inline_serializer(
                        "SnapshotRetention",
                        {"base_date": serializers.DateField(), "results": SnapshotRowSerializer(many=True)},
                    ),
                },
            ),
            400: ERROR,
            404: ERROR,
        },
        description="Per month and tier (and `all` members): members at the month end, churned (voluntary + arrears "
        "closures), rate = churned / members at the end of the month before × 100, average members, year-to-date "
        "churn against the yearly target, breach. Rates are null where there were no members (see README).",
    )
    def get(self, request):
        query = ChurnReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        region_ids, region = selectors.report_scope(request.user, query.validated_data["region"])
        rows = selectors.churn_report(year=year, on=timezone.localdate(), region_ids=region_ids)
        base_date, snapshot_rows = selectors.snapshot_retention_report(year=year, region_ids=region_ids)
        ytd_base = rows[0]["ytd_base"] if rows else None
        return Response(
            {
                "year": year,
                "region": region.code if region else None,
                "regions": selectors.region_codes(region_ids),
                "ytd_base": month_str(ytd_base) if ytd_base else None,
                "results": ChurnRowSerializer(rows, many=True).data,
                "snapshot_retention": {
                    "base_date": base_date,
                    "results": SnapshotRowSerializer(snapshot_rows, many=True).data,
                },
            }
        )


class TierReportApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": (SUPERVISOR,)}  # her branches only (selectors.report_scope)

    @extend_schema(
        summary="Members per tier and region",
        parameters=[
            OpenApiParameter("region", str, description="region code (default: all your branches)"),
            OpenApiParameter("month", str, description="YYYY-MM: members at that month end (default: now)"),
        ],
        responses={
            200: inline_serializer(
                "TierReport",
                {
                    "month": serializers.CharField(allow_null=True),
                    "region": serializers.CharField(allow_null=True),
                    "tiers": serializers.ListField(child=serializers.CharField()),
                    "results": serializers.ListField(child=serializers.DictField()),
                    "totals": serializers.DictField(),
                },
            ),
            400: ERROR,
            404: ERROR,
        },
        description="Members per tier and region (branch): now, or at a snapshotted month end.",
    )
    def get(self, request):
        query = TierReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        region_ids, region = selectors.report_scope(request.user, query.validated_data["region"])
        month = query.validated_data.get("month")
        report = selectors.tier_report(region_ids=region_ids, month=month)
        codes = [t.code for t in report["tiers"]]
        results = [
            {"region": row["region"].code, "region_name": row["region"].name, "tier": code, "members": n}
            for row in report["rows"]
            for code, n in zip(codes, row["cells"], strict=True)
        ]
        return Response(
            {
                "month": month_str(month) if month else None,
                "region": region.code if region else None,
                "tiers": codes,
                "results": results,
                "totals": {**dict(zip(codes, report["totals"], strict=True)), "all": report["total"]},
            }
        )
