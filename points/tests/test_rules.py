"""The pure rules of DOMAIN §6 (lots, FIFO, rewards) and §7 (every edge of the credit-star table)."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import dates
from points import rules

T = rules.DEFAULT_CREDIT_TABLE
ON = dt.date(2026, 11, 15)


# -- lots and earning -------------------------------------------------------------------------------------------------


def test_points_of_2007_are_valid_until_31_december_2009():
    # given points earned in 2007 / when their expiry is asked / then 31 Dec 2009 (3-year rolling clearance)
    assert rules.expires_on(2007) == dt.date(2009, 12, 31)
    # and on 1 Jan 2010 the oldest live year is 2008
    assert rules.first_live_year(dt.date(2009, 12, 31)) == 2007
    assert rules.first_live_year(dt.date(2010, 1, 1)) == 2008


@pytest.mark.parametrize(
    "amount, points", [("0", 0), ("0.99", 0), ("1.00", 1), ("388.50", 388), ("388.99", 388), ("1000.01", 1000)]
)
def test_a_bill_earns_its_whole_yuan(amount, points):
    assert rules.bill_points(Decimal(amount)) == points


def test_fifo_takes_the_oldest_lots_first_and_splits_the_last():
    # given lots of 2024 (100), 2025 (50), 2026 (80), oldest first
    lots = [("2024", 100), ("2025", 50), ("2026", 80)]
    # when 170 are taken / then 2024 empty, 2025 empty, 20 of 2026
    assert rules.fifo_take(lots, 170) == [("2024", 100), ("2025", 50), ("2026", 20)]
    assert rules.fifo_take(lots, 100) == [("2024", 100)]
    assert rules.fifo_take(lots, 230) == [("2024", 100), ("2025", 50), ("2026", 80)]


def test_fifo_refuses_more_than_the_lots_hold():
    with pytest.raises(rules.InsufficientPoints) as exc:
        rules.fifo_take([("a", 10), ("b", 5)], 16)
    assert (exc.value.available, exc.value.wanted) == (15, 16)


@given(
    st.lists(st.integers(min_value=0, max_value=1000), max_size=6),
    st.integers(min_value=0, max_value=7000),
)
def test_fifo_takes_exactly_what_is_asked_and_never_more_than_a_lot(remaining, wanted):
    lots = list(enumerate(remaining))
    if wanted > sum(remaining):
        with pytest.raises(rules.InsufficientPoints):
            rules.fifo_take(lots, wanted)
        return
    taken = rules.fifo_take(lots, wanted)
    assert sum(n for _, n in taken) == wanted
    assert all(0 < n <= remaining[i] for i, n in taken)
    # only the last lot touched is split: every earlier one is emptied
    assert all(n == remaining[i] for i, n in taken[:-1])


REWARDS = [
    rules.Reward("brand", "gotone", 0, Decimal("10")),
    rules.Reward("tenure", "", 5, Decimal("5")),
    rules.Reward("tenure", "", 10, Decimal("10")),
]


@pytest.mark.parametrize(
    "brand, years, percent",
    [
        ("gotone", 0, "10"),
        ("gotone", 5, "15"),
        ("gotone", 10, "20"),
        ("mzone", 4, "0"),
        ("mzone", 9, "5"),
        ("easyown", 12, "10"),
    ],
)
def test_reward_percent_adds_the_brand_rules_and_the_best_tenure_rule(brand, years, percent):
    assert rules.reward_percent(REWARDS, brand=brand, years=years) == Decimal(percent)


def test_reward_points_are_floored():
    assert rules.reward_points(388, Decimal("10")) == 38
    assert rules.reward_points(9, Decimal("10")) == 0
    assert rules.reward_points(100, Decimal("12.5")) == 12


def test_the_tenure_of_a_bill_is_counted_at_the_end_of_its_month():
    # joined 2015-03-01: 10 full years on 2025-03-01, so the bill of 2025-02 already has them
    assert rules.tenure_years_for_bill(dt.date(2015, 3, 1), dt.date(2025, 2, 1)) == 10
    # joined 2015-03-02: the bill of 2025-02 has 9, that of 2025-03 has 10
    assert rules.tenure_years_for_bill(dt.date(2015, 3, 2), dt.date(2025, 2, 1)) == 9
    assert rules.tenure_years_for_bill(dt.date(2015, 3, 2), dt.date(2025, 3, 1)) == 10


# -- credit stars (§7): every edge ------------------------------------------------------------------------------------


def score(*, brand="easyown", join_date=dt.date(2026, 6, 1), bills=None, suspensions=(), on=ON):
    return rules.credit_score(
        T, brand=brand, join_date=join_date, bills=bills or {}, suspensions=list(suspensions), on=on
    )


@pytest.mark.parametrize("brand, points", [("gotone", 50), ("mzone", 30), ("easyown", 20), ("other", 0)])
def test_brand_points(brand, points):
    assert score(brand=brand).brand == points


@pytest.mark.parametrize(
    "join_date, years, points",
    [
        (dt.date(2026, 1, 1), 0, 0),
        (dt.date(2025, 11, 16), 0, 0),  # the anniversary is tomorrow
        (dt.date(2025, 11, 15), 1, 50),  # the anniversary is the date itself: it counts
        (dt.date(2024, 11, 15), 2, 150),
        (dt.date(2023, 11, 15), 3, 200),
        (dt.date(2022, 11, 15), 4, 250),
        (dt.date(2021, 11, 16), 4, 250),
        (dt.date(2021, 11, 15), 5, 300),
        (dt.date(2001, 1, 1), 25, 300),  # 5 or more
    ],
)
def test_tenure_points_by_full_years(join_date, years, points):
    s = score(join_date=join_date)
    assert (s.tenure_years, s.tenure) == (years, points)


def six(amount) -> dict:
    """Six monthly bills of `amount` before ON's month."""
    return {dates.add_months(dt.date(2026, 11, 1), -i): Decimal(str(amount)) for i in range(1, 7)}


