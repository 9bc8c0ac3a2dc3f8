"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers

from .masking import mask_msisdn
from .permissions import sees_pii


class ListMsisdnField(serializers.CharField):
    """An msisdn in a list row: in clear for people (their scope rules apply) and for API clients with the `pii`
    scope, masked (`138****5678`) for other clients (issue 8). A serializer used without a request (a single
    answer to a write the client sent with that msisdn) shows it."""

    def to_representation(self, value):
        value = super().to_representation(value)
        request = self.context.get("request")
        return value if request is None or sees_pii(request) else mask_msisdn(value)
