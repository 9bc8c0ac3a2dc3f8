"""The customer as other systems see it: the customers app's data plus what the other apps add."""

import datetime as dt

from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import NotFoundError
from core.masking import mask_id_number
from core.permissions import sees_pii
from core.sql import fetchone_prepared
from customers.serializers import CustomerListSerializer, CustomerSerializer
from managers import selectors as manager_selectors
from points import selectors as points_selectors
from points.rules import FROZEN_STATUSES
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


# -- the customer read's fast path (issue 20) ---------------------------------------------------------------------------
# GET /customers/{msisdn}/ is the API's hottest read. ClubCustomerSerializer over scoped_customer_profile() costs a
# wide query (every column of eight joined tables) and eight model instances per request; the profile needs 30
# values. club_customer_profile() reads exactly those with the same scoped lookup (managers.selectors) in one
# narrow query and writes the same JSON as the serializer (vipclub/tests/test_api_fast_read.py compares both over
# every kind of customer). A customer whose credit stars were never computed is left to the serializer, which
# computes them on demand (API.md).

_ACTIVE = manager_selectors.ACTIVE_ASSIGNMENT
_PROFILE_VALUES = {
    **{name: name for name in CustomerSerializer.Meta.fields if name not in ("region", "region_name", "province")},
    "region": "region__code",
    "region_name": "region__name",
    "province": "region__province",
    "tier_id": "tier_state__tier_id",
    "tier_code": "tier_state__tier__code",
    "tier_name_zh": "tier_state__tier__name_zh",
    "tier_name_en": "tier_state__tier__name_en",
    "tier_valid_until": "tier_state__valid_until",
    "tier_source": "tier_state__source",
    "tier_since": "tier_state__since",
    "manager_no": f"{_ACTIVE}__manager__employee_no",
    "manager_name": f"{_ACTIVE}__manager__name",
    "manager_since": f"{_ACTIVE}__started_on",
    "account": "points_account__customer_id",
    "balance": "points_account__balance",
    "account_frozen": "points_account__frozen",
    "rating": "credit_rating__customer_id",
    "stars": "credit_rating__stars",
    "stars_as_of": "credit_rating__as_of",
}
_DATETIME = serializers.DateTimeField()


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


# For readers who may address every customer (club admins, API clients: the partners' hot path) on PostgreSQL, the
# same values come from one fixed SQL statement instead: no queryset to build and compile per request, and cheap to
# plan. The ORM's form of it (eight joined tables, ORDER BY id LIMIT 1) cost PostgreSQL 10–12 ms of planning for
# 0.2 ms of execution on the bench database; here tier and manager are LATERAL subqueries fenced by OFFSET 0 (each
# planned alone, not pulled into the join search) and msisdn is unique (no ORDER BY): 0.7 ms of planning.
_CUSTOMER_COLUMNS = [name for name in _PROFILE_VALUES if _PROFILE_VALUES[name] == name]
_PROFILE_SQL = f"""
SELECT {", ".join(f"c.{name}" for name in _CUSTOMER_COLUMNS)},
       r.code, r.name, r.province,
       t.tier_id, t.code, t.name_zh, t.name_en, t.valid_until, t.source, t.since,
       a.employee_no, a.name, a.started_on,
       p.customer_id, p.balance, p.frozen,
       cr.customer_id, cr.stars, cr.as_of
FROM customers_customer c
JOIN customers_region r ON r.id = c.region_id
LEFT JOIN LATERAL (
    SELECT ct.tier_id, tt.code, tt.name_zh, tt.name_en, ct.valid_until, ct.source, ct.since
    FROM tiers_customertier ct LEFT JOIN tiers_tier tt ON tt.id = ct.tier_id
    WHERE ct.customer_id = c.id OFFSET 0
) t ON true
LEFT JOIN LATERAL (
    SELECT m.employee_no, m.name, aa.started_on
    FROM managers_assignment aa JOIN managers_accountmanager m ON m.id = aa.manager_id
    WHERE aa.customer_id = c.id AND aa.ended_on IS NULL OFFSET 0
) a ON true
LEFT JOIN points_pointsaccount p ON p.customer_id = c.id
LEFT JOIN points_creditrating cr ON cr.customer_id = c.id
WHERE c.msisdn = %s
"""
_PROFILE_SQL_NAMES = [
    *_CUSTOMER_COLUMNS,
    *("region", "region_name", "province"),
    *("tier_id", "tier_code", "tier_name_zh", "tier_name_en", "tier_valid_until", "tier_source", "tier_since"),
    *("manager_no", "manager_name", "manager_since"),
    *("account", "balance", "account_frozen"),
    *("rating", "stars", "stars_as_of"),
]
assert sorted(_PROFILE_SQL_NAMES) == sorted(_PROFILE_VALUES)


def _profile_row_sql(msisdn: str) -> dict:
    """The values of _PROFILE_VALUES for the customer with this msisdn, by _PROFILE_SQL (no scope: for readers who
    may address every customer); a 404 `unknown_customer` as scoped_customer()."""
    row = fetchone_prepared(_PROFILE_SQL, [msisdn])  # prepared once per connection (core.sql)
    if row is None:
        raise NotFoundError(f"No customer with msisdn {msisdn}.", code="unknown_customer")
    return dict(zip(_PROFILE_SQL_NAMES, row, strict=True))


def club_customer_profile(*, msisdn: str, request) -> dict | None:
    """What ClubCustomerSerializer shows of the customer with this msisdn whom request.user may address (a 404
    `unknown_customer` otherwise, as scoped_customer), or None when her credit stars were never stored (the
    serializer computes them)."""
    if connection.vendor == "postgresql" and manager_selectors.sees_all_customers(request.user):
        row = _profile_row_sql(msisdn)
    else:  # a supervisor's branches, a manager's own customers: the scoped lookup filters
        row = manager_selectors.scoped_customer_values(msisdn=msisdn, user=request.user, values=_PROFILE_VALUES)
    if row["rating"] is None:
        return None
    data = {
        "msisdn": row["msisdn"],
        "name": row["name"],
        "id_number": row["id_number"] if sees_pii(request) else mask_id_number(row["id_number"]),
        "birthday": _day(row["birthday"]),
        "join_date": _day(row["join_date"]),
        "brand": row["brand"],
        "product_type": row["product_type"],
        "plan_code": row["plan_code"],
        "plan_started_on": _day(row["plan_started_on"]),
        "region": row["region"],
        "region_name": row["region_name"],
        "province": row["province"],
        "landline": row["landline"],
        "status": row["status"],
        "suspension_kind": row["suspension_kind"],
        "closure_kind": row["closure_kind"],
        "status_changed_at": None
        if row["status_changed_at"] is None
        else _DATETIME.to_representation(row["status_changed_at"]),
        "tier": None
        if row["tier_id"] is None or row["tier_code"] is None
        else {
            "code": row["tier_code"],
            "name_zh": row["tier_name_zh"],
            "name_en": row["tier_name_en"],
            "valid_until": _day(row["tier_valid_until"]),
            "source": row["tier_source"],
            "since": _day(row["tier_since"]),
        },
        "manager": None
        if row["manager_no"] is None
        else {"employee_no": row["manager_no"], "name": row["manager_name"], "since": _day(row["manager_since"])},
        "points": {
            "balance": row["balance"] if row["account"] is not None else 0,
            "frozen": bool(row["account"] is not None and row["account_frozen"]) or row["status"] in FROZEN_STATUSES,
        },
        "credit_stars": row["stars"],
        "credit_stars_as_of": _day(row["stars_as_of"]),
    }
    return data
