"""Tiers API: rating runs and their changes, a customer's tier history and explanation (API.md)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.errors import NotFoundError
from core.permissions import IsStaffOrApiClient
from core.schema import ERROR
from customers import selectors as customer_selectors

from . import selectors, services
from .models import RatingPolicy
from .serializers import RunChangeSerializer, RunSerializer, RunStartSerializer, TierHistorySerializer


class RatingRunStartApi(APIView):
    permission_classes = [IsStaffOrApiClient]
    scopes = {"POST": "runs:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
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
            month=data["month"], policy=policy, dry_run=data["dry_run"], force=data["force"],
            draft=data.get("draft"), actor=request.user,
        )  # fmt: skip
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class RatingRunDetailApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(responses={200: RunSerializer, 404: ERROR})
    def get(self, request, run_id: int):
        return Response(RunSerializer(selectors.run_get(run_id)).data)


class RatingRunChangesApi(generics.ListAPIView):
    permission_classes = [IsStaffOrApiClient]
    serializer_class = RunChangeSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.run_changes(selectors.run_get(self.kwargs["run_id"]))


class TierHistoryApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        responses={200: TierHistorySerializer(many=True), 404: ERROR},
        description="Every change of the customer's tier, newest first, each with the explanation of its run "
        "(score parts, floors considered, validity hold, override).",
    )
    def get(self, request, msisdn: str):
        customer = customer_selectors.customer_get(msisdn=msisdn)
        cache: dict = {}

        def explain(run):
            if run.pk not in cache:
                cache[run.pk] = selectors.tier_explain(customer, run)
            return cache[run.pk]

        changes = selectors.tier_history(customer)
        return Response(TierHistorySerializer(changes, many=True, context={"explain": explain}).data)


class TierExplanationApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        parameters=[OpenApiParameter("run", int, description="a rating run id; default: the latest applied run")],
        responses={200: OpenApiResponse(description="the explanation"), 404: ERROR},
        description="Why this tier, for any customer and run: score parts, each floor, validity hold, override.",
    )
    def get(self, request, msisdn: str):
        customer = customer_selectors.customer_get(msisdn=msisdn)
        run_id = request.query_params.get("run")
        run = selectors.run_get(run_id) if run_id else selectors.latest_applied_run()
        if run is None:
            raise NotFoundError("No rating run has been applied yet.", code="no_run")
        return Response(selectors.tier_explain(customer, run))
