"""Properties of earning (hypothesis): whatever the sequence of bill imports, corrections and redemptions, every
bill has earned exactly what the reference rules say for its current amount (never a second earning), and the
ledger adds up (balance = Σ entries = Σ lot remaining, no lot negative)."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import RuleViolation
from customers.models import MonthlyBill
from points import rules, selectors, services
from points.models import PointsEntry
from points.tests.helpers import assert_ledger_sound, customer, import_bills

MONTHS = [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
PEOPLE = [("gotone", dt.date(2021, 3, 1)), ("mzone", dt.date(2016, 3, 2)), ("easyown", dt.date(2024, 1, 31))]

amounts = st.one_of(
    st.sampled_from(["0", "0.99", "1", "99.99", "100"]),
    st.decimals(min_value=0, max_value=2000, places=2, allow_nan=False, allow_infinity=False),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("bill"), st.integers(0, 2), st.sampled_from(MONTHS), amounts),
        st.tuples(st.just("redeem"), st.integers(0, 2), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=14,
)


class Rollback(Exception):
    pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_every_bill_earns_what_the_rules_say_whatever_happened_before(db, sequence):
    on = dt.date(2026, 4, 10)
    try:
        with transaction.atomic():
            people = [customer(brand=b, join_date=j) for b, j in PEOPLE]
            for step in sequence:
                if step[0] == "bill":
                    _, who, month, amount = step
                    import_bills(
                        [{"customer_id": people[who].pk, "month": month, "amount": Decimal(amount), "paid": True}], on
                    )
                else:
                    _, who, points = step
                    try:
                        services.points_redeem(customer=people[who], points=points, reference="P", on=on)
                    except RuleViolation as exc:
                        assert exc.code == "insufficient_points"
            rewards = selectors.reward_rules()
            for person in people:
                for bill in MonthlyBill.objects.filter(customer=person):
                    base = rules.bill_points(bill.amount)
                    reward = rules.bill_reward(
                        rewards, base=base, brand=person.brand, join_date=person.join_date, month=bill.month
                    )
                    posted = dict(
                        PointsEntry.objects.filter(customer=person, bill_month=bill.month)
                        .values_list("kind")
                        .annotate(s=Sum("amount"))
                    )
                    assert (posted.get("earn", 0), posted.get("reward", 0)) == (base, reward), (bill.month, bill.amount)
            assert_ledger_sound()
            raise Rollback
    except Rollback:
        pass
