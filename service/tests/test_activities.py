"""Club activities (DOMAIN §10): invitations as obligations, sign-ups with tier quotas and the waitlist, promotion
in order, the window and who is invited, attendance after the day, the report."""

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import NotFoundError, RuleViolation
from core.models import ActionLog
from customers.factories import RegionFactory
from managers.models import Obligation, ObligationKind, ObligationStatus
from managers.tests.helpers import make_manager, make_member
from service.activities import selectors, services
from service.activities.factories import OPENS, make_activity
from service.activities.models import Activity, ActivityTierQuota, Signup, SignupStatus

pytestmark = pytest.mark.django_db

AT = OPENS + dt.timedelta(hours=2)


@pytest.fixture
def club():
    gz, sz = RegionFactory(code="GZ", name="广州"), RegionFactory(code="SZ", name="深圳")
    e1, e2 = make_manager("E1", region=gz), make_manager("E2", region=sz)
    return gz, sz, e1, e2


def members(manager, n, tier="gold", start=0):
    return [
        make_member(
            manager=manager, tier=tier, msisdn=f"139{manager.pk % 100:02d}{start + i:06d}", name=f"会员{start + i}"
        )
        for i in range(n)
    ]


def signup(activity, customer, at=AT):
    return services.activity_signup(activity=activity, customer=customer, at=at, actor=None)


def test_publishing_opens_a_call_for_each_invited_member_due_at_sign_up_close(club):
    # given gold and silver members in GZ and SZ, and diamond members nobody invites
    gz, sz, e1, e2 = club
    gold_gz, silver_sz = members(e1, 3), members(e2, 2, tier="silver")
    members(e1, 2, tier="diamond", start=50)
    # when a club-wide activity for gold and silver is published
    activity = make_activity(quotas={"gold": 5, "silver": None})
    # then each invited member's manager owes a call, due the day the sign-up closes, nobody else
    invitations = Obligation.objects.filter(kind=ObligationKind.ACTIVITY_INVITATION, period=f"act{activity.pk}")
    assert {(o.customer_id, o.manager_id) for o in invitations} == {(c.pk, e1.pk) for c in gold_gz} | {
        (c.pk, e2.pk) for c in silver_sz
    }
    assert {o.due_on for o in invitations} == {dt.date(2026, 11, 12)}
    # and publishing again opens nothing more
    assert services.activity_publish(activity=activity, at=AT, actor=None) == 0


def test_a_branch_activity_invites_its_branch_only(club):
    gz, sz, e1, e2 = club
    ours, theirs = members(e1, 2), members(e2, 2)
    activity = make_activity(region=gz)
    invited = set(Obligation.objects.filter(period=f"act{activity.pk}").values_list("customer_id", flat=True))
    assert invited == {c.pk for c in ours}
    # and a member of the other branch is refused with not_invited
    with pytest.raises(RuleViolation) as exc:
        signup(activity, theirs[0])
    assert exc.value.code == "not_invited"


def test_seats_up_to_the_quota_then_the_waitlist_in_order_and_a_cancellation_promotes_the_first_who_fits(club):
    # given an activity with 4 seats and a gold quota of 2
    gz, sz, e1, e2 = club
    golds, silvers = members(e1, 4), members(e1, 3, tier="silver", start=10)
    activity = make_activity(capacity=4, quotas={"gold": 2, "silver": None})
    # when 4 gold members sign up, then 3 silver members
    answers = [signup(activity, c, AT + dt.timedelta(minutes=i)) for i, c in enumerate(golds + silvers)]
    # then 2 gold are confirmed, 2 gold waitlisted (1, 2), 2 silver confirmed, the third silver waitlisted (3)
    assert [(a.signup.status, a.position) for a in answers] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("confirmed", None),
        ("confirmed", None),
        ("waitlisted", 3),
    ]
    activity.refresh_from_db()
    assert activity.confirmed == 4
    assert ActivityTierQuota.objects.get(activity=activity, tier__code="gold").confirmed == 2
    # when a silver member cancels: the first waiting member who fits is the silver one (gold's quota is full)
    result = services.signup_cancel(activity=activity, customer=silvers[0], at=AT + dt.timedelta(days=1), actor=None)
    assert [s.customer_id for s in result.promoted] == [silvers[2].pk]
    # when a gold member cancels: the first waiting gold member moves up
    result = services.signup_cancel(activity=activity, customer=golds[0], at=AT + dt.timedelta(days=1), actor=None)
    assert [s.customer_id for s in result.promoted] == [golds[2].pk]
    # and the last one waiting is now first in line
    assert services.waitlist_place(Signup.objects.get(customer=golds[3])) == 1
    assert Signup.objects.filter(activity=activity, status="confirmed").count() == 4
    # and her manager is told of the promotion
    assert e1.user.notifications.filter(kind__startswith=f"activity:{activity.pk}:").count() == 2


def test_signing_up_closes_her_invitation_and_again_answers_her_sign_up(club):
    gz, sz, e1, e2 = club
    (member,) = members(e1, 1)
    activity = make_activity()
    first = signup(activity, member)
    assert first.created and first.signup.status == "confirmed"
    assert Obligation.objects.get(customer=member, period=f"act{activity.pk}").status == ObligationStatus.DONE
    again = signup(activity, member)
    assert not again.created and again.signup.pk == first.signup.pk
    assert ActionLog.objects.filter(action="activity_signup", object_id=str(first.signup.pk)).count() == 1


