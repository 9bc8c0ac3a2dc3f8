"""Activities API (API.md): the activities a caller may see, sign-ups and their cancellation. Role AND branch:
core.permissions.RoleOrScope for the role (API clients by scope: `read` to read, `events:write` to sign up), the
scoped lookups for the branch (managers.selectors.scoped_customer: another branch's member is a 404 as for an
msisdn nobody has; an activity of another branch, or a draft, is a 404 `unknown_activity`)."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.permissions import PEOPLE, RoleOrScope
from core.schema import ERROR
from managers import selectors as manager_selectors

from . import selectors, services
from .models import SignupChannel
from .serializers import (
    ActivitySerializer,
    SignupAnswerSerializer,
    SignupCancelAnswerSerializer,
    SignupRequestSerializer,
)


def _answer(result: services.SignupResult) -> dict:
    body = {"status": result.signup.status}
    if result.position is not None:
        body["position"] = result.position
    return body


@extend_schema(
    summary="List activities",
    tags=["activities"],
    parameters=[
        OpenApiParameter("open", bool, description="only those whose sign-up window is open now"),
        OpenApiParameter("region", str, description="a branch's (and the club-wide) activities"),
    ],
)
class ActivityListApi(generics.ListAPIView):
    """Club activities (会员活动), the next first: capacity, seats confirmed, waitlisted, the sign-up window, cost
    per head and the invited tiers with their seat quotas. A manager sees her branch's and the club-wide ones, a
    supervisor her branches'."""

    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}
    serializer_class = ActivitySerializer
    filter_backends: list = []

    def get_queryset(self):
        params = self.request.query_params
        filters = {"region": params.get("region", "")[:20]}
        if params.get("open") in ("true", "1"):
            filters["open_at"] = timezone.now()
        return selectors.activity_list(user=self.request.user, filters=filters)


class SignupCreateApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}
    roles = {"POST": PEOPLE}

    @extend_schema(
        summary="Sign a member up for an activity",
        tags=["activities"],
        request=SignupRequestSerializer,
        responses={201: SignupAnswerSerializer, 200: SignupAnswerSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="A seat if the capacity and her tier's quota have one (`confirmed`), else the waitlist "
        "(`waitlisted`, `position` 1 = next). Exact under concurrency. 409 `signup_closed` outside the sign-up "
        "window (or the activity cancelled: `activity_cancelled`), `not_invited` when her tier or branch is not "
        "invited. Already signed up: 200 with her sign-up. Send an `Idempotency-Key`: a replay returns the first "
        "answer.",
    )
    @idempotent
    def post(self, request, activity_id: int):
        activity = selectors.activity_get(activity_id=activity_id, user=request.user)
        serializer = SignupRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = manager_selectors.scoped_customer(msisdn=serializer.validated_data["msisdn"], user=request.user)
        result = services.activity_signup(
            activity=activity, customer=customer, at=timezone.now(), actor=request.user, channel=SignupChannel.API
        )
        return Response(_answer(result), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class SignupCancelApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"DELETE": "events:write"}
    roles = {"DELETE": PEOPLE}

    @extend_schema(
        summary="Cancel a member's sign-up",
        tags=["activities"],
        responses={200: SignupCancelAnswerSerializer, 404: ERROR, 409: ERROR},
        description="Until the activity starts. A confirmed seat goes at once to the first waiting member whose "
        "tier still has room (`promoted`). 404 `not_signed_up` when she has no sign-up; 409 `activity_started`.",
    )
    @idempotent
    def delete(self, request, activity_id: int, msisdn: str):
        activity = selectors.activity_get(activity_id=activity_id, user=request.user)
        customer = manager_selectors.scoped_customer(msisdn=msisdn, user=request.user)
        result = services.signup_cancel(activity=activity, customer=customer, at=timezone.now(), actor=request.user)
        return Response({"status": result.signup.status, "promoted": len(result.promoted)})


urlpatterns = [
    path("activities/", ActivityListApi.as_view(), name="api-activities"),
    path("activities/<int:activity_id>/signups/", SignupCreateApi.as_view(), name="api-activity-signups"),
    path(
        "activities/<int:activity_id>/signups/<str:msisdn>/",
        SignupCancelApi.as_view(),
        name="api-activity-signup",
    ),
]
