"""Customers API: regions, customer bulk upsert, billing-month closure (API.md)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api import idempotent
from core.db import retry_on_conflict
from core.errors import InvalidInput
from core.permissions import RoleOrScope
from core.schema import ERROR

from . import rules, services
from .serializers import (
    BulkResultSerializer,
    CustomerRowSerializer,
    RegionSerializer,
    customer_rows_check,
    validate_rows,
)


class RegionUpsertApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"PUT": "customers:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Create or update a region",
        request=RegionSerializer,
        responses={200: RegionSerializer, 201: RegionSerializer, 400: ERROR},
    )
    @retry_on_conflict
    def put(self, request, code: str):
        serializer = RegionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if len(code) > 20:
            raise InvalidInput("A region code has at most 20 characters.", fields={"code": ["too long"]})
        region, created = services.region_upsert(code=code, **serializer.validated_data, actor=request.user)
        return Response(
            RegionSerializer(region).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class CustomersBulkApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "customers:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Create or update customers in bulk",
        request=CustomerRowSerializer(many=True),
        responses={200: BulkResultSerializer, 400: ERROR},
        description="Create or update customers by msisdn. Atomic: every row applies, or none and the 400 "
        "names every bad row by its index in `fields`.",
    )
    @idempotent
    def post(self, request):
        rows = validate_rows(request.data, CustomerRowSerializer, extra_checks=customer_rows_check)
        created, updated = services.customers_bulk_upsert(rows=rows, on=timezone.localdate())
        return Response({"created": created, "updated": updated})


class BillingMonthCloseApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"POST": "bills:write"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Close a billing month",
        request=None,
        responses={
            200: inline_serializer(
                "BillingMonthClosed",
                {"month": serializers.CharField(), "closed_at": serializers.DateTimeField()},
            ),
            400: ERROR,
            409: ERROR,
        },
    )
    @idempotent
    def post(self, request, month: str):
        try:
            month_date = rules.parse_month(month)
        except ValueError as exc:
            raise InvalidInput(str(exc), fields={"month": [str(exc)]}) from exc
        billing_month = services.billing_month_close(month=month_date, at=timezone.now(), actor=request.user)
        return Response({"month": dates.month_str(billing_month.month), "closed_at": billing_month.closed_at})
