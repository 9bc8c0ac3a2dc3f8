"""The demo club looks like a real, well-run club on the desk (issue 17): a year of contacts, most work done on time
and a few items late per manager, plans and work logs to review, cards at each stage, benefit redemptions, and a
year of tier history (the churn report's month-end snapshots make a line)."""

import datetime as dt

import pytest
from django.db.models import Count

from benefits.models import BenefitEntry
from managers.models import AccountManager, ContactLog, MembershipCard, Obligation, PlanStatus, ServicePlan, WorkLog
from retention import selectors as retention_selectors
from retention.models import MonthSnapshot
from tiers.models import TierChange

from .test_commands import run, var_dir  # noqa: F401  (var_dir is a fixture)

AS_OF = dt.date(2026, 12, 4)


@pytest.fixture
def club(var_dir):  # noqa: F811
    out, _ = run("seed_demo", "--customers", "240", "--as-of", AS_OF.isoformat(), "--seed", "5")
    return out


@pytest.mark.django_db
def test_the_demo_club_is_well_run_with_a_few_items_late_per_manager(club):
    managers = list(AccountManager.objects.filter(user__username__startswith="manager"))
    assert len(managers) == 6
    # most past-due work was done, and on time: a few overdue members per manager, not half the club
    late = dict(
        Obligation.objects.filter(status="overdue")
        .values_list("manager_id")
        .annotate(n=Count("customer_id", distinct=True))
    )
    assert all(1 <= late.get(m.pk, 0) <= 10 for m in managers), late
    past = Obligation.objects.filter(due_on__lt=AS_OF).exclude(status="cancelled")
    done = past.filter(status="done").count()
    assert done / past.count() > 0.75  # a club of 240: 2-6 items late of ~30 per manager (2,000: 96 % done)
    # and a year of contacts on the members' pages: every served member has a trail
    assert ContactLog.objects.filter(occurred_at__date__lt=AS_OF - dt.timedelta(days=180)).exists()
    served = Obligation.objects.values("customer_id").distinct().count()
    assert ContactLog.objects.values("customer_id").distinct().count() >= served * 0.9
    assert "contact history:" in club


@pytest.mark.django_db
def test_the_demo_has_plans_and_work_logs_to_review_cards_at_each_stage_and_redemptions(club):
    for manager in AccountManager.objects.filter(user__username__startswith="manager"):
        plans = dict(
            ServicePlan.objects.filter(manager=manager).values_list("scope", "status").order_by("period_start")
        )
        assert plans.get("year") == PlanStatus.APPROVED and plans.get("month") == PlanStatus.SUBMITTED, plans
        logs = WorkLog.objects.filter(manager=manager)
        assert logs.filter(reviewed_at__isnull=True).exists() and logs.filter(reviewed_at__isnull=False).exists()
    stages = set(MembershipCard.objects.values_list("state", flat=True))
    assert {"collecting", "at_maker", "arrived", "received"} <= stages and len(stages) >= 6, stages
    assert BenefitEntry.objects.filter(kind="redeem").exists()


@pytest.mark.django_db
def test_the_demo_has_a_year_of_tier_history_and_the_churn_report_a_line(club):
    months = list(MonthSnapshot.objects.order_by("month").values_list("month", "members"))
    assert len(months) == 12 and months[0][0] == dt.date(2025, 12, 1) and all(n > 0 for _m, n in months)
    assert TierChange.objects.filter(effective_on__lt=dt.date(2026, 1, 1)).exists()
    rows = retention_selectors.churn_report(year=2026, on=AS_OF)
    members = [r["members"] for r in rows if r["series"] == "all" and r["members"] is not None]
    assert len(members) >= 11, rows  # a point for every month end of the year so far: a line
