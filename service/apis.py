"""Complaints API (API.md): intake, list, detail, transitions, hand-over, and the complaints report. Role AND branch:
core.permissions.RoleOrScope for the role (API clients by scope: `events:write` to write, `read` to read), the
scoped lookups of managers.selectors for the branch (another branch's complaint or customer is a 404/403)."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent, object_actions
from core.dates import month_str
from core.permissions import PEOPLE, SUPERVISOR, RoleOrScope, is_api_client
from core.schema import ERROR
from managers import selectors as manager_selectors
from retention import selectors as retention_selectors

from . import selectors, services
from .models import ComplaintCategory, ComplaintChannel, ComplaintState
from .serializers import (
    ComplaintHandoverSerializer,
    ComplaintReceiveSerializer,
    ComplaintReportQuerySerializer,
    ComplaintSerializer,
    ComplaintTransitionSerializer,
)


def _receiver(request, customer, username: str):
    """Who received the complaint (its owner): the login named, else the person calling, else (an API client) the
    member's account manager, else the client itself."""
    if username:
        return services.owner_by_username(username)
    if not is_api_client(request.user):
        return request.user
    assignment = manager_selectors.active_assignment(customer)
    return assignment.manager.user if assignment else request.user


# a POST acting on one object of the caller's scope (core.api.object_action), answered with it
_complaint_action = object_actions(
    lambda pk, user: selectors.complaint_get(complaint_id=pk, user=user), ComplaintSerializer
)


