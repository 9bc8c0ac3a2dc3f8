"""Validation and output of the customers API."""

import re
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from core import bounds
from core.api import parse_json_rows, raise_row_errors
from core.fields import (
    BoundedDateField,
    DecimalStringField,
    InputSerializer,
    ListIdNumberField,
    ListMsisdnField,
    MonthField,
)

from . import rules, selectors
from .models import (
    Brand,
    ClosureKind,
    Customer,
    GroupClass,
    KeyPersonRole,
    ProductType,
    Region,
    SuspensionKind,
    msisdn_validator,
)

MSISDN_HELP = "11 digits starting with 1"


class MsisdnField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 11)
        kwargs.setdefault("help_text", MSISDN_HELP)
        super().__init__(**kwargs)
        self.validators.append(msisdn_validator)


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "province"]
        read_only_fields = ["code"]


class CustomerRowSerializer(InputSerializer):
    msisdn = MsisdnField()
    name = serializers.CharField(max_length=50)
    id_number = serializers.CharField(max_length=18)
    birthday = BoundedDateField(
        past=True, required=False, allow_null=True, help_text="defaults to the ID number's date"
    )
    join_date = BoundedDateField(past=True)
    brand = serializers.ChoiceField(choices=Brand.choices)
    product_type = serializers.ChoiceField(choices=ProductType.choices, required=False, default=ProductType.PRIMARY)
    plan_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    plan_started_on = BoundedDateField(required=False, allow_null=True, help_text="defaults to join_date")
    region = serializers.CharField(max_length=20, help_text="code of an existing region")
    landline = serializers.RegexField(r"^[0-9\-]{0,20}$", required=False, allow_blank=True, default="")

    def validate_id_number(self, value):
        value = value.upper()
        problem = rules.id_number_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        if attrs.get("plan_started_on") and attrs["plan_started_on"] < attrs["join_date"]:
            raise serializers.ValidationError({"plan_started_on": ["A plan cannot start before the join date."]})
        return attrs


class BillRowSerializer(InputSerializer):
    msisdn = MsisdnField()
    month = MonthField(ended=True, help_text="YYYY-MM, a month that has ended")
    amount = DecimalStringField(max_digits=12, decimal_places=2, min_value=0, help_text='yuan, e.g. "388.50"')
    paid = serializers.BooleanField(required=False, default=False)


_MSISDN_RE = re.compile(r"1[0-9]{10}")  # msisdn_validator
_AMOUNT_RE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")  # a subset of what DecimalStringField(12, 2, min 0) takes
_CENT = Decimal("0.01")
_BOOLEANS = {
    **{v: False for v in serializers.BooleanField.FALSE_VALUES if isinstance(v, str)},
    **{v: True for v in serializers.BooleanField.TRUE_VALUES if isinstance(v, str)},
}


def bill_row_validator():
    """A function validating one bill row of strings (a CSV line's non-empty cells) as BillRowSerializer does:
    returns the clean row or raises its ValidationError. The common row (an msisdn, a YYYY-MM month that has
    ended, an amount of plain digits, paid absent or a word BooleanField knows) is checked here without DRF's field
    machinery (a third of a 100k-row import's time, issue 20); any other row goes through the serializer, which
    answers with its own value or messages. tests/test_commands.py compares both on good and bad rows."""
    serializer = BillRowSerializer()
    today = bounds.today()
    months: dict[str, object] = {}

    def month_of(text: str):
        if text not in months:
            try:
                months[text] = bounds.parse_month(text, ended_by=today)
            except bounds.BoundsError:
                months[text] = None
        return months[text]

    def validate(row: dict) -> dict:
        msisdn, month, amount, paid = row.get("msisdn"), row.get("month"), row.get("amount"), row.get("paid", False)
        if (
            type(msisdn) is str
            and type(month) is str
            and type(amount) is str
            and _MSISDN_RE.fullmatch(msisdn)
            and _AMOUNT_RE.fullmatch(amount)
            and (paid is False or (type(paid) is str and paid in _BOOLEANS))
            and (month := month_of(month)) is not None
        ):
            return {
                "msisdn": msisdn,
                "month": month,
                "amount": Decimal(amount).quantize(_CENT),
                "paid": paid if paid is False else _BOOLEANS[paid],
            }
        return dict(serializer.run_validation(row))

    return validate


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


