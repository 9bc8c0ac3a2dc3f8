"""Earning (DOMAIN §6): a bill earns floor(amount) into its year's lot, a correction posts only the difference
(a negative one takes points back oldest lot first), rewards are data, consumption figures; the set-based
backfill agrees with the import path."""

import datetime as dt
from decimal import Decimal

import pytest

from points import selectors, services
from points.models import EntryKind, PointsAccount, PointsEntry, RewardRule
from points.tests.helpers import balance, bill, bills, customer, lots, raw_bill

pytestmark = pytest.mark.django_db


def entries(c) -> list[tuple]:
    return list(
        PointsEntry.objects.filter(customer=c).order_by("id").values_list("kind", "amount", "bill_month", "reference")
    )


def test_domain_example_points_of_2007_are_valid_until_31_december_2009(no_rewards):
    # given a customer whose bills of 2007 are imported in 2007 and 2008
    c = customer()
    bill(c, dt.date(2007, 3, 1), "388.50", on=dt.date(2007, 4, 2))
    bill(c, dt.date(2007, 12, 1), "100.00", on=dt.date(2008, 1, 3))
    # then one lot of 2007 holds 488 points until 31 Dec 2009
    assert lots(c) == [(2007, "earn", 488, 488, dt.date(2009, 12, 31))]
    # when the year-end expiry runs on 31 Dec 2008: nothing of 2007 expires yet
    services.points_expire(on=dt.date(2008, 12, 31))
    assert balance(c) == 488
    # and on 31 Dec 2009 they expire
    services.points_expire(on=dt.date(2009, 12, 31))
    assert balance(c) == 0
    assert lots(c) == [(2007, "earn", 488, 0, dt.date(2009, 12, 31))]
    assert entries(c)[-1][:2] == ("expire", -488)


def test_each_year_has_its_lot(no_rewards):
    c = customer()
    bills(
        c,
        {dt.date(2025, 11, 1): "100", dt.date(2025, 12, 1): "50.5", dt.date(2026, 1, 1): "70.99"},
        on=dt.date(2026, 2, 3),
    )
    assert lots(c) == [
        (2025, "earn", 150, 150, dt.date(2027, 12, 31)),
        (2026, "earn", 70, 70, dt.date(2028, 12, 31)),
    ]
    assert balance(c) == 220
    assert PointsAccount.objects.get(customer=c).total_consumption == 220


def test_the_same_bill_again_earns_nothing(no_rewards):
    # given a bill imported twice with the same amount (a resend)
    c = customer()
    bill(c, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 2))
    bill(c, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 3))
    # and the set-based backfill over everything
    services.points_earn_all(on=dt.date(2026, 6, 4))
    # then one earning only
    assert balance(c) == 300
    assert entries(c) == [("earn", 300, dt.date(2026, 5, 1), "bill")]


def test_a_correction_up_posts_the_difference(no_rewards):
    c = customer()
    bill(c, dt.date(2026, 5, 1), "300.70", on=dt.date(2026, 6, 2))
    bill(c, dt.date(2026, 5, 1), "310.20", on=dt.date(2026, 6, 9))
    assert balance(c) == 310
    assert entries(c) == [
        ("earn", 300, dt.date(2026, 5, 1), "bill"),
        ("earn", 10, dt.date(2026, 5, 1), "bill correction"),
    ]
    assert lots(c) == [(2026, "earn", 310, 310, dt.date(2028, 12, 31))]


def test_a_correction_down_takes_points_back_oldest_lot_first(no_rewards):
    # given points of 2025 (100) and 2026 (300)
    c = customer()
    bill(c, dt.date(2025, 12, 1), "100", on=dt.date(2026, 1, 2))
    bill(c, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 2))
    # when the May bill is corrected down to 180 (−120)
    bill(c, dt.date(2026, 5, 1), "180", on=dt.date(2026, 6, 9))
    # then the 120 come out of the oldest lot first: all of 2025, then 20 of 2026
    assert balance(c) == 280
    assert lots(c) == [(2025, "earn", 100, 0, dt.date(2027, 12, 31)), (2026, "earn", 300, 280, dt.date(2028, 12, 31))]
    assert entries(c)[-1] == ("earn", -120, dt.date(2026, 5, 1), "bill correction")
    # and the consumption figures follow the corrected bill
    assert selectors.consumption(c, dt.date(2026, 6, 9))["months"] == [{"month": dt.date(2026, 5, 1), "points": 180}]
    assert PointsAccount.objects.get(customer=c).total_consumption == 280


def test_a_correction_below_what_was_spent_is_written_off(no_rewards):
    # given 300 points earned, 250 redeemed
    c = customer()
    bill(c, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 2))
    services.points_redeem(customer=c, points=250, reference="gift", on=dt.date(2026, 6, 3))
    # when the bill is corrected to 100 (−200, but only 50 are left)
    bill(c, dt.date(2026, 5, 1), "100", on=dt.date(2026, 6, 9))
    # then the 50 left are taken back and the 150 already spent are written off (an adjust entry)
    assert balance(c) == 0
    assert entries(c)[-2:] == [
        ("earn", -200, dt.date(2026, 5, 1), "bill correction"),
        ("adjust", 150, None, "correction exceeds the points left: written off"),
    ]
    # and a later correction up earns only against the corrected amount
    bill(c, dt.date(2026, 5, 1), "120", on=dt.date(2026, 6, 10))
    assert balance(c) == 20


