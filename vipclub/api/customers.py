"""The API endpoints that address one customer by msisdn (or a row of hers) and read or write another app: tier
history and explanation, benefits and flags, points, privileges, benefit and points redemptions, transfers.

Which customers a user may address depends on her role, branches and assignments (core.permissions' model, the
data in managers): every customer here is looked up through managers.selectors.scoped_customer, the one scoped
lookup, so an out-of-scope customer answers 404 `unknown_customer` exactly as an unknown one. The tiers, benefits and
points apps sit below managers and cannot use it: these views compose them here, in the project layer (the apps keep
their serializers, selectors and services).
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from benefits import selectors as benefit_selectors
from benefits import services as benefit_services
from benefits.serializers import (
    CustomerBenefitSerializer,
    CustomerFlagsSerializer,
    RedemptionRequestSerializer,
    RedemptionSerializer,
    ReversalSerializer,
    ReverseRequestSerializer,
)
from core.api import idempotent
from core.errors import InvalidInput, NotFoundError
from core.permissions import PEOPLE, RoleOrScope
from core.schema import ERROR
from managers import selectors as manager_selectors
from managers.selectors import scoped_customer
from points import selectors as points_selectors
from points import services as points_services
from points.serializers import (
    CustomerPointsSerializer,
    PrivilegesSerializer,
    RedemptionResultSerializer,
    TransferResultSerializer,
    TransferSerializer,
)
from points.serializers import RedemptionSerializer as PointsRedemptionSerializer
from tiers import selectors as tier_selectors
from tiers.serializers import TierHistorySerializer

REDEMPTION_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="unique per redemption (at most 200 characters): a replay returns the first answer and writes nothing",
)
POINTS_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Required. A replay with the same key returns the first answer and changes nothing.",
)


def bad_input(fields: dict) -> InvalidInput:
    return InvalidInput(
        "Invalid input: " + "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in fields.items()), fields=fields
    )


def ledger_key(request) -> str:
    """The request's Idempotency-Key, required on points writes, scoped to the client in the ledger."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise InvalidInput(
            _("Points writes need an Idempotency-Key header."),
            code="idempotency_key_required",
            fields={"Idempotency-Key": [_("required")]},
        )
    return f"{request.user.pk}:{key}"


# --- reads: club admins, API clients (read), supervisors and managers on their own customers ---------------------


class TierHistoryApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="A customer's tier history",
        responses={200: TierHistorySerializer(many=True), 404: ERROR},
        description="Every change of the customer's tier, newest first, each with the explanation of its run "
        "(score parts, floors considered, validity hold, override).",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        cache: dict = {}

        def explain(run):
            if run.pk not in cache:
                cache[run.pk] = tier_selectors.tier_explain(customer, run)
            return cache[run.pk]

        changes = tier_selectors.tier_history(customer)
        return Response(TierHistorySerializer(changes, many=True, context={"explain": explain}).data)


class TierExplanationApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="Why a customer has her tier",
        parameters=[OpenApiParameter("run", int, description="a rating run id; default: the latest applied run")],
        responses={200: OpenApiResponse(description="the explanation"), 404: ERROR},
        description="Why this tier, for any customer and run: score parts, each floor, validity hold, override.",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        run_id = request.query_params.get("run")
        run = tier_selectors.run_get(run_id) if run_id else tier_selectors.latest_applied_run()
        if run is None:
            raise NotFoundError("No rating run has been applied yet.", code="no_run")
        return Response(tier_selectors.tier_explain(customer, run))


class CustomerBenefitsApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="A customer's benefits and what is left",
        responses={200: CustomerBenefitSerializer(many=True), 404: ERROR},
        description="The customer's benefits now: `[{benefit, period_start, granted, used, remaining, unit}]` "
        "(current year or month; per-event caps; unlimited; flags with `enabled`). Money in yuan as strings.",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        return Response(benefit_selectors.customer_benefits(customer=customer, on=timezone.localdate()))


class CustomerBenefitFlagsApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="A customer's yes/no benefits",
        responses={200: CustomerFlagsSerializer, 404: ERROR},
        description="The customer's yes/no benefits, e.g. for the hotline and the halls: "
        "`{tier, flags: {priority_hotline: true, …}, percent: {late_fee_waiver: 100}}`.",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        return Response(benefit_selectors.customer_flags(customer=customer))


class CustomerPointsApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="A customer's points and lots",
        responses={200: CustomerPointsSerializer, 404: ERROR},
        description="Balance, freeze, the lots per year with their expiry (oldest first), consumption points.",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        return Response(CustomerPointsSerializer(points_selectors.customer_points(customer, timezone.localdate())).data)