def validate_rows(data, row_serializer, *, extra_checks) -> list[dict]:
    """Validate every row of a bulk body; raise one 400 naming every bad row, or return clean rows.

    `extra_checks(rows_with_index)` adds set-based checks (e.g. unknown references) as {index: {field: [msg]}}.
    """
    rows = parse_json_rows(data, max_rows=settings.VIPCLUB_BULK_MAX_ROWS)
    errors: dict[int, dict] = {}
    clean: list[tuple[int, dict]] = []
    # One serializer validates every row (what is_valid() runs, without a deep copy of its fields per row: that
    # copy was a third of a 100k-row import's validation, issue 20).
    serializer = row_serializer()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors[index] = {"non_field_errors": ["A row must be a JSON object."]}
            continue
        try:
            clean.append((index, dict(serializer.run_validation(row))))
        except serializers.ValidationError as exc:
            errors[index] = exc.detail
    for index, problems in extra_checks(clean).items():
        for field_name, messages in problems.items():
            errors.setdefault(index, {}).setdefault(field_name, []).extend(messages)
    raise_row_errors(errors, len(rows))
    return [row for _, row in clean]


def duplicates(clean, key) -> dict[int, dict]:
    seen: dict = {}
    errors: dict[int, dict] = {}
    for index, row in clean:
        k = key(row)
        if k in seen:
            errors[index] = {"msisdn": [f"Duplicate of row {seen[k]} in this request."]}
        else:
            seen[k] = index
    return errors


class CustomerSerializer(serializers.ModelSerializer):
    """A customer's own data (other apps add tier, manager, points in the composed profile)."""

    region = serializers.CharField(source="region.code")
    region_name = serializers.CharField(source="region.name")
    province = serializers.CharField(source="region.province")

    class Meta:
        model = Customer
        fields = [
            "msisdn",
            "name",
            "id_number",
            "birthday",
            "join_date",
            "brand",
            "product_type",
            "plan_code",
            "plan_started_on",
            "region",
            "region_name",
            "province",
            "landline",
            "status",
            "suspension_kind",
            "closure_kind",
            "status_changed_at",
        ]


class CustomerListSerializer(CustomerSerializer):
    """List rows: msisdn and ID number masked, in clear for people and clients with the `pii` scope (API.md)."""

    msisdn = ListMsisdnField()
    id_number = ListIdNumberField()

    class Meta(CustomerSerializer.Meta):
        fields = [
            "msisdn",
            "name",
            "id_number",
            "brand",
            "product_type",
            "plan_code",
            "region",
            "status",
            "join_date",
        ]


class EventDataSerializers:
    """Validation of each event type's `data` (API.md)."""

    class Suspended(InputSerializer):
        kind = serializers.ChoiceField(choices=SuspensionKind.choices)

    class Empty(InputSerializer):
        pass

    class ClosureRequested(InputSerializer):
        channel = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Closed(InputSerializer):
        kind = serializers.ChoiceField(choices=ClosureKind.choices)

    class PlanChanged(InputSerializer):
        plan_code = serializers.CharField(max_length=20)
        started_on = BoundedDateField()

    class OwnershipTransferred(InputSerializer):
        name = serializers.CharField(max_length=50)
        id_number = serializers.CharField(max_length=18)

        def validate_id_number(self, value):
            value = value.upper()
            problem = rules.id_number_problem(value)
            if problem:
                raise serializers.ValidationError(problem)
            return value

    class NumberChanged(InputSerializer):
        new_msisdn = MsisdnField()

    class KeyPersonSet(InputSerializer):
        group_code = serializers.CharField(max_length=30)
        group_class = serializers.ChoiceField(choices=GroupClass.choices)
        role = serializers.ChoiceField(choices=KeyPersonRole.choices)
        group_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


def customer_rows_check(clean: list[tuple[int, dict]]) -> dict[int, dict]:
    """Checks across validated customer rows: an msisdn twice in one batch, an unknown region."""
    known = selectors.region_codes({row["region"] for _, row in clean})
    errors = duplicates(clean, key=lambda row: row["msisdn"])
    for index, row in clean:
        if row["region"] not in known:
            errors.setdefault(index, {})["region"] = [f"Unknown region {row['region']!r}: PUT it first."]
    return errors


def bill_rows_check(clean: list[tuple[int, dict]], ids: dict[str, int]) -> dict[int, dict]:
    """Checks across validated bill rows: (msisdn, month) twice in one batch, an unknown customer.

    Fills `ids` with msisdn -> customer id of the rows' known customers."""
    ids.update(selectors.customer_ids_by_msisdn({row["msisdn"] for _, row in clean}))
    errors = duplicates(clean, key=lambda row: (row["msisdn"], row["month"]))
    for index, row in clean:
        if row["msisdn"] not in ids:
            errors.setdefault(index, {})["msisdn"] = [f"Unknown customer {row['msisdn']}."]
    return errors
