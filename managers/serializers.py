from rest_framework import serializers

from core.fields import BoundedDateField, BoundedDateTimeField, InputSerializer, IntegerField, ListMsisdnField
from customers.serializers import MsisdnField

from .models import AccountManager, Channel, Obligation, Outcome


class ManagerUpsertSerializer(InputSerializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", help_text="login name")
    name = serializers.CharField(max_length=50)
    region = serializers.CharField(max_length=20, help_text="region code")
    capacity = IntegerField(min_value=1, max_value=100_000)
    active = serializers.BooleanField(default=True)
    supervisor = serializers.CharField(
        max_length=150, required=False, allow_blank=True, allow_null=True, help_text="username"
    )


class ManagerSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    region = serializers.CharField(source="region.code")
    supervisor = serializers.CharField(source="supervisor.username", allow_null=True, default=None)

    class Meta:
        model = AccountManager
        fields = ["employee_no", "username", "name", "region", "capacity", "active", "supervisor"]


class ObligationSerializer(serializers.ModelSerializer):
    msisdn = ListMsisdnField(source="customer.msisdn")
    manager = serializers.CharField(source="manager.employee_no")

    class Meta:
        model = Obligation
        fields = ["id", "msisdn", "manager", "kind", "period", "opened_on", "due_on", "status", "done_at"]


class ContactLogInSerializer(InputSerializer):
    msisdn = MsisdnField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    occurred_at = BoundedDateTimeField(past=True, required=False, help_text="default: now; not in the future")


class ContactLogOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    closed_obligations = serializers.ListField(child=serializers.IntegerField())


class ReassignSerializer(InputSerializer):
    msisdns = serializers.ListField(child=MsisdnField(), min_length=1, max_length=10_000)
    manager = serializers.CharField(max_length=30, help_text="employee number of the new manager")
    on = BoundedDateField(required=False, help_text="default: today")
