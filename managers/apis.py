"""Managers API (API.md): account managers, obligations, contact logs, reassignment."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import idempotent
from core.db import retry_on_conflict
from core.errors import InvalidInput
from core.permissions import PEOPLE, SUPERVISOR, RoleOrScope
from core.schema import ERROR

from . import selectors, services
from .serializers import (
    ContactLogInSerializer,
    ContactLogOutSerializer,
    ManagerSerializer,
    ManagerUpsertSerializer,
    ObligationSerializer,
    ReassignSerializer,
)


class ManagerUpsertApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"PUT": "customers:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Create or update an account manager",
        request=ManagerUpsertSerializer,
        responses={200: ManagerSerializer, 201: ManagerSerializer, 400: ERROR},
    )
    @retry_on_conflict
    def put(self, request, employee_no: str):
        if len(employee_no) > 30:
            raise InvalidInput("An employee number has at most 30 characters.", fields={"employee_no": ["too long"]})
        serializer = ManagerUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        manager, created = services.manager_upsert(
            employee_no=employee_no, **serializer.validated_data, actor=request.user
        )
        return Response(
            ManagerSerializer(manager).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema(summary="List the account managers' obligations")
class ObligationListApi(generics.ListAPIView):
    permission_classes = [RoleOrScope]
    roles = {"GET": PEOPLE}  # supervisors and managers, each on her own customers (core.permissions)
    serializer_class = ObligationSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.obligation_list(filters=self.request.query_params, user=self.request.user)


class ContactLogApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "events:write"}  # the API client's token scope per method (core.permissions)
    roles = {"POST": PEOPLE}  # supervisors and managers, each on her own customers

    @extend_schema(
        summary="Log a contact with a customer",
        request=ContactLogInSerializer,
        responses={201: ContactLogOutSerializer, 400: ERROR, 404: ERROR},
        description="Log a contact (e.g. from the hotline); the answer names the obligations it closed.",
    )
    @idempotent
    def post(self, request):
        serializer = ContactLogInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
        log, closed = services.contact_log(
            customer=customer,
            channel=data["channel"],
            outcome=data["outcome"],
            note=data["note"],
            occurred_at=data.get("occurred_at") or timezone.now(),
            actor=request.user,
            source="api",
        )
        return Response({"id": log.pk, "closed_obligations": closed}, status=status.HTTP_201_CREATED)


class ReassignApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "customers:write"}  # the API client's token scope per method (core.permissions)
    roles = {"POST": (SUPERVISOR,)}  # within her branches: her customers, to a manager of her branches

    @extend_schema(
        summary="Reassign customers to another account manager",
        request=ReassignSerializer,
        responses={
            200: inline_serializer("Reassigned", {"moved": serializers.IntegerField()}),
            400: ERROR,
            404: ERROR,
            409: ERROR,
        },
    )
    @retry_on_conflict
    def post(self, request):
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        manager = selectors.scoped_manager(employee_no=data["manager"], user=request.user)
        ids = selectors.scoped_customer_ids(msisdns=data["msisdns"], user=request.user)
        unknown = sorted(set(data["msisdns"]) - set(ids))  # or not hers: the same answer
        if unknown:
            raise InvalidInput(f"{len(unknown)} unknown msisdns; nothing moved.", fields={"msisdns": unknown[:100]})
        moved = services.customers_reassign(
            customer_ids=list(ids.values()),
            manager=manager,
            on=data.get("on") or timezone.localdate(),
            actor=request.user,
        )
        return Response({"moved": moved})
