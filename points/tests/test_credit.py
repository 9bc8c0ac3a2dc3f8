"""Credit stars (§7) computed set-based for every customer agree with the reference rules, edge by edge and for
random populations (hypothesis), on the database the suite runs on; stored with their date; on demand."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import dates
from customers.models import MonthlyBill, StatusChange
from points import selectors, services
from points.models import CreditPolicy, CreditRating
from points.tests.helpers import customer

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
ON = dt.date(2026, 11, 15)


def make(*, brand="easyown", join_date=dt.date(2026, 6, 1), bills=None, suspended_at=(), status="active"):
    c = customer(
        brand=brand, join_date=join_date, status=status, closure_kind="voluntary" if status == "closed" else ""
    )
    MonthlyBill.objects.bulk_create(
        MonthlyBill(customer=c, month=m, amount=Decimal(str(a))) for m, a in (bills or {}).items()
    )
    StatusChange.objects.bulk_create(
        StatusChange(customer=c, from_status="active", to_status="suspended", kind="arrears", occurred_at=at)
        for at in suspended_at
    )
    return c


def stored(c) -> tuple[int, int, dt.date]:
    r = CreditRating.objects.get(customer=c)
    return r.stars, r.score, r.as_of


def six(amount, before=dt.date(2026, 11, 1)) -> dict:
    return {dates.add_months(before, -i): amount for i in range(1, 7)}


@pytest.mark.parametrize(
    "amount, band",
    [
        ("20", 0),
        ("20.01", 20),
        ("50", 20),
        ("80", 50),
        ("80.01", 100),
        ("120", 100),
        ("200", 150),
        ("200.01", 200),
        ("400", 200),
        ("400.01", 250),
    ],
)
def test_the_sql_average_bands_are_exact(amount, band):
    c = make(bills=six(amount))
    services.credit_ratings_compute(on=ON)
    # easyown 20 + tenure 0 + band
    assert stored(c)[1] == 20 + band


def test_the_sql_counts_what_the_rules_count():
    cases = [
        # tenure edges: the anniversary on the date counts
        make(brand="gotone", join_date=dt.date(2025, 11, 15)),
        make(brand="mzone", join_date=dt.date(2025, 11, 16)),
        make(join_date=dt.date(2021, 11, 15), bills=six("450")),
        make(join_date=dt.date(2022, 11, 15)),
        # fewer than six bills; this month's bill does not count
        make(bills={dt.date(2026, 10, 1): "300", dt.date(2026, 7, 1): "100", dt.date(2026, 11, 1): "9000"}),
        # suspensions: on the date itself late in the evening (local), the first day of the window, just before it
        make(suspended_at=[dt.datetime(2026, 11, 15, 23, 50, tzinfo=SH)]),
        make(suspended_at=[dt.datetime(2025, 11, 16, 0, 5, tzinfo=SH), dt.datetime(2025, 11, 15, 23, 55, tzinfo=SH)]),
        make(suspended_at=[dt.datetime(2026, 11, 16, 0, 1, tzinfo=SH)]),
        make(
            brand="gotone",
            join_date=dt.date(2010, 1, 1),
            bills=six("999"),
            suspended_at=[dt.datetime(2026, 1, 1, 9, tzinfo=SH), dt.datetime(2026, 3, 1, 9, tzinfo=SH)],
        ),
    ]
    job = services.credit_ratings_compute(on=ON, chunk_size=3)
    table = selectors.credit_table()
    for c in cases:
        expected = selectors.credit_score(customer=c, on=ON, table=table)
        assert stored(c) == (expected.stars, expected.score, ON), c.pk
    scores = [stored(c)[1] for c in cases]
    assert scores == [50 + 50, 30, 20 + 300 + 250, 20 + 250, 20 + 150, 20 - 100, 20 - 100, 20, 50 + 300 + 250 - 200]
    assert job.counts["customers"] == len(cases)


def test_closed_customers_are_not_rated_and_the_date_is_stored():
    active = make(brand="gotone", join_date=dt.date(2015, 1, 1), bills=six("500"))
    closed = make(status="closed")
    services.credit_ratings_compute(on=ON)
    assert stored(active) == (5, 50 + 300 + 250, ON)
    assert not CreditRating.objects.filter(customer=closed).exists()
    # next month's computation replaces it, with its own date
    services.credit_ratings_compute(on=dt.date(2026, 12, 1))
    assert stored(active)[2] == dt.date(2026, 12, 1)


def test_on_demand_and_the_table_as_data():
    c = make(brand="gotone", join_date=dt.date(2024, 1, 1), bills=six("100"))
    # on demand without a stored rating: computed, not stored
    assert selectors.credit_stars_now(c, on=ON) == {
        "stars": 3,
        "score": 50 + 150 + 100,
        "as_of": ON,
        "computed": "on_demand",
    }
    assert not CreditRating.objects.exists()
    # staff change the table: GoTone is worth 150
    policy = CreditPolicy.objects.get(code="default")
    policy.brand_points = {**policy.brand_points, "gotone": 150}
    policy.save()
    rating = services.credit_rating_refresh(customer=c, on=ON)
    assert (rating.stars, rating.score) == (4, 400)
    assert selectors.credit_stars_now(c, on=ON)["computed"] == "stored"


# -- random populations -----------------------------------------------------------------------------------------------

amounts = st.one_of(
    st.sampled_from(["0", "20", "20.01", "50", "80", "120", "200", "400", "400.01"]),
    st.decimals(min_value=0, max_value=900, places=2, allow_nan=False, allow_infinity=False),
)
specs = st.fixed_dictionaries(
    {
        "brand": st.sampled_from(["gotone", "mzone", "easyown"]),
        "join_date": st.sampled_from(
            [
                dt.date(2026, 1, 1),
                dt.date(2025, 11, 15),
                dt.date(2025, 11, 16),
                dt.date(2024, 11, 15),
                dt.date(2023, 2, 28),
                dt.date(2022, 11, 16),
                dt.date(2021, 11, 15),
                dt.date(2008, 8, 8),
            ]
        ),
        "bills": st.lists(st.one_of(st.none(), amounts), min_size=9, max_size=9),
        "suspensions": st.lists(
            st.sampled_from(
                [
                    dt.datetime(2026, 11, 15, 23, 59, tzinfo=SH),
                    dt.datetime(2026, 11, 16, 0, 0, tzinfo=SH),
                    dt.datetime(2025, 11, 16, 0, 0, tzinfo=SH),
                    dt.datetime(2025, 11, 15, 23, 59, tzinfo=SH),
                    dt.datetime(2026, 6, 1, 12, tzinfo=SH),
                ]
            ),
            max_size=3,
        ),
    }
)


class Rollback(Exception):
    pass


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(specs, min_size=1, max_size=6))
def test_the_sql_and_the_rules_agree_for_random_customers(population):
    table = selectors.credit_table()
    try:
        with transaction.atomic():
            made = []
            for spec in population:
                # nine months of bills ending with ON's month (which must not count)
                months = [dates.add_months(dt.date(2026, 11, 1), -8 + i) for i in range(9)]
                bills = {m: a for m, a in zip(months, spec["bills"], strict=True) if a is not None}
                made.append(
                    make(
                        brand=spec["brand"], join_date=spec["join_date"], bills=bills, suspended_at=spec["suspensions"]
                    )
                )
            services.credit_ratings_compute(on=ON, chunk_size=2)
            for c in made:
                expected = selectors.credit_score(customer=c, on=ON, table=table)
                assert stored(c) == (expected.stars, expected.score, ON)
            raise Rollback
    except Rollback:
        pass
