"""Tiers API: rating runs and their changes (API.md). A customer's tier history and explanation address one customer:
they are in vipclub/api/customers.py (through the scoped lookup)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.errors import NotFoundError
from core.permissions import RoleOrScope
from core.schema import ERROR

from . import selectors, services
from .models import RatingPolicy
from .serializers import RunChangeSerializer, RunSerializer, RunStartSerializer


class RatingRunStartApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "runs:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Start a month's rating run",
        request=RunStartSerializer,
        responses={202: RunSerializer, 200: RunSerializer, 400: ERROR, 409: ERROR},
        description="Start the rating run of a month (202). An applied run exists once per policy and month: "
        "asking again answers 200 with the existing run. 409 `month_not_closed` while M-1 is not closed, "
        "unless force. Dry runs change no customer and may try a draft policy.",
    )
    @idempotent
    def post(self, request):
        serializer = RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        policy = None
        if data.get("policy"):
            policy = RatingPolicy.objects.filter(code=data["policy"]).first()
            if policy is None:
                raise NotFoundError(f"No rating policy {data['policy']!r}.", code="unknown_policy")
        run, created = services.tier_run_start(
            month=data["month"],
            policy=policy,
            dry_run=data["dry_run"],
            force=data["force"],
            draft=data.get("draft"),
            actor=request.user,
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class RatingRunDetailApi(APIView):
    permission_classes = [RoleOrScope]

    @extend_schema(summary="A rating run's status, progress and counts", responses={200: RunSerializer, 404: ERROR})
    def get(self, request, run_id: int):
        return Response(RunSerializer(selectors.run_get(run_id)).data)


@extend_schema(summary="The tier changes of a rating run")
class RatingRunChangesApi(generics.ListAPIView):
    permission_classes = [RoleOrScope]
    serializer_class = RunChangeSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.run_changes(selectors.run_get(self.kwargs["run_id"]))
