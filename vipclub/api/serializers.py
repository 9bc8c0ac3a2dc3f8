"""The customer as other systems see it: the customers app's data plus what the other apps add."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.masking import mask_id_number
from core.permissions import sees_pii
from customers.serializers import CustomerListSerializer, CustomerSerializer
from managers import selectors as manager_selectors
from points import selectors as points_selectors
from points.serializers import PointsBriefSerializer
from tiers import selectors as tier_selectors
from tiers.serializers import TierStateSerializer


def _current_tier_code(customer) -> str | None:
    try:
        state = customer.tier_state
    except customer._meta.get_field("tier_state").related_model.DoesNotExist:
        return None
    return state.tier.code if state.tier_id else None


class ClubCustomerListSerializer(CustomerListSerializer):
    tier = serializers.SerializerMethodField()

    class Meta(CustomerListSerializer.Meta):
        fields = [*CustomerListSerializer.Meta.fields, "tier"]

    def get_tier(self, customer) -> str | None:
        return _current_tier_code(customer)


class ClubCustomerSerializer(CustomerSerializer):
    tier = serializers.SerializerMethodField()
    manager = serializers.SerializerMethodField()
    points = serializers.SerializerMethodField()
    credit_stars = serializers.SerializerMethodField()
    credit_stars_as_of = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "tier", "manager", "points", "credit_stars", "credit_stars_as_of"]

    def to_representation(self, customer) -> dict:
        """The ID number in clear only for people and for API clients with the `pii` scope (issue 8)."""
        data = super().to_representation(customer)
        request = self.context.get("request")
        if request is None or not sees_pii(request):
            data["id_number"] = mask_id_number(customer.id_number)
        return data

    @extend_schema_field(PointsBriefSerializer)
    def get_points(self, customer) -> dict:
        return points_selectors.account_brief_of(customer)

    def _credit(self, customer) -> dict:
        if not hasattr(self, "_credit_cache"):
            self._credit_cache = {}
        if customer.pk not in self._credit_cache:
            self._credit_cache[customer.pk] = points_selectors.credit_stars_now_of(customer, timezone.localdate())
        return self._credit_cache[customer.pk]

    def get_credit_stars(self, customer) -> int:
        """0–5 (§7): as computed monthly, or on demand when never computed."""
        return self._credit(customer)["stars"]

    def get_credit_stars_as_of(self, customer) -> dt.date:
        return self._credit(customer)["as_of"]

    def get_manager(self, customer) -> dict | None:
        assignment = manager_selectors.active_assignment_of(customer)
        if assignment is None:
            return None
        m = assignment.manager
        return {"employee_no": m.employee_no, "name": m.name, "since": assignment.started_on}

    def get_tier(self, customer) -> dict | None:
        state = tier_selectors.tier_state_of(customer)
        return TierStateSerializer(state).data if state else None
