"""The member 360 page and its actions, and the approvals inbox (issue 16 items 2 and 3), as staff use them."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from benefits import services as benefit_services
from benefits.models import BenefitAccount, BenefitEntry
from core.models import ActionLog
from core.permissions import CLUB_ADMINS_GROUP
from customers.factories import RegionFactory
from managers.models import Assignment, ContactLog, MembershipCard, Notification
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.models import PointsAccount, PointsAdjustment, PointsEntry, PointsPolicy
from points.services import points_adjustment_request
from retention.models import RetentionCase
from tiers.models import CustomerTier, TierChange, TierOverride

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI)
ON = NOW.date()
MSISDN = "13912347065"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def branch():
    return RegionFactory(code="GZ", name="广州")


@pytest.fixture
def boss():
    return make_supervisor("gz-boss")


@pytest.fixture
def manager(branch, boss):
    return make_manager("E1", region=branch, supervisor=boss)


@pytest.fixture
def member(manager):
    customer = make_member(tier="gold", manager=manager, msisdn=MSISDN, name="王芳")
    benefit_services.benefit_grants_run(on=ON)
    return customer


def club_admin(username: str):
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=CLUB_ADMINS_GROUP))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(customer=None) -> str:
    return f"/admin/member/{customer.msisdn if customer else MSISDN}/"


def html(response) -> str:
    return response.content.decode()


def lounge_left(customer) -> int:
    account = BenefitAccount.objects.get(customer=customer, benefit__code="lounge_airport", period_key="2026")
    return account.granted - account.used


def post(client, action, **fields):
    data = {"action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    return client.post(url(), data)


# --------------------------------------------------------------------------------------------------
# The page


def test_the_page_shows_her_header_and_a_timeline_with_readable_labels(admin_client, member):
    # given a gold member with a contact and a tier change
    ContactLog.objects.create(
        customer=member,
        manager=member.assignments.get().manager,
        channel="call",
        outcome="reached",
        occurred_at=NOW + dt.timedelta(minutes=5),
    )
    TierChange.objects.create(
        customer=member,
        to_tier_id=CustomerTier.objects.get(customer=member).tier_id,
        transition="joined",
        reason="score",
        effective_on=dt.date(2026, 1, 1),
    )
    # when staff open her page by msisdn
    page = html(admin_client.get(url()))
    # then the header names her tier, status, manager and points, the timeline shows both events newest first
    assert "王芳" in page and "<strong>Gold</strong>" in page and "Active" in page and "经理E1 (E1)" in page
    assert "Why this tier" in page and 'id="timeline"' in page
    timeline = page[page.index('id="timeline"') :]
    assert timeline.index("Contact") < timeline.index("Tier change")
    assert "Call" in timeline
    # and no row anywhere is captioned "… object (N)"
    assert "object (" not in page


def test_an_unknown_number_is_a_404_and_a_login_without_role_a_403(admin_client, member, django_user_model):
    assert admin_client.get("/admin/member/13000000000/").status_code == 404
    nobody = django_user_model.objects.create_user(username="nobody", is_staff=True)
    assert client_for(nobody).get(url()).status_code == 403


def test_a_supervisor_of_another_branch_gets_403(member):
    # given a supervisor of Shenzhen only
    other = make_supervisor("sz-boss")
    make_manager("E9", region=RegionFactory(code="SZ"), supervisor=other)
    client = client_for(other)
    # when she opens or acts on a Guangzhou member's page, then 403 and nothing moves
    assert client.get(url()).status_code == 403
    before = lounge_left(member)
    response = post(client, "redeem_benefit", benefit="lounge_airport", quantity=1, reason="desk")
    assert response.status_code == 403 and lounge_left(member) == before


def test_her_own_branch_supervisor_may_open_and_act(boss, member):
    client = client_for(boss)
    assert client.get(url()).status_code == 200
    response = post(client, "redeem_benefit", benefit="lounge_airport", quantity=1, reason="desk T2")
    assert response.status_code == 302


def test_the_query_count_does_not_grow_with_her_history(admin_client, member, django_assert_max_num_queries):
    def add_history(n):
        ContactLog.objects.bulk_create(
            ContactLog(customer=member, channel="call", outcome="reached", occurred_at=NOW - dt.timedelta(hours=i))
            for i in range(n)
        )
        PointsEntry.objects.bulk_create(
            PointsEntry(customer=member, kind="earn", amount=10, occurred_on=ON, created_at=NOW, actor="system")
            for _ in range(n)
        )

    add_history(2)
    admin_client.get(url())  # warm caches (content types, sessions)
    with django_assert_max_num_queries(80) as small:
        admin_client.get(url())
    add_history(60)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = html(admin_client.get(url()))
    assert "older" in page  # the timeline pages


# --------------------------------------------------------------------------------------------------
# Actions


def test_redeem_a_lounge_visit_from_her_page(admin_client, member):
    # given 6 national lounge visits
    before = lounge_left(member)
    # when staff redeem one with a reason
    response = post(admin_client, "redeem_benefit", benefit="lounge_airport", quantity=1, reason="T2 lounge")
    # then one is gone, the message names the benefit readably and the timeline shows it with the actor
    assert response.status_code == 302
    assert lounge_left(member) == before - 1
    page = html(admin_client.get(url()))
    assert f"{before - 1} left" in page and "object (" not in page
    entry = BenefitEntry.objects.get(customer=member, kind="redeem")
    assert entry.actor == "admin" and entry.reference == "T2 lounge"
    assert re.search(r"Benefit</td><td>[^<]*Redemption[^<]*T2 lounge</td><td>admin</td>", page)


def test_a_redemption_without_a_reason_is_a_form_error(admin_client, member):
    before = lounge_left(member)
    response = post(admin_client, "redeem_benefit", benefit="lounge_airport", quantity=1, reason="")
    assert response.status_code == 400
    assert "Give a reason" in html(response) and lounge_left(member) == before


def test_a_redemption_over_the_quota_is_a_form_error_in_the_users_language(admin_client, member):
    left = lounge_left(member)
    response = post(admin_client, "redeem_benefit", benefit="lounge_airport", quantity=left + 1, reason="desk")
    assert response.status_code == 400 and "Nothing (or too little) of this benefit is left." in html(response)
    zh = admin_client.post(
        url(),
        {
            "action": "redeem_benefit",
            "redeem_benefit-benefit": "lounge_airport",
            "redeem_benefit-quantity": left + 1,
            "redeem_benefit-reason": "desk",
        },
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert zh.status_code == 400 and "Nothing (or too little)" not in html(zh)


def test_adjust_points_below_the_threshold_applies_at_once(admin_client, member):
    response = post(admin_client, "adjust_points", points=200, reason="goodwill")
    assert response.status_code == 302
    assert PointsAccount.objects.get(customer=member).balance == 200
    adjustment = PointsAdjustment.objects.get()
    assert adjustment.status == "applied" and adjustment.entry.actor == "admin"


def test_adjust_points_with_bad_input_is_a_form_error(admin_client, member):
    assert post(admin_client, "adjust_points", points=0, reason="x").status_code == 400
    assert post(admin_client, "adjust_points", points="abc", reason="x").status_code == 400
    response = post(admin_client, "adjust_points", points=-50, reason="take back")
    assert response.status_code == 400 and "fewer points" in html(response)
    assert not PointsAdjustment.objects.exists()


def test_four_eyes_above_the_threshold(member, manager, boss):
    # given a threshold of 1000 points (data: the points policy) and two club admins
    PointsPolicy.objects.update_or_create(code="default", defaults={"adjust_approval_above": 1000})
    alice, bob = club_admin("alice"), club_admin("bob")
    a, b = client_for(alice), client_for(bob)
    # when alice adjusts by 5000
    response = post(a, "adjust_points", points=5000, reason="complaint #88")
    # then nothing is applied yet, and the approvers (bob, the branch supervisor) are notified, not alice
    assert response.status_code == 302
    adjustment = PointsAdjustment.objects.get()
    assert adjustment.status == "pending" and not PointsEntry.objects.filter(kind="adjust").exists()
    told = set(
        Notification.objects.filter(kind=f"approval:points:{adjustment.pk}").values_list("user__username", flat=True)
    )
    assert {"bob", "gz-boss"} <= told and "alice" not in told
    # and bob's header counts it; alice's inbox does not offer her own request
    assert '<span class="approvals-count">1</span>' in html(b.get("/admin/"))
    inbox = html(a.get("/admin/approvals/"))
    assert "complaint #88" in inbox and "your request: another staff user decides" in inbox
    refused = a.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "approve"})
    assert refused.status_code == 302 and PointsAdjustment.objects.get().status == "pending"
    # when bob approves it from the inbox
    b.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "approve", "note": "ok"})
    # then it is applied once, and alice is told
    assert PointsAdjustment.objects.get().status == "applied"
    assert PointsAccount.objects.get(customer=member).balance == 5000
    assert PointsEntry.objects.filter(kind="adjust").get().actor == "bob"
    again = b.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "approve"})
    assert again.status_code == 404 or PointsEntry.objects.filter(kind="adjust").count() == 1
    assert PointsEntry.objects.filter(kind="adjust").count() == 1
    assert Notification.objects.filter(user=alice, kind=f"decided:points:{adjustment.pk}").exists()


def test_refusing_needs_a_reason_and_applies_nothing(member):
    alice, bob = club_admin("alice"), club_admin("bob")
    adjustment = points_adjustment_request(customer=member, points=5000, reason="r", on=ON, at=NOW, actor=alice)
    b = client_for(bob)
    response = b.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "refuse"}, follow=True)
    assert "Give a reason for refusing." in html(response)
    b.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "refuse", "note": "no proof"})
    adjustment.refresh_from_db()
    assert adjustment.status == "refused" and adjustment.decision_note == "no proof"
    assert not PointsEntry.objects.filter(kind="adjust").exists()


def test_override_by_msisdn_from_her_page_then_approved_in_the_inbox(member):
    alice, bob = club_admin("alice"), club_admin("bob")
    a, b = client_for(alice), client_for(bob)
    response = post(
        a, "override", tier="diamond", starts_on="2026-06-15", ends_on="2026-12-31", reason="VIP of the group"
    )
    assert response.status_code == 302
    override = TierOverride.objects.get()
    messages = html(a.get(url()))
    assert f"Override #{override.pk} to Diamond" in messages and "object (" not in messages
    b.post("/admin/approvals/", {"kind": "override", "pk": override.pk, "decision": "approve"})
    page = html(b.get(url()))
    assert "<strong>Diamond</strong> · Staff override" in page
    why = page[page.index('id="why-this-tier"') :]
    assert re.search(r'class="why-now">Current tier Diamond since 2026-06-15: Staff override', why)


def test_override_with_the_end_before_the_start_is_a_form_error(admin_client, member):
    response = post(admin_client, "override", tier="diamond", starts_on="2026-06-15", ends_on="2026-06-01", reason="r")
    assert response.status_code == 400 and "The end date is before the start date." in html(response)


def test_redeem_and_transfer_points(admin_client, member, manager):
    post(admin_client, "adjust_points", points=500, reason="seed")
    assert post(admin_client, "redeem_points", points=100, reason="gift").status_code == 302
    sister = make_member(tier="gold", manager=manager, msisdn="13912340000")
    assert post(admin_client, "transfer_points", target=sister.msisdn, points=50, reason="family").status_code == 302
    assert PointsAccount.objects.get(customer=member).balance == 350
    assert PointsAccount.objects.get(customer=sister).balance == 50
    bad = post(admin_client, "transfer_points", target="13000000000", points=5, reason="x")
    assert bad.status_code == 400 and "No customer with this msisdn" in html(bad)


def test_closure_request_then_move_the_case(admin_client, member):
    response = post(admin_client, "closure", reason_category="tariff", reason="too expensive")
    assert response.status_code == 302
    case = RetentionCase.objects.get(customer=member)
    assert post(admin_client, "case_move", to="contacted", reason="called her").status_code == 302
    case.refresh_from_db()
    assert case.state == "contacted"
    bad = post(admin_client, "case_move", to="open", reason="back")
    assert bad.status_code == 400 and "does not fit the case" in html(bad)


def test_reassign_and_card_steps(admin_client, member, branch, boss):
    other = make_manager("E2", region=branch, supervisor=boss)
    assert post(admin_client, "reassign", manager=other.pk, reason="load").status_code == 302
    assert Assignment.objects.get(customer=member, ended_on__isnull=True).manager == other
    assert ActionLog.objects.filter(action="member_reassigned", details__reason="load").exists()
    assert post(admin_client, "card", step="start", reason="new member").status_code == 302
    assert post(admin_client, "card", step="arrive", reason="x").status_code == 400  # not yet sent
    assert MembershipCard.objects.get(customer=member).state == "collecting"


def test_a_supervisor_cannot_approve_overrides(member, boss):
    alice = club_admin("alice")
    post(client_for(alice), "override", tier="diamond", starts_on="2026-06-15", ends_on="2026-12-31", reason="r")
    override = TierOverride.objects.get()
    response = client_for(boss).post(
        "/admin/approvals/", {"kind": "override", "pk": override.pk, "decision": "approve"}
    )
    assert response.status_code == 403 and TierOverride.objects.get().status == "pending"


def test_the_override_admin_takes_an_msisdn(admin_client, member):
    # when staff add an override by the customer's number (no raw id)
    response = admin_client.post(
        "/admin/tiers/tieroverride/add/",
        {
            "msisdn": MSISDN,
            "tier": TierOverride._meta.get_field("tier").related_model.objects.get(code="diamond").pk,
            "reason": "group VIP",
            "starts_on": "2026-06-15",
            "ends_on": "2026-12-31",
        },
        follow=True,
    )
    # then it is created for her, and the message names it readably
    override = TierOverride.objects.get()
    assert override.customer == member
    page = html(response)
    assert f"Override #{override.pk} to Diamond" in page and "object (" not in page
    # an unknown number is a form error naming it
    bad = admin_client.post(
        "/admin/tiers/tieroverride/add/",
        {
            "msisdn": "13000000000",
            "tier": override.tier_id,
            "reason": "r",
            "starts_on": "2026-06-15",
            "ends_on": "2026-12-31",
        },
    )
    assert bad.status_code == 200 and "No customer with this msisdn in your branches." in html(bad)


@pytest.mark.parametrize(
    "path", ["/admin/tiers/tieroverride/", "/admin/points/pointsadjustment/", "/admin/points/pointsentry/"]
)
def test_override_and_points_admin_pages_show_no_object_captions(admin_client, member, path):
    alice = club_admin("alice")
    points_adjustment_request(customer=member, points=5000, reason="r", on=ON, at=NOW, actor=alice)
    post(client_for(alice), "override", tier="diamond", starts_on="2026-06-15", ends_on="2026-12-31", reason="r")
    page = html(admin_client.get(path))
    assert "object (" not in page
    assert "object (" not in html(admin_client.get(f"/admin/customers/customer/{member.pk}/change/"))
    override = TierOverride.objects.get()
    assert "object (" not in html(admin_client.get(f"/admin/tiers/tieroverride/{override.pk}/change/"))


ACTION_KEYS = [
    "redeem_benefit",
    "adjust_points",
    "redeem_points",
    "transfer_points",
    "override",
    "closure",
    "reassign",
    "card",
]


@pytest.mark.parametrize("action", [*ACTION_KEYS, "case_move"])
def test_every_action_is_403_for_a_supervisor_of_another_branch(member, action):
    other = make_supervisor("sz-boss")
    make_manager("E9", region=RegionFactory(code="SZ"), supervisor=other)
    response = post(client_for(other), action, reason="x", points=10)
    assert response.status_code == 403
    assert not ActionLog.objects.filter(action__startswith="member_").exists()
    assert not PointsAdjustment.objects.exists() and not TierOverride.objects.exists()


@pytest.mark.parametrize("action", ACTION_KEYS)
def test_every_action_without_a_reason_is_a_form_error(admin_client, member, action):
    response = post(admin_client, action, reason="")
    assert response.status_code == 400
    assert "Give a reason: it is kept in the audit trail with your name." in html(response)
    assert f'<details id="action-{action}" open>' in html(response)


def test_a_branch_supervisor_approves_a_points_adjustment_of_her_branch(member, boss):
    alice = club_admin("alice")
    adjustment = points_adjustment_request(customer=member, points=5000, reason="r", on=ON, at=NOW, actor=alice)
    client = client_for(boss)
    assert "r" in html(client.get("/admin/approvals/"))
    client.post("/admin/approvals/", {"kind": "points", "pk": adjustment.pk, "decision": "approve"})
    adjustment.refresh_from_db()
    assert adjustment.status == "applied" and adjustment.decided_by == boss


def test_find_a_member_by_the_last_4_digits(admin_client, member, manager):
    # one match opens her page
    response = admin_client.get("/admin/member/", {"msisdn": "7065"})
    assert response.status_code == 302 and response["Location"] == url()
    assert admin_client.get("/admin/member/", {"msisdn": "139****7065"})["Location"] == url()
    # several matches are listed; too few digits or none are a clear 400
    make_member(tier="gold", manager=manager, msisdn="13800007065")
    listed = admin_client.get("/admin/member/", {"msisdn": "7065"})
    assert listed.status_code == 200 and html(listed).count("/admin/member/1") == 2
    assert admin_client.get("/admin/member/", {"msisdn": "065"}).status_code == 400
    assert "ending in 9999" in html(admin_client.get("/admin/member/", {"msisdn": "9999"}))


def test_the_search_holds_her_branches_only(member):
    other = make_supervisor("sz-boss")
    make_manager("E9", region=RegionFactory(code="SZ"), supervisor=other)
    assert client_for(other).get("/admin/member/", {"msisdn": "7065"}).status_code == 400
