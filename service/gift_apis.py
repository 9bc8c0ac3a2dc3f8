"""Gifts for points API (API.md): the catalog, orders (placed with an Idempotency-Key, the points redeemed FIFO and
the stock taken exactly), their transitions and the voucher extension. Role AND branch: core.permissions.RoleOrScope
(API clients by scope: `points:write` to order and move orders, `read` to read), the scoped lookups of
managers.selectors (another branch's customer or order is a 404)."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent, object_actions
from core.permissions import PEOPLE, SUPERVISOR, RoleOrScope
from core.schema import ERROR
from managers import selectors as manager_selectors

from . import gift_selectors, gift_services
from .gift_serializers import (
    GiftOrderPlacedSerializer,
    GiftOrderPlaceSerializer,
    GiftOrderSerializer,
    GiftOrderTransitionSerializer,
    GiftSerializer,
    GiftVoucherExtendSerializer,
)
from .models import GiftOrderState

KEY = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, description="a replay returns the first answer"
)


# a POST acting on one object of the caller's scope (core.api.object_action), answered with it
_order_action = object_actions(
    lambda pk, user: gift_selectors.gift_order_get(order_id=pk, user=user), GiftOrderSerializer
)


def _key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    return f"{request.user.pk}:{key}" if key else None


@extend_schema(summary="The gift catalog", tags=["gifts"])
class GiftListApi(generics.ListAPIView):
    """The gifts on offer: points price, stock left, the tiers that may order them (empty: every member), how they
    are delivered, and for vouchers the days they are valid."""

    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}
    serializer_class = GiftSerializer
    filter_backends: list = []

    def get_queryset(self):
        return gift_selectors.gift_list()


@extend_schema(
    summary="List gift orders",
    tags=["gifts"],
    parameters=[
        OpenApiParameter("msisdn", str),
        OpenApiParameter("status", str, enum=GiftOrderState.values, many=True),
        OpenApiParameter("gift", str, description="gift code"),
    ],
)
class GiftOrderListApi(generics.ListAPIView):
    """Gift orders with their history, newest first; a supervisor sees her branches', a manager her members'."""

    permission_classes = [RoleOrScope]
    scopes = {"POST": "points:write"}
    roles = {"GET": PEOPLE, "POST": PEOPLE}
    serializer_class = GiftOrderSerializer
    filter_backends: list = []

    def get_queryset(self):
        return gift_selectors.gift_order_list(user=self.request.user, filters=self.request.query_params)

    @extend_schema(
        summary="Order a gift for points",
        tags=["gifts"],
        request=GiftOrderPlaceSerializer,
        parameters=[KEY],
        responses={201: GiftOrderPlacedSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        description="Redeems price × quantity points, oldest lot first, and takes the stock, both or neither (exact "
        "under concurrency). 409 `insufficient_points`, `out_of_stock`, `frozen` (suspended, pending closure, "
        "closed), `not_entitled` (her tier may not order it), `not_offered`. 404 `unknown_customer`, `unknown_gift`. "
        "Send an `Idempotency-Key`: a replay returns the first answer.",
    )
    @idempotent
    def post(self, request):
        serializer = GiftOrderPlaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = manager_selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
        gift = gift_selectors.gift_by_code(data["gift"])
        order = gift_services.gift_order_place(
            customer=customer,
            gift=gift,
            quantity=data["quantity"],
            delivery=data["delivery"],
            at=timezone.now(),
            actor=request.user,
            idempotency_key=_key(request),
        )
        return Response(
            {
                "id": order.pk,
                "points": order.points,
                "balance": order.balance,
                "status": order.state,
                "voucher_valid_until": order.voucher_valid_until,
            },
            status=status.HTTP_201_CREATED,
        )


class GiftOrderDetailApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}

    @extend_schema(summary="A gift order with its history", tags=["gifts"], responses={200: GiftOrderSerializer})
    def get(self, request, order_id: int):
        order = gift_selectors.gift_order_get(order_id=order_id, user=request.user)
        return Response(GiftOrderSerializer(order, context={"request": request}).data)


class GiftOrderTransitionApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "points:write"}
    roles = {"POST": PEOPLE}

    @extend_schema(
        summary="Move a gift order",
        tags=["gifts"],
        request=GiftOrderTransitionSerializer,
        responses={200: GiftOrderSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Pickup: placed → shipped → arrived → collected; mail: placed → mailed → received; cancelled "
        "from placed, shipped or arrived: the points return to the lots they came from with their original expiry, "
        "the stock to the shelf. Arrived: the member gets the `gift arrived` SMS and her manager a notification. "
        "409 `invalid_transition` names the allowed moves (`fields.allowed`).",
    )
    @idempotent
    def post(self, request, order_id: int):
        return _order_action(
            request,
            order_id,
            GiftOrderTransitionSerializer,
            lambda order, data: gift_services.gift_order_transition(
                order=order,
                to=data["to"],
                note=data["note"],
                at=data["occurred_at"] or timezone.now(),
                actor=request.user,
            ),
        )


class GiftVoucherExtendApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "points:write"}
    roles = {"POST": (SUPERVISOR,)}

    @extend_schema(
        summary="Extend a voucher's deadline",
        tags=["gifts"],
        request=GiftVoucherExtendSerializer,
        responses={200: GiftOrderSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Staff move a voucher's redemption deadline later, with a reason (e.g. 7 days after a "
        "complaint). 409 `not_a_voucher`, `order_cancelled`.",
    )
    @idempotent
    def post(self, request, order_id: int):
        return _order_action(
            request,
            order_id,
            GiftVoucherExtendSerializer,
            lambda order, data: gift_services.gift_voucher_extend(
                order=order, until=data["until"], reason=data["reason"], at=timezone.now(), actor=request.user
            ),
        )


urlpatterns = [
    path("gifts/", GiftListApi.as_view(), name="api-gifts"),
    path("gift-orders/", GiftOrderListApi.as_view(), name="api-gift-orders"),
    path("gift-orders/<int:order_id>/", GiftOrderDetailApi.as_view(), name="api-gift-order"),
    path("gift-orders/<int:order_id>/transition/", GiftOrderTransitionApi.as_view(), name="api-gift-order-transition"),
    path("gift-orders/<int:order_id>/voucher/", GiftVoucherExtendApi.as_view(), name="api-gift-order-voucher"),
]
