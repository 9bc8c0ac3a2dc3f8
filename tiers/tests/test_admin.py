"""The tiers admin as staff use it: the distribution chart, starting and following runs, overrides with
four-eyes approval, and the customer page's "Why this tier"."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from core import dates
from tiers import rules, services
from tiers.models import CustomerTier, DryRunChange, RatingPolicy, RatingRun, Tier, TierChange, TierOverride
from tiers.selectors import tier_state
from tiers.tests.helpers import close_months, make_customer, monthly_bills, run_month

pytestmark = pytest.mark.django_db

M = dt.date(2026, 10, 1)  # the month rated; bills of 2025-10 … 2026-09
LONG_AGO = dt.date(2010, 1, 1)  # tenure bonus 300
SHANGHAI = ZoneInfo("Asia/Shanghai")
RUNS = "/admin/tiers/ratingrun/"
START = "/admin/tiers/ratingrun/start/"


@pytest.fixture
def eager_celery(vipclub_celery):
    """Tasks run inline, so a run started from the admin executes when its transaction commits."""
    app = vipclub_celery
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = before


def spender(total_per_month: int, **kwargs):
    """A long-standing customer with 12 equal monthly bills before M."""
    return make_customer(join_date=LONG_AGO, bills=monthly_bills(M, [total_per_month] * 12), **kwargs)


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# --------------------------------------------------------------------------------------------------
# Tiers: the chart


def test_tier_list_shows_a_chart_of_members_per_tier(admin_client):
    # given two gold members and one diamond member
    for _ in range(2):
        make_customer(current=rules.TierState("gold", "plan", None))
    make_customer(current=rules.TierState("diamond", "score", dt.date(2027, 9, 30)))
    # when staff open the tier list
    html = text(admin_client.get("/admin/tiers/tier/"))
    # then the SVG bar chart shows the counts, and the members column agrees
    assert "<svg" in html and "Members per tier" in html
    assert 'data-tier="gold" data-members="2"' in html
    assert 'data-tier="diamond" data-members="1"' in html
    assert 'data-tier="silver" data-members="0"' in html
    assert "3 members in all" in html
    assert re.search(r'<td class="field-members">2</td>', html)


def test_tier_list_speaks_chinese(admin_client):
    make_customer(current=rules.TierState("gold", "plan", None))
    html = text(admin_client.get("/admin/tiers/tier/", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "各等级会员数" in html and "金卡" in html


def test_thresholds_live_on_the_policy_only(admin_client):
    # given the seeded tiers and policies (migrated: every policy names every active tier's threshold)
    annual = RatingPolicy.objects.get(code="annual")
    # then the annual policy holds the thresholds the tiers had as defaults
    assert annual.thresholds == {"diamond": "4000.00", "gold": "2000.00", "silver": "1000.00"}
    # and the tier list has no threshold column to edit (one place for thresholds)
    page = admin_client.get("/admin/tiers/tier/").content.decode()
    assert "threshold" not in page.lower()


# --------------------------------------------------------------------------------------------------
# Policies


# (the policy's page: tiers/tests/test_policy_forms.py)


# --------------------------------------------------------------------------------------------------
# Runs: start, dry run, progress, resume


def test_start_run_form_creates_and_runs_a_run(admin_client, eager_celery, django_capture_on_commit_callbacks):
    # given closed billing months and a customer spending 400 a month
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    customer = spender(400)
    form = admin_client.get(START)
    assert form.status_code == 200 and 'name="threshold_diamond"' in text(form)
    # when staff start the run of M for the default policy
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(START, {"month": "2026-10", "policy": RatingPolicy.objects.get(code="annual").pk})
    # then a run exists, ran (eager workers), and the browser goes to its page
    run = RatingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{RUNS}{run.pk}/change/"
    run.refresh_from_db()
    assert (run.month, run.dry_run, run.status, run.created_by.username) == (M, False, "done", "admin")
    assert tier_state(customer)["code"] == "diamond"  # 4800 + 300 tenure bonus
    page = text(admin_client.get(response["Location"]))
    assert "Counts per transition" in page and "138****" in page


def test_start_run_refuses_an_unclosed_previous_month_without_force(admin_client, eager_celery):
    # given September 2026 is not closed
    close_months(dates.add_months(M, -24), dates.add_months(M, -2))
    spender(400)
    policy = RatingPolicy.objects.get(code="annual")
    # when staff start October without "force"
    response = admin_client.post(START, {"month": "2026-10", "policy": policy.pk})
    # then the page says why, and nothing was created
    assert response.status_code == 200
    assert "Billing month 2026-09 is not closed yet" in text(response)
    assert RatingRun.objects.count() == 0
    # and with "force" the run is created
    forced = admin_client.post(START, {"month": "2026-10", "policy": policy.pk, "force": "on"})
    assert forced.status_code == 302
    assert RatingRun.objects.get().forced is True


def test_start_run_refusal_speaks_chinese(admin_client):
    policy = RatingPolicy.objects.get(code="annual")
    response = admin_client.post(START, {"month": "2026-10", "policy": policy.pk}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "2026-09" in text(response) and "账期尚未关账" in text(response)
    assert RatingRun.objects.count() == 0


def test_a_dry_run_with_a_draft_diamond_threshold(admin_client, eager_celery, django_capture_on_commit_callbacks):
    # given a customer whose score is 380 × 12 + 300 = 4860: diamond at 4000, but gold were diamond 5000
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    customer = spender(380)
    policy = RatingPolicy.objects.get(code="annual")
    # a draft without "dry run" is refused by the form
    refused = admin_client.post(START, {"month": "2026-10", "policy": policy.pk, "threshold_diamond": "5000"})
    assert "can only be tried in a dry run" in text(refused) and RatingRun.objects.count() == 0
    # when staff try "what if diamond were 5000?" as a dry run
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            START, {"month": "2026-10", "policy": policy.pk, "dry_run": "on", "threshold_diamond": "5000"}
        )
    run = RatingRun.objects.get()
    assert response.status_code == 302
    # then the run is a dry run with the draft threshold, it would make the customer gold, and changed nothing
    assert run.dry_run is True and run.policy_snapshot["thresholds"]["diamond"] == "5000"
    assert DryRunChange.objects.get(run=run, customer=customer).to_tier.code == "gold"
    assert not CustomerTier.objects.filter(customer=customer).exists()
    # and the run list flags it as a dry run
    html = text(admin_client.get(RUNS, {"dry_run__exact": "1"}))
    assert f'href="{RUNS}{run.pk}/change/' in html
    assert f'href="{RUNS}{run.pk}/change/' not in text(admin_client.get(RUNS, {"dry_run__exact": "0"}))
    page = text(admin_client.get(f"{RUNS}{run.pk}/change/"))
    assert "Changes this dry run would make" in page and "138****" in page


def test_run_page_shows_counts_changes_and_a_finished_progress_bar(admin_client):
    # given an applied run in which two customers joined (diamond, gold) and one did not
    spender(400)
    spender(200)
    spender(10)
    run = run_month(M)
    # when staff open the run
    page = text(admin_client.get(f"{RUNS}{run.pk}/change/"))
    # then the counts per transition, the timings and the changes (masked) are shown
    assert re.search(r'<tr class="count-joined"><td>Joined</td><td>2</td></tr>', page)
    assert re.search(r'<tr class="count-unchanged"><td>Unchanged</td><td>1</td></tr>', page)
    assert "Timings" in page and " s<" in page  # duration in seconds
    assert page.count("138****") >= 2 and "Diamond" in page
    # and the progress fragment says 100% and no longer polls
    fragment = text(admin_client.get(f"{RUNS}{run.pk}/progress/"))
    assert "100%" in fragment and "3/3" in fragment
    assert "hx-trigger" not in fragment


def test_progress_fragment_polls_while_the_run_is_pending_or_running(admin_client):
    # given a run started but not yet executed (no worker)
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    spender(400)
    spender(100)
    run, _ = services.tier_run_start(month=M, dispatch=False)
    page = text(admin_client.get(f"{RUNS}{run.pk}/change/"))
    assert "django_htmx/htmx-2.min.js" in page
    assert f'hx-get="{RUNS}{run.pk}/progress/?reload=1"' in page and 'hx-trigger="every 2s"' in page
    listing = text(admin_client.get(RUNS))
    assert f'hx-get="{RUNS}{run.pk}/progress/?compact=1"' in listing and "Start a run" in listing
    fragment = text(admin_client.get(f"{RUNS}{run.pk}/progress/"))
    assert "0%" in fragment and 'hx-trigger="every 2s"' in fragment
    # when half of the customers are done
    RatingRun.objects.filter(pk=run.pk).update(status="running", progress_done=1)
    fragment = text(admin_client.get(f"{RUNS}{run.pk}/progress/"))
    assert "50%" in fragment and 'hx-trigger="every 2s"' in fragment
    # and when it finishes, the polling request tells htmx to reload the page (to show the counts)
    services.tier_run_execute(run=run)
    done = admin_client.get(f"{RUNS}{run.pk}/progress/?reload=1", HTTP_HX_REQUEST="true")
    assert "100%" in text(done) and "hx-trigger" not in text(done)
    assert done["HX-Refresh"] == "true"


def test_runs_cannot_be_added_edited_or_deleted_through_the_forms(admin_client):
    spender(400)
    run = run_month(M)
    assert admin_client.get(f"{RUNS}add/").status_code == 403
    assert admin_client.post(f"{RUNS}{run.pk}/delete/").status_code == 403
    page = text(admin_client.get(f"{RUNS}{run.pk}/change/"))
    assert 'name="_save"' not in page


def test_resume_action_resumes_a_failed_run_and_refuses_a_done_one(admin_client, eager_celery):
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    customer = spender(400)
    failed, _ = services.tier_run_start(month=M, dispatch=False)
    RatingRun.objects.filter(pk=failed.pk).update(status="failed", error="chunk 1: boom")
    assert "chunk 1: boom" in text(admin_client.get(f"{RUNS}{failed.pk}/change/"))
    response = admin_client.post(RUNS, {"action": "resume_runs", "_selected_action": [failed.pk]}, follow=True)
    assert "1 runs resumed" in messages_of(response)
    failed.refresh_from_db()
    assert failed.status in ("running", "done") and failed.error == ""
    # on commit the chunks are re-dispatched; here we run them inline
    services.tier_run_execute(run=failed)
    assert tier_state(customer)["code"] == "diamond"
    again = admin_client.post(RUNS, {"action": "resume_runs", "_selected_action": [failed.pk]}, follow=True)
    assert "already done" in messages_of(again)


# --------------------------------------------------------------------------------------------------
# Overrides: four eyes


@time_machine.travel(dt.datetime(2026, 11, 10, 10, 0, tzinfo=SHANGHAI), tick=False)
def test_override_needs_a_second_admin(admin_client, admin_user, staff_user):
    # given a silver member
    customer = make_customer(current=rules.TierState("silver", "plan", None))
    gold = Tier.objects.get(code="gold")
    add = admin_client.get("/admin/tiers/tieroverride/add/")
    assert add.status_code == 200 and 'name="customer"' in text(add)
    # when an admin asks for gold until the end of the year
    response = admin_client.post(
        "/admin/tiers/tieroverride/add/",
        {
            "customer": customer.pk,
            "tier": gold.pk,
            "reason": "VIP complaint settled",
            "starts_on": "2026-11-10",
            "ends_on": "2026-12-31",
            "_save": "Save",
        },
        follow=True,
    )
    override = TierOverride.objects.get()
    assert response.status_code == 200
    assert (override.created_by, override.status) == (admin_user, "pending")
    assert "awaits approval" in messages_of(response)
    # and approves it herself: refused, with the four-eyes message, still pending
    own = admin_client.post(
        "/admin/tiers/tieroverride/", {"action": "approve", "_selected_action": [override.pk]}, follow=True
    )
    assert "Four-eyes rule" in messages_of(own)
    override.refresh_from_db()
    assert override.status == "pending" and tier_state(customer)["code"] == "silver"
    # then a second staff user approves it, and the customer is gold at once
    second = Client()
    second.force_login(staff_user)
    approved = second.post(
        "/admin/tiers/tieroverride/", {"action": "approve", "_selected_action": [override.pk]}, follow=True
    )
    assert "1 overrides approved" in messages_of(approved)
    override.refresh_from_db()
    assert (override.status, override.approved_by) == ("approved", staff_user)
    assert tier_state(customer)["code"] == "gold" and tier_state(customer)["source"] == "override"
    # and the history view lists the decisions; the override itself can no longer be edited
    history = admin_client.get(f"/admin/tiers/tieroverride/{override.pk}/history/")
    assert history.status_code == 200 and override.history.count() == 2
    assert 'name="_save"' not in text(admin_client.get(f"/admin/tiers/tieroverride/{override.pk}/change/"))


def test_override_form_refuses_an_end_before_the_start_and_reject_revoke_work(admin_client, staff_user):
    customer = make_customer()
    gold = Tier.objects.get(code="gold")
    bad = admin_client.post(
        "/admin/tiers/tieroverride/add/",
        {"customer": customer.pk, "tier": gold.pk, "reason": "x", "starts_on": "2026-11-10", "ends_on": "2026-11-01"},
    )
    assert "The end date is before the start date." in text(bad) and not TierOverride.objects.exists()
    override = services.tier_override_create(
        customer=customer,
        tier=gold,
        reason="r",
        starts_on=dt.date(2030, 1, 1),
        ends_on=dt.date(2030, 2, 1),
        actor=staff_user,
    )
    # revoking a pending override is refused with a message; rejecting works
    revoke = admin_client.post(
        "/admin/tiers/tieroverride/", {"action": "revoke", "_selected_action": [override.pk]}, follow=True
    )
    assert "only an approved one revoked" in messages_of(revoke)
    admin_client.post("/admin/tiers/tieroverride/", {"action": "reject", "_selected_action": [override.pk]})
    override.refresh_from_db()
    assert override.status == "rejected"
    pending = text(admin_client.get("/admin/tiers/tieroverride/", {"status__exact": "pending"}))
    assert f"/admin/tiers/tieroverride/{override.pk}/change/" not in pending
    rejected = text(admin_client.get("/admin/tiers/tieroverride/", {"status__exact": "rejected"}))
    assert f"/admin/tiers/tieroverride/{override.pk}/change/" in rejected


# --------------------------------------------------------------------------------------------------
# The customer page and list


def test_customer_page_explains_the_tier_after_a_run(admin_client):
    # given a customer with bills of 400 a month and a 388 plan (gold floor)
    customer = make_customer(
        join_date=LONG_AGO, bills=monthly_bills(M, [400.9] * 12), plan=("388", dt.date(2020, 1, 1))
    )
    url = f"/admin/customers/customer/{customer.pk}/change/"
    # before any run, the page says there is nothing to explain
    assert "No rating run has been applied yet" in text(admin_client.get(url))
    # when the month is rated
    run = run_month(M)
    page = text(admin_client.get(url))
    # then "Why this tier" shows the score parts, the floors and the decision
    assert "Why this tier" in page and f"rating run #{run.pk} for 2026-10" in page
    assert "2025-10" in page and "400.90" in page  # a bill month and its amount
    assert re.search(r'score-bill-points"><td>bill points</td><td class="num">4800<', page)  # fractions dropped
    assert re.search(r'score-tenure-bonus"><td>tenure bonus</td><td class="num">300<', page)
    assert re.search(r'score-total"><td><strong>total score</strong></td><td class="num"><strong>5100<', page)
    assert re.search(r'score-tier"><td>tier by score</td><td>Diamond<', page)
    assert re.search(r'floor-plan"><td>tariff plan 388 .*?</td><td>Gold<', page)
    assert re.search(r'floor-transfer"><td>cross-region move-in</td><td>none<', page)
    assert re.search(r'transition"><td>transition</td><td><strong>Joined<', page)
    # and the current tier and the tier history (inline)
    assert "<strong>Diamond</strong> · Score" in page
    assert "Tier history (newest first)" in page


def test_customer_page_why_this_tier_in_chinese(admin_client):
    customer = spender(400)
    run_month(M)
    page = text(admin_client.get(f"/admin/customers/customer/{customer.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "为何是此等级" in page and "账单积分" in page and "钻石卡" in page


def test_customer_list_shows_the_tier_and_filters_by_it(admin_client):
    gold = spender(200, msisdn="13900000001")
    silver = spender(100, msisdn="13900000002")
    outsider = spender(10, msisdn="13900000003")
    run_month(M)
    html = text(admin_client.get("/admin/customers/customer/"))
    assert '<td class="field-tier_col">Gold</td>' in html and '<td class="field-tier_col">Silver</td>' in html
    filtered = text(admin_client.get("/admin/customers/customer/", {"tier": "gold"}))
    assert gold.masked_msisdn in filtered
    assert silver.masked_msisdn not in filtered and outsider.masked_msisdn not in filtered
    none = text(admin_client.get("/admin/customers/customer/", {"tier": "none"}))
    assert outsider.masked_msisdn in none and gold.masked_msisdn not in none


# --------------------------------------------------------------------------------------------------
# Bounded queries


def _customers_with_history(n: int, staff) -> None:
    """n customers (a quarter each outside, silver, gold, diamond), each with a pending override."""
    gold = Tier.objects.get(code="gold")
    for i in range(n):
        customer = spender([10, 100, 200, 400][i % 4])
        services.tier_override_create(
            customer=customer,
            tier=gold,
            reason="r",
            starts_on=dt.date(2030, 1, 1),
            ends_on=dt.date(2030, 2, 1),
            actor=staff,
        )
    run_month(M)
    assert TierChange.objects.count() >= n * 3 // 4


@pytest.mark.parametrize("n", [5, 30])
def test_lists_do_not_query_per_row(admin_client, staff_user, django_assert_max_num_queries, n):
    # given n customers with a tier, a tier change and an override each (5 rows, then 30)
    _customers_with_history(n, staff_user)
    # then every list costs the same few queries (a query per row would exceed the bound even at 5 rows)
    for url, bound in [
        ("/admin/customers/customer/", 10),
        ("/admin/customers/customer/?tier=gold", 10),
        ("/admin/tiers/tier/", 9),
        ("/admin/tiers/tierchange/", 8),
        ("/admin/tiers/tieroverride/", 8),
        (RUNS, 8),
    ]:
        with django_assert_max_num_queries(bound + 1):  # + the header's count of pending approvals (one query)
            response = admin_client.get(url)
        assert response.status_code == 200


def test_a_view_only_staff_user_cannot_revert_a_policy_through_its_history(client, django_user_model):
    from django.contrib.auth.models import Permission

    policy = RatingPolicy.objects.get(code="annual")
    policy.name = "Renamed"
    policy.save()
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_ratingpolicy"))
    client.force_login(viewer)
    record = policy.history.first()
    url = f"/admin/tiers/ratingpolicy/{policy.pk}/history/{record.history_id}/"
    assert client.get(url).status_code == 200  # may look
    response = client.post(
        url,
        {
            "code": "annual",
            "name": "Hijacked",
            "kind": policy.kind,
            "run_day": 1,
            "window_months": 12,
            "thresholds": "{}",
            "tenure_bonus": "[]",
            "min_tenure_months": 12,
            "validity_months": 12,
            "plan_tiers": "{}",
            "key_person_tiers": "[]",
        },
    )
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.name == "Renamed"