@pytest.mark.parametrize(
    "amount, points",
    [
        ("0", 0),
        ("20", 0),
        ("20.01", 20),
        ("50", 20),
        ("50.01", 50),
        ("80", 50),
        ("80.01", 100),
        ("120", 100),
        ("120.01", 150),
        ("200", 150),
        ("200.01", 200),
        ("400", 200),
        ("400.01", 250),
        ("9999", 250),
    ],
)
def test_average_bands_with_their_exact_boundaries(amount, points):
    assert score(bills=six(amount)).average_points == points


def test_the_average_is_exact_not_floored():
    # 19.99 + 20.02 → average 20.005: above 20, so +20 (a floored average would say 0)
    bills = {dt.date(2026, 10, 1): Decimal("19.99"), dt.date(2026, 9, 1): Decimal("20.02")}
    assert score(bills=bills).average_points == 20
    # 20.00 and 20.00: exactly 20, the ≤ 20 band
    assert score(bills={dt.date(2026, 10, 1): Decimal("20"), dt.date(2026, 9, 1): Decimal("20")}).average_points == 0


def test_the_last_six_bills_before_the_dates_month_count():
    # given 8 bills: two of 1000 long ago, six of 100 the months before, and this month's 5000
    bills = six(100) | {dt.date(2026, 4, 1): Decimal("1000"), dt.date(2026, 3, 1): Decimal("1000")}
    bills[dt.date(2026, 11, 1)] = Decimal("5000")
    s = score(bills=bills)
    # then only the six before November count: average 100 → +100
    assert (len(s.bills), s.average, s.average_points) == (6, Decimal("100.00"), 100)


def test_fewer_than_six_bills_average_over_those_that_exist():
    # given two bills only (of 300 and 100): the average is 200 (not 400 / 6)
    s = score(bills={dt.date(2026, 10, 1): Decimal("300"), dt.date(2026, 7, 1): Decimal("100")})
    assert (len(s.bills), s.average, s.average_points) == (2, Decimal("200.00"), 150)
    # no bill at all: an average of 0
    s = score(bills={})
    assert (s.bills, s.average, s.average_points) == ((), None, 0)


@pytest.mark.parametrize(
    "days, counted",
    [
        ([dt.date(2026, 11, 15)], 1),  # the date itself is included
        ([dt.date(2026, 11, 16)], 0),  # after the date
        ([dt.date(2025, 11, 16)], 1),  # the first day of the 12 months
        ([dt.date(2025, 11, 15)], 0),  # a year before to the day: outside
        ([dt.date(2026, 1, 3), dt.date(2026, 5, 9), dt.date(2026, 11, 15)], 3),
    ],
)
def test_suspensions_in_the_12_months_before_the_date(days, counted):
    s = score(suspensions=days)
    assert (s.suspensions, s.suspension_points) == (counted, -100 * counted)


@pytest.mark.parametrize(
    "total, stars",
    [
        (-200, 0),
        (0, 0),
        (99, 0),
        (100, 1),
        (199, 1),
        (200, 2),
        (299, 2),
        (300, 3),
        (399, 3),
        (400, 4),
        (499, 4),
        (500, 5),
        (800, 5),
    ],
)
def test_stars_by_score(total, stars):
    assert rules.stars_for(T, total) == stars


def test_a_whole_score():
    # given a GoTone customer of 6 years, bills averaging 250, one suspension in the year
    s = score(brand="gotone", join_date=dt.date(2020, 5, 1), bills=six(250), suspensions=[dt.date(2026, 2, 1)])
    # then 50 + 300 + 200 - 100 = 450: four stars
    assert (s.score, s.stars) == (450, 4)
    # and five stars without the suspension
    s = score(brand="gotone", join_date=dt.date(2020, 5, 1), bills=six(250))
    assert (s.score, s.stars) == (550, 5)


def test_the_table_is_data():
    table = rules.CreditTable.from_data(
        brand_points={"gotone": 80},
        tenure_points=[[1, 10]],
        average_bands=[["100", 5]],
        over_top_band_points=7,
        bills_counted=2,
        suspension_penalty=30,
        suspension_months=6,
        star_thresholds=[[90, 1]],
    )
    s = rules.credit_score(
        table,
        brand="gotone",
        join_date=dt.date(2020, 1, 1),
        bills={
            dt.date(2026, 10, 1): Decimal("500"),
            dt.date(2026, 9, 1): Decimal("500"),
            dt.date(2026, 8, 1): Decimal("1"),
        },
        suspensions=[dt.date(2026, 6, 1), dt.date(2026, 5, 15)],
        on=ON,
    )
    # 80 + 10 + 7 (two bills averaging 500 > 100) - 30 (only 1 June is within 6 months) = 67: no star
    assert (s.score, s.suspensions, s.stars) == (67, 1, 0)