@extend_schema(
    summary="List complaints",
    tags=["complaints"],
    parameters=[
        OpenApiParameter("status", str, enum=ComplaintState.values, many=True),
        OpenApiParameter("open", bool),
        OpenApiParameter("category", str, enum=ComplaintCategory.values),
        OpenApiParameter("channel", str, enum=ComplaintChannel.values),
        OpenApiParameter("msisdn", str),
        OpenApiParameter("region", str, description="region code"),
        OpenApiParameter("owner", str, description="login"),
        OpenApiParameter("escalated", bool),
        OpenApiParameter("received_after", str, description="YYYY-MM-DD"),
        OpenApiParameter("received_before", str, description="YYYY-MM-DD"),
    ],
)
class ComplaintListApi(generics.ListAPIView):
    """Complaints with their history, newest first; a supervisor sees her branches', a manager her members' and
    those she owns."""

    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}
    roles = {"GET": PEOPLE, "POST": PEOPLE}
    serializer_class = ComplaintSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.complaint_list(filters=self.request.query_params, user=self.request.user)

    @extend_schema(
        summary="Receive a complaint",
        tags=["complaints"],
        request=ComplaintReceiveSerializer,
        responses={201: ComplaintSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        description="A complaint from the hotline, a hall, the account manager or another system. Whoever received "
        "it owns it (`received_by`). Answers the deadlines: `ack_due_at` (2 h), `reply_due_at` (48 h, clock hours), "
        "`resolve_due_on` (5 working days). A member's account manager gets it on her desk at once. Send an "
        "`Idempotency-Key`: a replay returns the first answer.",
    )
    @idempotent
    def post(self, request):
        serializer = ComplaintReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = manager_selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
        complaint = services.complaint_receive(
            customer=customer,
            channel=data["channel"],
            category=data["category"],
            text=data["text"],
            received_at=data["received_at"],
            received_by=_receiver(request, customer, data["received_by"]),
            actor=request.user,
        )
        complaint = selectors.complaint_get(complaint_id=complaint.pk, user=request.user)
        return Response(
            ComplaintSerializer(complaint, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ComplaintDetailApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}

    @extend_schema(
        summary="A complaint with its history",
        tags=["complaints"],
        responses={200: ComplaintSerializer, 404: ERROR},
    )
    def get(self, request, complaint_id: int):
        complaint = selectors.complaint_get(complaint_id=complaint_id, user=request.user)
        return Response(ComplaintSerializer(complaint, context={"request": request}).data)


class ComplaintTransitionApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}
    roles = {"POST": PEOPLE}

    @extend_schema(
        summary="Move a complaint",
        tags=["complaints"],
        request=ComplaintTransitionSerializer,
        responses={200: ComplaintSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="received → acknowledged → replied → resolved → closed; escalated from any open state (then on "
        "to its next step or resolved); resolved → reopened → resolved. Resolving may grant `compensation` "
        '(`{"points": n}` through the points ledger, or `{"benefit": code, "quantity": n}`: extra uses of a yearly '
        "or monthly benefit of her tier, through the benefits ledger, kept by the grant sync), posted once with the "
        "complaint as reference; reopening reverses it. 409 `invalid_transition` names the allowed moves (`fields.allowed`).",
    )
    @idempotent
    def post(self, request, complaint_id: int):
        return _complaint_action(
            request,
            complaint_id,
            ComplaintTransitionSerializer,
            lambda complaint, data: services.complaint_transition(
                complaint=complaint,
                to=data["to"],
                note=data["note"],
                compensation=dict(data["compensation"]) if data["compensation"] else None,
                billing_refund=data["billing_refund"],
                at=data["occurred_at"] or timezone.now(),
                actor=request.user,
            ),
        )


class ComplaintHandoverApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}
    roles = {"POST": PEOPLE}

    @extend_schema(
        summary="Hand a complaint over",
        tags=["complaints"],
        request=ComplaintHandoverSerializer,
        responses={200: ComplaintSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="首问负责制: the owner hands the complaint on to another login with a note.",
    )
    @idempotent
    def post(self, request, complaint_id: int):
        return _complaint_action(
            request,
            complaint_id,
            ComplaintHandoverSerializer,
            lambda complaint, data: services.complaint_handover(
                complaint=complaint,
                owner=services.owner_by_username(data["owner"]),
                note=data["note"],
                at=data["occurred_at"] or timezone.now(),
                actor=request.user,
            ),
        )


class ComplaintReportApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": (SUPERVISOR,)}

    @extend_schema(
        summary="Complaints per month and branch",
        tags=["reports"],
        parameters=[
            OpenApiParameter("year", int, description="YYYY (default: this year)"),
            OpenApiParameter("region", str, description="region code (default: all your branches)"),
        ],
        responses={
            200: inline_serializer(
                "ComplaintReport",
                {
                    "year": serializers.IntegerField(),
                    "region": serializers.CharField(allow_null=True),
                    "results": serializers.ListField(child=serializers.DictField()),
                    "categories": serializers.DictField(),
                    "tiers": serializers.DictField(),
                    "totals": serializers.DictField(),
                },
            ),
            400: ERROR,
            404: ERROR,
        },
        description="Per month and branch: received, per 1,000 members, the shares acknowledged, replied to and "
        "resolved on time (of those due), repeat complaints within 30 days, escalated; counts per category and tier.",
    )
    def get(self, request):
        query = ComplaintReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        year = query.validated_data.get("year") or timezone.localdate(now).year
        region_ids, region = retention_selectors.report_scope(request.user, query.validated_data["region"])
        report = selectors.complaint_report(year=year, at=now, region_ids=region_ids)
        return Response(
            {
                "year": year,
                "region": region.code if region else None,
                "results": [
                    {**row, "month": month_str(row["month"]), "region": row["region"].code} for row in report["rows"]
                ],
                "categories": {code: n for code, _label, n in report["categories"]},
                "tiers": {(t.code if t else "none"): n for t, n in report["tiers"]},
                "totals": report["totals"],
            }
        )


urlpatterns = [
    path("complaints/", ComplaintListApi.as_view(), name="api-complaints"),
    path("complaints/<int:complaint_id>/", ComplaintDetailApi.as_view(), name="api-complaint"),
    path(
        "complaints/<int:complaint_id>/transition/", ComplaintTransitionApi.as_view(), name="api-complaint-transition"
    ),
    path("complaints/<int:complaint_id>/handover/", ComplaintHandoverApi.as_view(), name="api-complaint-handover"),
    path("reports/complaints/", ComplaintReportApi.as_view(), name="api-report-complaints"),
]