@pytest.mark.parametrize(
    ("at", "why"),
    [(OPENS - dt.timedelta(minutes=1), "has not opened yet"), (OPENS + dt.timedelta(days=10), "has closed")],
)
def test_outside_the_window_the_sign_up_is_refused(club, at, why):
    gz, sz, e1, e2 = club
    (member,) = members(e1, 1)
    activity = make_activity()
    with pytest.raises(RuleViolation) as exc:
        signup(activity, member, at)
    assert exc.value.code == "signup_closed" and why in str(exc.value)
    assert not Signup.objects.exists()


def test_a_tier_not_invited_or_a_non_member_is_refused(club):
    gz, sz, e1, e2 = club
    (diamond,) = members(e1, 1, tier="diamond")
    activity = make_activity(quotas={"gold": None})
    with pytest.raises(RuleViolation) as exc:
        signup(activity, diamond)
    assert exc.value.code == "not_invited" and "tier is not invited" in str(exc.value)


def test_a_draft_or_cancelled_activity_takes_no_sign_up(club):
    gz, sz, e1, e2 = club
    (member,) = members(e1, 1)
    draft = make_activity(publish=False)
    with pytest.raises(RuleViolation):
        signup(draft, member)
    activity = make_activity()
    signup(activity, member)
    services.activity_cancel(activity=activity, at=AT, actor=None)
    assert Signup.objects.get(activity=activity).status == "cancelled"
    assert not Obligation.objects.filter(period=f"act{activity.pk}", status="open").exists()


def test_cancelling_without_a_sign_up_or_after_the_start(club):
    gz, sz, e1, e2 = club
    a, b = members(e1, 2)
    activity = make_activity()
    with pytest.raises(NotFoundError):
        services.signup_cancel(activity=activity, customer=a, at=AT, actor=None)
    signup(activity, b)
    with pytest.raises(RuleViolation) as exc:
        services.signup_cancel(activity=activity, customer=b, at=activity.starts_at, actor=None)
    assert exc.value.code == "activity_started"


def test_attendance_after_the_day_and_the_report_per_tier_and_branch(club):
    # given 3 gold (quota 2) and 1 silver member of GZ, one of SZ, signed up for a 120-yuan club-wide activity
    gz, sz, e1, e2 = club
    golds, (silver,), (sz_gold,) = members(e1, 3), members(e1, 1, "silver", 10), members(e2, 1)
    activity = make_activity(capacity=10, quotas={"gold": 2, "silver": None})
    for c in [*golds, silver, sz_gold]:
        signup(activity, c)
    seats = dict(Signup.objects.filter(activity=activity).values_list("customer_id", "pk"))
    # when attendance is recorded before the day: refused
    with pytest.raises(RuleViolation) as exc:
        services.signups_attendance(
            activity=activity, signup_ids=[seats[golds[0].pk]], attended=True, at=AT, actor=None
        )
    assert exc.value.code == "not_yet_held"
    # when after the day gold 0 and the silver member came, gold 1 did not
    after = activity.starts_at + dt.timedelta(hours=3)
    came = [seats[golds[0].pk], seats[silver.pk], seats[golds[2].pk]]  # gold 2 is waitlisted: left alone
    assert services.signups_attendance(activity=activity, signup_ids=came, attended=True, at=after, actor=None) == 2
    services.signups_attendance(
        activity=activity, signup_ids=[seats[golds[1].pk]], attended=False, at=after, actor=None
    )
    # then the report counts seats, attendance and cost per branch and tier
    report = selectors.activity_report(year=2026, region_ids=None)
    rows = {(r["region"].code, r["tier"].code): r for r in report["rows"]}
    assert rows["GZ", "gold"]["seats"] == 2 and rows["GZ", "gold"]["waitlisted"] == 1
    assert rows["GZ", "gold"]["attended"] == 1 and rows["GZ", "gold"]["no_show"] == 1
    assert rows["GZ", "gold"]["cost"] == Decimal("240.00") and rows["GZ", "gold"]["attendance_rate"] == 50.0
    assert rows["GZ", "silver"]["attended_cost"] == Decimal("120.00")
    # (the gold quota is club-wide: the SZ member came third and waits)
    assert rows["SZ", "gold"]["waitlisted"] == 1 and rows["SZ", "gold"]["attendance_rate"] is None
    assert report["totals"]["seats"] == 3 and report["totals"]["cost"] == Decimal("360.00")
    # and a supervisor's report covers her branch only
    only_sz = selectors.activity_report(year=2026, region_ids=[sz.pk])
    assert [(r["region"].code, r["waitlisted"]) for r in only_sz["rows"]] == [("SZ", 1)]


def test_a_larger_capacity_promotes_from_the_waitlist(club):
    gz, sz, e1, e2 = club
    golds = members(e1, 3)
    activity = make_activity(capacity=1, quotas={"gold": None})
    for c in golds:
        signup(activity, c)
    Activity.objects.filter(pk=activity.pk).update(capacity=2)
    promoted = services.activity_promote(activity=activity, at=AT, actor=None)
    assert [s.customer_id for s in promoted] == [golds[1].pk]
    assert Signup.objects.get(customer=golds[2]).status == SignupStatus.WAITLISTED
