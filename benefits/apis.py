"""Benefits API (API.md): redemptions with an Idempotency-Key, reversals, a customer's benefits and flags."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.errors import InvalidInput
from core.permissions import IsStaffOrApiClient
from core.schema import ERROR
from customers import selectors as customer_selectors

from . import selectors, services
from .serializers import (
    CatalogSerializer,
    CustomerBenefitSerializer,
    CustomerFlagsSerializer,
    RedemptionRequestSerializer,
    RedemptionSerializer,
    ReversalSerializer,
    ReverseRequestSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="unique per redemption (at most 200 characters): a replay returns the first answer and writes nothing",
)


def _bad_input(fields: dict) -> InvalidInput:
    return InvalidInput(
        "Invalid input: " + "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in fields.items()), fields=fields
    )


class RedemptionCreateApi(APIView):
    permission_classes = [IsStaffOrApiClient]
    scopes = {"POST": "benefits:redeem"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        request=RedemptionRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: RedemptionSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Redeem a benefit: 201 `{id, remaining, …}`. 409 `frozen` (suspended, pending closure or "
        "closed: the message says which), `not_entitled` (the tier has no such benefit; emergency reactivation "
        "with arrears older than the previous month), `over_cap` (an amount over the cap or over what is left), "
        "`quota_exhausted`. 400 names every bad field (also a missing Idempotency-Key); 404 unknown msisdn. "
        "A replay with the same Idempotency-Key returns the first answer and writes nothing.",
    )
    @idempotent
    def post(self, request):
        serializer = RedemptionRequestSerializer(data=request.data)
        errors = {} if serializer.is_valid() else dict(serializer.errors)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            errors["Idempotency-Key"] = ["required: every redemption carries a unique Idempotency-Key header"]
        if errors:
            raise _bad_input(errors)
        data = serializer.validated_data
        benefit = selectors.benefit_get(code=data["benefit"])
        customer = customer_selectors.customer_get(msisdn=data["msisdn"])
        redemption = services.benefit_redeem(
            customer=customer, benefit=benefit, reference=data["reference"], quantity=data["quantity"],
            amount=data.get("amount"), on=data.get("redeemed_on"),
            idempotency_key=f"api:{request.user.pk}:{key}", actor=request.user,
        )  # fmt: skip
        return Response(redemption.as_dict(), status=status.HTTP_201_CREATED)


class RedemptionReverseApi(APIView):
    permission_classes = [IsStaffOrApiClient]
    scopes = {"POST": "benefits:redeem"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        request=ReverseRequestSerializer,
        responses={200: ReversalSerializer, 404: ERROR, 409: ERROR},
        description="Give a redemption back, once: 200 `{remaining, …}`; a second reversal is a 409 "
        "`already_reversed`; an unknown redemption a 404. Honours an Idempotency-Key.",
    )
    @idempotent
    def post(self, request, redemption_id: int):
        serializer = ReverseRequestSerializer(data=request.data or {})
        if not serializer.is_valid():
            raise _bad_input(dict(serializer.errors))
        reversal = services.benefit_redemption_reverse(
            redemption_id=redemption_id, reason=serializer.validated_data.get("reason", ""), actor=request.user
        )
        return Response(reversal.as_dict(), status=status.HTTP_200_OK)


class CustomerBenefitsApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        responses={200: CustomerBenefitSerializer(many=True), 404: ERROR},
        description="The customer's benefits now: `[{benefit, period_start, granted, used, remaining, unit}]` "
        "(current year or month; per-event caps; unlimited; flags with `enabled`). Money in yuan as strings.",
    )
    def get(self, request, msisdn: str):
        customer = customer_selectors.customer_get(msisdn=msisdn)
        return Response(selectors.customer_benefits(customer=customer, as_of=timezone.localdate()))


class CustomerBenefitFlagsApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        responses={200: CustomerFlagsSerializer, 404: ERROR},
        description="The customer's yes/no benefits, e.g. for the hotline and the halls: "
        "`{tier, flags: {priority_hotline: true, …}, percent: {late_fee_waiver: 100}}`.",
    )
    def get(self, request, msisdn: str):
        customer = customer_selectors.customer_get(msisdn=msisdn)
        return Response(selectors.customer_flags(customer=customer))


class CatalogApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        responses={200: CatalogSerializer(many=True)},
        description="The benefit catalog with what each tier gets.",
    )
    def get(self, request):
        return Response(selectors.catalog())