def test_rewards_are_data(db):
    # given the seeded rules: GoTone +10 %, tenure ≥ 5 years +5 %, ≥ 10 years +10 %
    gotone_veteran = customer(brand="gotone", join_date=dt.date(2010, 1, 1))
    mzone_new = customer(brand="mzone", join_date=dt.date(2025, 1, 1))
    bill(gotone_veteran, dt.date(2026, 5, 1), "388.50", on=dt.date(2026, 6, 2))
    bill(mzone_new, dt.date(2026, 5, 1), "388.50", on=dt.date(2026, 6, 2))
    # then the veteran earns 388 + floor(388 × 20 %) = 388 + 77, the newcomer 388 only
    assert balance(gotone_veteran) == 465
    assert balance(mzone_new) == 388
    assert lots(gotone_veteran) == [
        (2026, "earn", 388, 388, dt.date(2028, 12, 31)),
        (2026, "reward", 77, 77, dt.date(2028, 12, 31)),
    ]
    # when staff raise the brand reward to 30 % and the bill is corrected
    RewardRule.objects.filter(code="gotone_brand").update(percent=Decimal("30"))
    bill(gotone_veteran, dt.date(2026, 5, 1), "400", on=dt.date(2026, 6, 9))
    # then earn and reward both post their difference: 400 + floor(400 × 40 %) = 560
    assert balance(gotone_veteran) == 560
    assert [e[:2] for e in entries(gotone_veteran)] == [("earn", 388), ("reward", 77), ("earn", 12), ("reward", 83)]
    # and the consumption figures count bills only, not rewards
    assert PointsAccount.objects.get(customer=gotone_veteran).total_consumption == 400


def test_the_tenure_reward_starts_with_the_bill_of_the_anniversary_month(db):
    RewardRule.objects.filter(kind="brand").update(active=False)
    c = customer(brand="easyown", join_date=dt.date(2021, 3, 2))
    # the bill of 2026-02 has 4 full years (5 only on 2026-03-02); that of 2026-03 has 5 at its month's end
    bills(c, {dt.date(2026, 2, 1): "100", dt.date(2026, 3, 1): "100"}, on=dt.date(2026, 4, 2))
    assert [e[:3] for e in entries(c)] == [
        ("earn", 100, dt.date(2026, 2, 1)),
        ("earn", 100, dt.date(2026, 3, 1)),
        ("reward", 5, dt.date(2026, 3, 1)),
    ]


def test_closed_customers_and_expired_years_earn_nothing(no_rewards):
    closed = customer(status="closed", closure_kind="voluntary")
    bill(closed, dt.date(2026, 5, 1), "300", on=dt.date(2026, 6, 2))
    assert balance(closed) == 0
    # a bill of 2023 imported in 2026: the points of 2023 expired on 31 Dec 2025
    late = customer()
    bill(late, dt.date(2023, 12, 1), "300", on=dt.date(2026, 1, 5))
    bill(late, dt.date(2024, 1, 1), "200", on=dt.date(2026, 1, 5))
    assert lots(late) == [(2024, "earn", 200, 200, dt.date(2026, 12, 31))]


def test_the_backfill_agrees_with_the_import_path(db):
    # given the same bills imported (earned at once) for one customer, loaded raw for another
    months = {dt.date(2025, 10, 1): "120.50", dt.date(2025, 12, 1): "0.99", dt.date(2026, 3, 1): "1888.88"}
    imported = customer(brand="gotone", join_date=dt.date(2016, 2, 1))
    loaded = customer(brand="gotone", join_date=dt.date(2016, 2, 1))
    bills(imported, months, on=dt.date(2026, 4, 2))
    for month, amount in months.items():
        raw_bill(loaded, month, amount)
    # when the backfill runs in small chunks
    job = services.points_earn_all(on=dt.date(2026, 4, 2), chunk_size=1)
    # then both customers have the same lots and balance, and the job counted the loaded bills (the one of
    # 0.99 yuan earns nothing)
    assert [lot[:4] for lot in lots(loaded)] == [lot[:4] for lot in lots(imported)]
    assert balance(loaded) == balance(imported) > 0
    assert job.status == "done" and job.counts["bills"] == 2
    # and a second run (forced) posts nothing
    again = services.points_earn_all(on=dt.date(2026, 4, 2), force=True)
    assert again.counts.get("bills", 0) == 0


def test_a_job_resumes_after_its_last_chunk_done(no_rewards, monkeypatch):
    from points import engine

    a, b = customer(), customer()
    raw_bill(a, dt.date(2026, 5, 1), "10")
    raw_bill(b, dt.date(2026, 5, 1), "20")
    calls = []
    real = engine.earn

    def crash_on_b(**kwargs):
        calls.append(kwargs["lo"])
        if kwargs["lo"] <= b.pk <= kwargs["hi"] and len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(**kwargs)

    monkeypatch.setattr(engine, "earn", crash_on_b)
    # given a job that crashed in its second chunk
    with pytest.raises(RuntimeError):
        services.points_earn_all(on=dt.date(2026, 6, 1), chunk_size=b.pk - a.pk)
    assert (balance(a), balance(b)) == (10, 0)
    # when it runs again it resumes: the first chunk is not redone
    job = services.points_earn_all(on=dt.date(2026, 6, 1), chunk_size=b.pk - a.pk)
    assert (balance(a), balance(b)) == (10, 20)
    assert job.status == "done" and job.counts["bills"] == 2
    assert PointsEntry.objects.filter(kind=EntryKind.EARN).count() == 2


def test_consumption_figures(no_rewards):
    c = customer()
    bills(
        c,
        {dt.date(2025, 12, 1): "99.9", dt.date(2026, 1, 1): "100", dt.date(2026, 2, 1): "50.5"},
        on=dt.date(2026, 3, 2),
    )
    figures = selectors.consumption(c, dt.date(2026, 3, 2))
    assert figures == {
        "months": [{"month": dt.date(2026, 1, 1), "points": 100}, {"month": dt.date(2026, 2, 1), "points": 50}],
        "year": 150,
        "total": 249,
    }
