"""Churn KPIs per month, tier and branch against a hand-computed fixture (helpers.a_year_of_churn): month-end
snapshots from the tier history (set-based), churned, rates, average members, year-to-date against the targets,
breach flags, snapshot retention; a month with zero members and a branch with none divide by nothing."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from core.errors import RuleViolation
from customers.models import Region
from retention import selectors, services
from retention.models import ChurnTarget, MemberCount, MonthSnapshot
from retention.tests.helpers import club_time, member
from vipclub import pipeline

from .retention_fixtures import a_year_of_churn

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 5)
D = Decimal


def by_month_and_series(rows) -> dict:
    return {(r["month"].month, r["series"]): r for r in rows}


def members_of(month: dt.date) -> dict:
    snapshot = MonthSnapshot.objects.get(month=month)
    return {(c.tier.code, c.region.code): c.members for c in MemberCount.objects.filter(snapshot=snapshot)}


def test_month_end_snapshots_count_the_members_per_tier_and_branch_from_the_history():
    a_year_of_churn()
    assert MonthSnapshot.objects.get(month=dt.date(2025, 11, 1)).members == 0  # taken, with nobody
    assert members_of(dt.date(2025, 12, 1)) == {("diamond", "GZ"): 2, ("gold", "GZ"): 4, ("silver", "GZ"): 4}
    assert members_of(dt.date(2026, 1, 1)) == {("diamond", "GZ"): 2, ("gold", "GZ"): 3, ("silver", "GZ"): 4}
    assert members_of(dt.date(2026, 2, 1)) == {("diamond", "GZ"): 1, ("gold", "GZ"): 3, ("silver", "GZ"): 4}
    assert MonthSnapshot.objects.get(month=dt.date(2026, 2, 1)).members == 8


def test_a_snapshot_taken_again_replaces_its_rows_and_sees_a_late_closure():
    people = a_year_of_churn()
    services.snapshot_month(month=dt.date(2026, 1, 1), on=TODAY, at=timezone.now())
    assert members_of(dt.date(2026, 1, 1))[("gold", "GZ")] == 3
    # a closure of 28 January reaches the system in March: January is taken again
    services.closure_request(customer=people["gold"][1], at=club_time(dt.date(2026, 1, 27)))
    services.customer_lifecycle(
        customer=people["gold"][1], action="close", kind="voluntary", at=club_time(dt.date(2026, 1, 28))
    )
    services.snapshot_month(month=dt.date(2026, 1, 1), on=TODAY, at=timezone.now())
    assert members_of(dt.date(2026, 1, 1))[("gold", "GZ")] == 2
    assert MemberCount.objects.filter(snapshot__month=dt.date(2026, 1, 1)).count() == 3


def test_a_month_that_has_not_ended_cannot_be_snapshotted():
    with pytest.raises(RuleViolation) as refused:
        services.snapshot_month(month=dt.date(2026, 3, 1), on=TODAY, at=timezone.now())
    assert refused.value.code == "month_not_over" and "month" in refused.value.fields


def test_the_churn_kpis_of_all_members_and_each_tier_against_hand_computed_figures():
    a_year_of_churn()
    rows = by_month_and_series(selectors.churn_report(year=2026, on=TODAY))
    jan, feb = rows[(1, "all")], rows[(2, "all")]
    # January: 10 members at the end of December, 2 closures (1 voluntary, 1 arrears), 9 at the end of January
    assert (jan["members_previous"], jan["members"], jan["average_members"]) == (10, 9, D("9.5"))
    assert (jan["churned"], jan["voluntary"], jan["arrears"], jan["rate"]) == (2, 1, 1, D("20.00"))
    assert (jan["ytd_churned"], jan["ytd_rate"], jan["target"], jan["breach"]) == (2, D("20.00"), D("3.50"), True)
    # February: 1 of 9; year to date 3 of the 10 of 31 December
    assert (feb["rate"], feb["members"], feb["average_members"]) == (D("11.11"), 8, D("8.5"))
    assert (feb["ytd_churned"], feb["ytd_rate"]) == (3, D("30.00"))
    gold, diamond, silver = rows[(1, "gold")], rows[(1, "diamond")], rows[(1, "silver")]
    assert (gold["members_previous"], gold["churned"], gold["rate"], gold["target"], gold["breach"]) == (
        4,
        1,
        D("25.00"),
        D("2.00"),
        True,
    )
    assert (diamond["rate"], diamond["ytd_rate"], diamond["breach"]) == (D("0.00"), D("0.00"), False)
    assert (rows[(2, "diamond")]["rate"], rows[(2, "diamond")]["ytd_rate"]) == (D("50.00"), D("50.00"))
    # silver has no target of its own: the all-members one; the new member of 1 January keeps it at 4
    assert (silver["members"], silver["rate"], silver["target"]) == (4, D("25.00"), D("3.50"))
    # March has begun but has no snapshot yet; April is still to come
    assert rows[(3, "all")]["members"] is None and rows[(3, "all")]["ytd_rate"] == D("30.00")
    assert rows[(4, "all")]["ytd_rate"] is None and not rows[(4, "all")]["breach"]


def test_targets_are_data_and_the_breach_flags_follow_them():
    a_year_of_churn()
    ChurnTarget.objects.filter(tier__isnull=True).update(max_rate=D("30.00"))
    rows = by_month_and_series(selectors.churn_report(year=2026, on=TODAY))
    assert (rows[(1, "all")]["breach"], rows[(2, "all")]["breach"]) == (False, True)  # 20 % < 30 % ≤ 30 %
    assert rows[(1, "silver")]["target"] == D("30.00")


def test_a_month_with_zero_members_and_a_branch_with_none_divide_by_nothing():
    a_year_of_churn()
    december = by_month_and_series(selectors.churn_report(year=2025, on=TODAY))[(12, "all")]
    # November 2025 was taken with nobody: December has no rate, and its YTD counts from December's end
    assert (december["members_previous"], december["rate"], december["ytd_rate"]) == (0, None, None)
    sz = Region.objects.get(code="SZ")
    for row in selectors.churn_report(year=2026, region_ids=[sz.pk], on=TODAY):
        assert row["churned"] == 0 and row["rate"] is None and row["ytd_rate"] is None and not row["breach"]
        assert row["members"] in (0, None)
    report = selectors.tier_report(region_ids=[sz.pk])
    assert report["total"] == 0 and report["rows"][0]["cells"] == [0, 0, 0]


def test_snapshot_retention_of_the_members_of_1_january():
    a_year_of_churn()
    base_date, rows = selectors.snapshot_retention_report(year=2026)
    assert base_date == dt.date(2026, 1, 1)
    cells = {(r["month"].month, r["series"]): (r["base_members"], r["retained"], r["share"]) for r in rows}
    # 11 members on 1 January (the new silver one included); 9 of them still members at the end of January
    assert cells[(1, "all")] == (11, 9, D("81.82"))
    assert cells[(1, "gold")] == (4, 3, D("75.00"))
    assert cells[(1, "silver")] == (5, 4, D("80.00"))
    assert cells[(2, "diamond")] == (2, 1, D("50.00"))
    assert cells[(2, "all")] == (11, 8, D("72.73"))


def test_the_monthly_pipeline_snapshots_the_month_before_the_run_and_refreshes_the_risk_list():
    # given: a member since December; the March run (evaluated on 1 March) has just been applied
    member(tier="gold", since=dt.date(2025, 12, 1))
    run = SimpleNamespace(month=dt.date(2026, 3, 1), evaluation_date=dt.date(2026, 3, 1))
    # when
    for step in (pipeline.snapshot_members, pipeline.refresh_risk):
        step(run=run)
    # then
    assert MonthSnapshot.objects.get(month=dt.date(2026, 2, 1)).members == 1
    assert pipeline.snapshot_members in pipeline.STEPS and pipeline.refresh_risk in pipeline.STEPS


def test_the_snapshot_is_a_fixed_number_of_statements(django_assert_max_num_queries):
    for i in range(30):
        member(tier=("gold", "silver")[i % 2], since=dt.date(2025, 12, 1))
    with django_assert_max_num_queries(12):
        services.snapshot_month(month=dt.date(2026, 1, 1), on=TODAY, at=timezone.now())
    assert MonthSnapshot.objects.get(month=dt.date(2026, 1, 1)).members == 30


def test_the_commands_snapshot_a_range_of_past_months_and_refresh_the_risk_list():
    from io import StringIO

    from django.core.management import CommandError, call_command

    member(tier="gold", since=dt.date(2025, 12, 1))
    out = StringIO()
    call_command("retention_snapshot", "--month", "2025-11", "--through", "2026-01", stdout=out)
    assert out.getvalue().splitlines() == [
        "2025-11: 0 members at the month end",
        "2025-12: 1 members at the month end",
        "2026-01: 1 members at the month end",
    ]
    with pytest.raises(CommandError, match="not a month"):
        call_command("retention_snapshot", "--month", "2026-13")
    with pytest.raises(CommandError, match="has not ended"):
        call_command("retention_snapshot", "--month", "2099-01")
    out = StringIO()
    call_command("retention_risk", "--date", "2026-03-01", stdout=out)
    assert "Risk list as of 2026-03-01" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("retention_risk", "--date", "March")