class CustomerPrivilegesApi(APIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="A customer's privileges (for BOSS and the hotline)",
        responses={200: PrivilegesSerializer, 404: ERROR},
        description="What the club tells other systems to apply for her now (DOMAIN §10): holiday no-suspension and "
        "the priority hotline and hall for members; the delayed suspension and credit reactivation hours of her "
        "stored credit stars (five 72 h, four 48 h, three 24 h) for members; nothing for a customer who is not a "
        "member. Every change of this answer is a `privileges.changed` event (webhooks, `/feed/`) with the same "
        "fields.",
    )
    def get(self, request, msisdn: str):
        customer = scoped_customer(msisdn=msisdn, user=request.user)
        return Response(PrivilegesSerializer(points_selectors.customer_privileges(customer)).data)


# --- writes: club admins and API clients with the scope (the lookup is the same) ---------------------------------


class BenefitRedemptionApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "benefits:redeem"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Redeem a benefit",
        request=RedemptionRequestSerializer,
        parameters=[REDEMPTION_KEY],
        responses={201: RedemptionSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Redeem a benefit: 201 `{id, remaining, …}`. 409 `frozen` (suspended, pending closure or "
        "closed: the message says which), `not_entitled` (the tier has no such benefit; emergency reactivation "
        "with arrears older than the previous month), `credit_reactivation_applies` (an emergency reactivation when "
        "the credit reactivation of her credit stars is longer: they do not stack), `over_cap` (an amount over the cap or over what is left), "
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
            raise bad_input(errors)
        data = serializer.validated_data
        benefit = benefit_selectors.benefit_get(code=data["benefit"])
        customer = scoped_customer(msisdn=data["msisdn"], user=request.user)
        at = timezone.now()
        on = data.get("redeemed_on") or timezone.localdate(at)
        # an emergency reactivation does not stack with the credit reactivation of her credit stars (DOMAIN §5)
        credit_hours = (
            points_selectors.credit_reactivation_hours(customer=customer, on=on) if benefit.unit == "hours" else 0
        )
        redemption = benefit_services.benefit_redeem(
            customer=customer,
            benefit=benefit,
            reference=data["reference"],
            quantity=data["quantity"],
            amount=data.get("amount"),
            on=on,
            at=at,
            idempotency_key=f"api:{request.user.pk}:{key}",
            credit_reactivation_hours=credit_hours,
            actor=request.user,
        )
        return Response(redemption.as_dict(), status=status.HTTP_201_CREATED)


class BenefitRedemptionReverseApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "benefits:redeem"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Reverse a benefit redemption",
        request=ReverseRequestSerializer,
        responses={200: ReversalSerializer, 404: ERROR, 409: ERROR},
        description="Give a redemption back, once: 200 `{remaining, …}`; a second reversal is a 409 "
        "`already_reversed`; an unknown redemption a 404. Honours an Idempotency-Key.",
    )
    @idempotent
    def post(self, request, redemption_id: int):
        serializer = ReverseRequestSerializer(data=request.data or {})
        if not serializer.is_valid():
            raise bad_input(dict(serializer.errors))
        redemption = benefit_selectors.redemptions().filter(pk=redemption_id)
        if not manager_selectors.scope_rows(redemption, request.user).exists():  # unknown, or not hers
            raise NotFoundError(f"No benefit redemption {redemption_id}.", code="unknown_redemption")
        reversal = benefit_services.benefit_redemption_reverse(
            redemption_id=redemption_id,
            reason=serializer.validated_data.get("reason", ""),
            at=timezone.now(),
            actor=request.user,
        )
        return Response(reversal.as_dict(), status=status.HTTP_200_OK)


class PointsRedemptionApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "points:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Redeem points",
        request=PointsRedemptionSerializer,
        parameters=[POINTS_KEY],
        responses={201: RedemptionResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Redeem points, oldest lot first. 409 `frozen` (suspended, pending closure, closed) or "
        "`insufficient_points`.",
    )
    @idempotent
    def post(self, request):
        key = ledger_key(request)
        serializer = PointsRedemptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = scoped_customer(msisdn=data["msisdn"], user=request.user)
        result = points_services.points_redeem(
            customer=customer,
            points=data["points"],
            reference=data["reference"],
            idempotency_key=key,
            on=timezone.localdate(),
            actor=request.user,
        )
        return Response({"id": result.entry_id, "balance": result.balance}, status=status.HTTP_201_CREATED)


class PointsTransferApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "points:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Transfer points between customers",
        request=TransferSerializer,
        parameters=[POINTS_KEY],
        responses={201: TransferResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
        description="Transfer points to a customer of the same brand and province; they keep their lots' expiry. "
        "409 `transfer_not_allowed`, `frozen` or `insufficient_points`.",
    )
    @idempotent
    def post(self, request):
        key = ledger_key(request)
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = scoped_customer(msisdn=data["from_msisdn"], user=request.user)
        target = scoped_customer(msisdn=data["to_msisdn"], user=request.user)
        result = points_services.points_transfer(
            source=source,
            target=target,
            points=data["points"],
            reference=data["reference"],
            idempotency_key=key,
            on=timezone.localdate(),
            actor=request.user,
        )
        return Response(
            {"id": result.entry_id, "from_balance": result.from_balance, "to_balance": result.to_balance},
            status=status.HTTP_201_CREATED,
        )
