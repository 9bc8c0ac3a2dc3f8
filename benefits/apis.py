"""Benefits API (API.md): the catalog. A customer's benefits and flags, redemptions and reversals address one
customer: they are in vipclub/api/customers.py (through the scoped lookup)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import RoleOrScope

from . import selectors
from .serializers import CatalogSerializer


class CatalogApi(APIView):
    permission_classes = [RoleOrScope]

    @extend_schema(
        summary="The benefit catalog",
        responses={200: CatalogSerializer(many=True)},
        description="The benefit catalog with what each tier gets.",
    )
    def get(self, request):
        return Response(selectors.catalog())
