from django.db.models import Count, Q, QuerySet

from core.errors import NotFoundError

from .models import Delivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Endpoints with their counts of open and parked deliveries."""
    return WebhookEndpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED])),
        parked=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PARKED)),
    ).order_by("id")


def endpoint_get(pk: int) -> WebhookEndpoint:
    endpoint = endpoint_list().filter(pk=pk).first()
    if endpoint is None:
        raise NotFoundError(f"No webhook endpoint {pk}.", code="unknown_endpoint")
    return endpoint
