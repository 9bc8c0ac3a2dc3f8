"""Points API (API.md): a customer's points, redemptions and transfers with an `Idempotency-Key`."""

from django.utils.translation import gettext as _
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
    CustomerPointsSerializer,
    RedemptionResultSerializer,
    RedemptionSerializer,
    TransferResultSerializer,
    TransferSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Required. A replay with the same key returns the first answer and changes nothing.",
)


def _ledger_key(request) -> str:
    """The request's Idempotency-Key, required on points writes, scoped to the client in the ledger."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise InvalidInput(
            _("Points writes need an Idempotency-Key header."),
            code="idempotency_key_required",
            fields={"Idempotency-Key": [_("required")]},
        )
    return f"{request.user.pk}:{key}"


class CustomerPointsApi(APIView):
    permission_classes = [IsStaffOrApiClient]

    @extend_schema(
        responses={200: CustomerPointsSerializer, 404: ERROR},
        description="Balance, freeze, the lots per year with their expiry (oldest first), consumption points.",
    )
    def get(self, request, msisdn: str):
        customer = customer_selectors.customer_get(msisdn=msisdn)
        return Response(CustomerPointsSerializer(selectors.customer_points(customer)).data)


class PointsRedemptionApi(APIView):
    permission_classes = [IsStaffOrApiClient]
    scopes = {"POST": "points:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        request=RedemptionSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: RedemptionResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Redeem points, oldest lot first. 409 `frozen` (suspended, pending closure, closed) or "
        "`insufficient_points`.",
    )
    @idempotent
    def post(self, request):
        key = _ledger_key(request)
        serializer = RedemptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = customer_selectors.customer_get(msisdn=data["msisdn"])
        result = services.points_redeem(
            customer=customer, points=data["points"], reference=data["reference"], idempotency_key=key,
            actor=request.user,
        )  # fmt: skip
        return Response({"id": result.entry_id, "balance": result.balance}, status=status.HTTP_201_CREATED)


class PointsTransferApi(APIView):
    permission_classes = [IsStaffOrApiClient]
    scopes = {"POST": "points:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        request=TransferSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: TransferResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Transfer points to a customer of the same brand and province; they keep their lots' expiry. "
        "409 `transfer_not_allowed`, `frozen` or `insufficient_points`.",
    )
    @idempotent
    def post(self, request):
        key = _ledger_key(request)
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = customer_selectors.customer_get(msisdn=data["from_msisdn"])
        target = customer_selectors.customer_get(msisdn=data["to_msisdn"])
        result = services.points_transfer(
            source=source, target=target, points=data["points"], reference=data["reference"], idempotency_key=key,
            actor=request.user,
        )  # fmt: skip
        return Response(
            {"id": result.entry_id, "from_balance": result.from_balance, "to_balance": result.to_balance},
            status=status.HTTP_201_CREATED,
        )
