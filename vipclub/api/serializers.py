"""The customer as other systems see it: the customers app's data plus what the other apps add."""

from rest_framework import serializers

from customers.serializers import CustomerListSerializer, CustomerSerializer
from managers import selectors as manager_selectors
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

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "tier", "manager"]

    def get_manager(self, customer) -> dict | None:
        assignment = manager_selectors.active_assignment(customer)
        if assignment is None:
            return None
        m = assignment.manager
        return {"employee_no": m.employee_no, "name": m.name, "since": assignment.started_on}

    def get_tier(self, customer) -> dict | None:
        state = tier_selectors.tier_state(customer)
        return TierStateSerializer(state).data if state else None
