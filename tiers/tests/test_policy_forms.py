"""Rating policies as forms (issue 16 item 4): thresholds per tier, tenure bonus, plan and key-person floors as
tables with validation; an edit of an active policy is a proposal with an effective month that a second staff user
approves, with a what-if (members per tier before and after, the from→to matrix)."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from tiers import rules, services
from tiers.models import PolicyChange, RatingPolicy, RatingRun
from tiers.tests.helpers import close_months, make_customer, monthly_bills, policy_form_data

pytestmark = pytest.mark.django_db

M = dt.date(2026, 10, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
IN_OCTOBER = dt.datetime(2026, 10, 5, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def eager_celery(vipclub_celery):
    app = vipclub_celery
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = before


def staff(username: str) -> Client:
    user = get_user_model().objects.create_superuser(username=username, password="x-Strong-pass-1")
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def url(policy) -> str:
    return f"/admin/tiers/ratingpolicy/{policy.pk}/change/"


def gold_spender(per_month: int):
    """A customer of 15+ years (tenure bonus 300) with 12 equal bills before M, gold today."""
    return make_customer(
        join_date=dt.date(2010, 1, 1),
        bills=monthly_bills(M, [per_month] * 12),
        current=rules.TierState("gold", "score", dt.date(2027, 3, 31)),
    )


def test_the_policy_page_edits_thresholds_and_tables_not_json():
    # given the seeded annual policy
    policy = RatingPolicy.objects.get(code="annual")
    # when a club admin opens its page
    page = staff("ann").get(url(policy)).content.decode()
    # then each tier's threshold is a number input, the tenure bonus and floors are rows, and no JSON box is left
    for code in ("diamond", "gold", "silver"):
        assert f'name="threshold_{code}"' in page
    assert 'name="bonus-0-years"' in page and 'name="bonus-0-bonus"' in page
    assert (
        'name="plan-0-plan"' in page and 'name="keyperson-0-role"' in page and 'name="keyperson-0-group_class"' in page
    )
    assert "<textarea" not in page.split('id="policy-form"')[1].split("effective_month")[0]
    assert '{"diamond"' not in page and "[[10, 300]" not in page


def test_an_inactive_policy_saves_its_rows_at_once_and_refuses_bad_rows():
    # given the inactive average-spend policy and a club admin
    policy = RatingPolicy.objects.get(code="average6")
    client = staff("ann")
    # when she adds a tenure bonus row without a bonus, a plan floor to no tier, and an expiry day 40
    bad = policy_form_data(
        policy,
        **{"bonus-TOTAL_FORMS": 1, "bonus-0-years": "5", "bonus-0-bonus": "", "plan-0-tier": "ruby", "expiry_day": 40},
    )
    refused = client.post(url(policy), bad)
    # then the page names each problem and nothing is saved
    assert refused.status_code == 200
    page = text(refused)
    assert "This field is required" in page and "Select a valid choice" in page
    assert "less than or equal to 28" in page
    policy.refresh_from_db()
    assert policy.version == 1 and policy.tenure_bonus == []
    # when she sets diamond to 500 and a 5-year bonus of 50 points, and removes the 288 plan floor
    rows = {code: i for i, code in enumerate(sorted(policy.plan_tiers))}
    good = policy_form_data(
        policy,
        threshold_diamond="500",
        **{"bonus-TOTAL_FORMS": 1, "bonus-0-years": "5", "bonus-0-bonus": "50", f"plan-{rows['288']}-DELETE": "on"},
    )
    saved = client.post(url(policy), good)
    # then it is saved at once, as a run reads it
    assert saved.status_code == 302
    policy.refresh_from_db()
    assert policy.thresholds["diamond"] == "500" and policy.tenure_bonus == [[5, 50]]
    assert "288" not in policy.plan_tiers and policy.version == 2


@time_machine.travel(IN_OCTOBER, tick=False)
def test_an_active_policy_change_needs_a_second_user_and_shows_its_what_if(
    eager_celery, django_capture_on_commit_callbacks
):
    # given two gold customers scoring 2700 (12 × 200 + 300 tenure bonus) and one at 1500, the months closed
    gold_spender(200)
    gold_spender(200)
    gold_spender(100)
    close_months(dt.date(2025, 10, 1), dt.date(2026, 9, 1))
    policy = RatingPolicy.objects.get(code="annual")
    proposer, approver = staff("ann"), staff("bob")

    # when Ann lowers diamond to 2500 from 2026-10 with a reason
    data = policy_form_data(policy, threshold_diamond="2500", effective_month="2026-10", note="more diamonds")
    response = proposer.post(url(policy), data)
    # then it is a proposal awaiting approval: the policy itself is unchanged
    change = PolicyChange.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/policychange/{change.pk}/change/")
    policy.refresh_from_db()
    assert policy.thresholds["diamond"] == "4000.00" and policy.version == 1
    page = text(proposer.get(response["Location"]))
    assert "Awaiting approval" in page and "4000.00 2500" in page
    assert "Your own proposal" in page and "Approve" not in page

    # when Ann tries to approve her own change anyway, it is refused
    refused = proposer.post(f"/admin/tiers/policychange/{change.pk}/decide/", {"decision": "approve"}, follow=True)
    assert "Four-eyes rule" in text(refused)
    change.refresh_from_db()
    assert change.status == "pending"

    # when Bob computes the what-if
    with django_capture_on_commit_callbacks(execute=True):
        approver.post(f"/admin/tiers/policychange/{change.pk}/decide/", {"decision": "what_if"})
    bob_page = text(approver.get(f"/admin/tiers/policychange/{change.pk}/change/"))
    # then it shows members per tier today, with the policy as it is and with the change, and the from→to matrix
    assert RatingRun.objects.filter(dry_run=True).count() == 2
    counts = bob_page.split("What-if: members per tier")[1]
    assert "2 members would end in another tier" in counts
    assert re.search(r"Diamond 0 0 2 \+2", counts), counts
    assert re.search(r"Gold 3 3 1 -2", counts), counts  # the one at 1500 keeps gold while it is valid
    matrix = counts.split("From → to")[1]
    assert re.search(r"Gold 2 1 0 0 3", matrix), matrix  # gold (policy as it is) → diamond 2, → gold 1

    # when Bob approves it (its month has begun), then it applies at once, as a new version of the policy
    approved = text(
        approver.post(f"/admin/tiers/policychange/{change.pk}/decide/", {"decision": "approve"}, follow=True)
    )
    assert "Approved and applied" in approved
    policy.refresh_from_db()
    assert policy.thresholds["diamond"] == "2500" and policy.version == 2
    change.refresh_from_db()
    assert change.status == "applied" and change.decided_by.username == "bob"


@time_machine.travel(IN_OCTOBER, tick=False)
def test_a_change_for_a_later_month_applies_before_that_months_run():
    # given an approved change of the annual policy effective 2026-12
    policy = RatingPolicy.objects.get(code="annual")
    users = get_user_model().objects
    ann, bob = users.create_user("ann", is_staff=True), users.create_user("bob", is_staff=True)
    values = {**policy.thresholds, "diamond": "3000"}
    change = services.policy_change_propose(
        policy=policy,
        values={"thresholds": values},
        effective_month=dt.date(2026, 12, 1),
        note="x",
        actor=ann,
        at=IN_OCTOBER,
    )
    services.policy_change_approve(change=change, actor=bob, at=IN_OCTOBER)
    # then it waits for its month
    change.refresh_from_db()
    policy.refresh_from_db()
    assert change.status == "scheduled" and policy.thresholds["diamond"] == "4000.00"
    # when November's run starts, it still waits; when December's starts, the run uses it
    services.tier_run_start(month=dt.date(2026, 11, 1), policy=policy, force=True, dispatch=False)
    policy.refresh_from_db()
    assert policy.thresholds["diamond"] == "4000.00"
    run, _ = services.tier_run_start(month=dt.date(2026, 12, 1), policy=policy, force=True, dispatch=False)
    assert run.policy_snapshot["thresholds"]["diamond"] == "3000"
    change.refresh_from_db()
    assert change.status == "applied"


def test_a_policy_change_cannot_be_for_a_past_month_nor_without_a_reason():
    policy = RatingPolicy.objects.get(code="annual")
    client = staff("ann")
    with time_machine.travel(IN_OCTOBER, tick=False):
        response = client.post(
            url(policy), policy_form_data(policy, threshold_diamond="2500", effective_month="2026-09")
        )
    assert response.status_code == 200
    page = text(response)
    assert "The effective month has passed" in page and "This field is required" in page
    assert not PolicyChange.objects.exists()


def test_the_empty_rows_a_browser_sends_are_left_out():
    # given the inactive policy's page as a browser posts it: every table with its two empty rows (blank selects)
    policy = RatingPolicy.objects.get(code="average6")
    data = policy_form_data(policy, threshold_diamond="460")
    for prefix, fields in (
        ("bonus", ("years", "bonus")),
        ("plan", ("plan", "tier")),
        ("keyperson", ("role", "group_class", "tier")),
    ):
        total = int(data[f"{prefix}-TOTAL_FORMS"])
        data[f"{prefix}-TOTAL_FORMS"] = total + 2
        for i in (total, total + 1):
            data.update({f"{prefix}-{i}-{name}": "" for name in fields})
    # when it is saved, then it is saved with the rows it had, and the empty rows are not rows
    response = staff("ann").post(url(policy), data)
    assert response.status_code == 302, text(response)
    policy.refresh_from_db()
    assert policy.thresholds["diamond"] == "460" and len(policy.plan_tiers) == 3 and len(policy.key_person_tiers) == 8


def test_a_policy_is_named_in_the_readers_language():
    # given the seeded annual policy (its name is data in both languages)
    from django.utils import translation

    policy = RatingPolicy.objects.get(code="annual")
    # then a Chinese page names it in Chinese, an English page in English
    with translation.override("zh-hans"):
        assert str(policy) == "年度综合（全球通）"
    with translation.override("en"):
        assert str(policy) == "Annual composite (GoTone)"
