"""Webhook endpoints of partner systems (API.md `/webhook-endpoints/`, scope `webhooks:manage`): list, create (the
secret is shown once), read, change, delete, rotate the secret."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.permissions import RoleOrScope
from core.schema import ERROR

from . import selectors, services
from .serializers import EndpointCreatedSerializer, EndpointSerializer
from .ssrf import UnsafeUrl

SCOPES = {method: "webhooks:manage" for method in ("GET", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS")}


def _unsafe(exc: UnsafeUrl) -> InvalidInput:
    return InvalidInput(str(exc), code="unsafe_url", fields={"url": [str(exc)]})


class WebhookEndpointListApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = SCOPES

    @extend_schema(summary="List webhook endpoints", tags=["webhooks"], responses={200: EndpointSerializer(many=True)})
    def get(self, request):
        return Response(EndpointSerializer(selectors.endpoint_list(), many=True).data)

    @extend_schema(
        summary="Register a webhook endpoint",
        tags=["webhooks"],
        request=EndpointSerializer,
        responses={201: EndpointCreatedSerializer, 400: ERROR},
        description="The answer carries the signing secret (`whsec_…`) once. Only https URLs of public addresses "
        "(http and private addresses in development only). The endpoint gets the events recorded from now on.",
    )
    def post(self, request):
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            endpoint = services.endpoint_create(
                url=data["url"],
                types=data.get("types", []),
                description=data.get("description") or "",
                actor=request.user,
                at=timezone.now(),
            )
        except UnsafeUrl as exc:
            raise _unsafe(exc) from exc
        return Response(
            EndpointCreatedSerializer(selectors.endpoint_get(endpoint.pk)).data | {"secret": endpoint.secret},
            status=status.HTTP_201_CREATED,
        )


class WebhookEndpointDetailApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = SCOPES

    @extend_schema(
        summary="Read a webhook endpoint", tags=["webhooks"], responses={200: EndpointSerializer, 404: ERROR}
    )
    def get(self, request, endpoint_id: int):
        return Response(EndpointSerializer(selectors.endpoint_get(endpoint_id)).data)

    @extend_schema(
        summary="Change a webhook endpoint",
        tags=["webhooks"],
        request=EndpointSerializer,
        responses={200: EndpointSerializer, 400: ERROR, 404: ERROR},
        description="`active: true` resumes a paused endpoint.",
    )
    def patch(self, request, endpoint_id: int):
        endpoint = selectors.endpoint_get(endpoint_id)
        serializer = EndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            services.endpoint_update(
                endpoint=endpoint, actor=request.user, at=timezone.now(), **serializer.validated_data
            )
        except UnsafeUrl as exc:
            raise _unsafe(exc) from exc
        return Response(EndpointSerializer(selectors.endpoint_get(endpoint_id)).data)

    @extend_schema(summary="Delete a webhook endpoint", tags=["webhooks"], responses={204: None, 404: ERROR})
    def delete(self, request, endpoint_id: int):
        services.endpoint_delete(endpoint=selectors.endpoint_get(endpoint_id), actor=request.user, at=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = SCOPES

    @extend_schema(
        summary="Rotate a webhook endpoint's secret",
        tags=["webhooks"],
        request=None,
        responses={200: EndpointCreatedSerializer, 404: ERROR},
        description="A new secret, shown once; the old one no longer signs.",
    )
    def post(self, request, endpoint_id: int):
        endpoint = services.endpoint_rotate_secret(
            endpoint=selectors.endpoint_get(endpoint_id), actor=request.user, at=timezone.now()
        )
        return Response(
            EndpointCreatedSerializer(selectors.endpoint_get(endpoint_id)).data | {"secret": endpoint.secret}
        )
