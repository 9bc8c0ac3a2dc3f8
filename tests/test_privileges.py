"""Privileges that other systems apply (DOMAIN §10, API.md `GET /customers/{msisdn}/privileges/`) and their
`privileges.changed` events (DOMAIN §11): written with every change of what the endpoint answers — a run's joins and
leaves (set-based in the chunk), the daily floors step, a tier change between runs, new credit stars."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import OutboxEvent
from core.tests.helpers import assert_error
from points import rules as points_rules
from points import selectors as points_selectors
from points import services as points_services
from points.models import CreditRating
from tiers import rules, services
from tiers.models import TierChange
from tiers.tests.helpers import make_customer, monthly_bills, run_month

pytestmark = pytest.mark.django_db

M = dt.date(2026, 12, 1)
MEMBER_5_STARS = {
    "holiday_no_suspension": True,
    "delayed_suspension_hours": 72,
    "credit_reactivation_hours": 72,
    "priority_hotline": True,
    "priority_hall": True,
}
NOTHING = {
    "holiday_no_suspension": False,
    "delayed_suspension_hours": 0,
    "credit_reactivation_hours": 0,
    "priority_hotline": False,
    "priority_hall": False,
}


def stars(customer, n: int) -> None:
    CreditRating.objects.update_or_create(
        customer=customer, defaults={"stars": n, "score": 100 * n, "as_of": M, "computed_at": timezone.now()}
    )


def privilege_events() -> dict[str, list[dict]]:
    """The `privileges.changed` events by msisdn, as a partner reads them (the message's data without the msisdn)."""
    got: dict[str, list[dict]] = {}
    for e in OutboxEvent.objects.filter(type="privileges.changed").order_by("id"):
        data = e.as_message()["data"]
        got.setdefault(data.pop("msisdn"), []).append(data)
    return got


def answer(api, customer) -> dict:
    response = api.get(f"/api/v1/customers/{customer.msisdn}/privileges/")
    assert response.status_code == 200, response.content
    return response.json()


# -- the rule ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member, n, hours", [(True, 5, 72), (True, 4, 48), (True, 3, 24), (True, 2, 0), (True, 0, 0), (False, 5, 0)]
)
def test_members_get_the_holiday_and_priority_privileges_and_the_hours_of_their_stars(member, n, hours):
    got = points_rules.privileges(points_rules.DEFAULT_CREDIT_TABLE, member=member, stars=n)
    assert got == {
        "holiday_no_suspension": member,
        "delayed_suspension_hours": hours,
        "credit_reactivation_hours": hours,
        "priority_hotline": member,
        "priority_hall": member,
    }


# -- the endpoint ------------------------------------------------------------------------------------------------------


def test_the_endpoint_answers_a_member_s_privileges_and_nothing_for_a_non_member(api):
    # given a gold member with five stars, a gold member never rated, and a five-star customer who is not a member
    gold = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    stars(gold, 5)
    unrated = make_customer(current=rules.TierState("gold", "plan", None))
    outsider = make_customer()
    stars(outsider, 5)
    # when other systems ask
    # then the member gets everything, her stars' 72 hours included; the unrated member no hours; the outsider nothing
    assert answer(api, gold) == MEMBER_5_STARS
    assert answer(api, unrated) == {**MEMBER_5_STARS, "delayed_suspension_hours": 0, "credit_reactivation_hours": 0}
    assert answer(api, outsider) == NOTHING
    # and an unknown number is a 404
    assert_error(api.get("/api/v1/customers/13999999999/privileges/"), 404, "unknown_customer")


def test_the_schema_documents_the_privileges(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/customers/{msisdn}/privileges/"]["get"]
    assert operation["summary"] and operation["tags"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == set(points_rules.PRIVILEGES)


# -- events: a rating run, set-based per chunk -------------------------------------------------------------------------


def test_a_run_tells_who_joined_or_left_what_she_now_gets_and_nobody_else(api, settings):
    # given a newcomer with five stars, a gold whose validity ended and whose spend fell (three stars), a silver
    # moving up to gold (four stars), and a customer staying out, in chunks of two
    bills = lambda amount: monthly_bills(M, [amount] * 12)  # noqa: E731
    joiner = make_customer(join_date=dt.date(2012, 1, 1), bills=bills(100))
    leaver = make_customer(
        join_date=dt.date(2012, 1, 1), bills=bills(20), current=rules.TierState("gold", "score", dt.date(2026, 11, 30))
    )
    climber = make_customer(
        join_date=dt.date(2012, 1, 1),
        bills=bills(200),
        current=rules.TierState("silver", "score", dt.date(2026, 11, 30)),
    )
    outsider = make_customer(join_date=dt.date(2012, 1, 1), bills=bills(10))
    for customer, n in ((joiner, 5), (leaver, 3), (climber, 4), (outsider, 5)):
        stars(customer, n)
    before = {c.msisdn: answer(api, c) for c in (joiner, leaver, climber, outsider)}
    # when the month is run
    run = run_month(M, settings=settings, chunk_size=2)
    # then the joiner and the leaver each got one event with what the endpoint now answers; the climber's privileges
    # did not change (every tier has them) and the outsider's neither: no event for them
    assert {c.customer_id: c.transition for c in TierChange.objects.filter(run=run)} == {
        joiner.pk: "joined",
        leaver.pk: "left",
        climber.pk: "upgraded",
    }
    after = {c.msisdn: answer(api, c) for c in (joiner, leaver, climber, outsider)}
    assert privilege_events() == {joiner.msisdn: [MEMBER_5_STARS], leaver.msisdn: [NOTHING]}
    assert after[joiner.msisdn] == MEMBER_5_STARS != before[joiner.msisdn]
    assert after[leaver.msisdn] == NOTHING != before[leaver.msisdn]
    assert after[climber.msisdn] == before[climber.msisdn]
    # and each comes after the customer's tier.changed (per-customer order)
    for customer in (joiner, leaver):
        types = OutboxEvent.objects.filter(customer_id=customer.pk).order_by("id").values_list("type", flat=True)
        assert list(types) == ["tier.changed", "privileges.changed"]


def test_a_dry_run_or_a_replayed_chunk_writes_no_privileges_event(settings):
    make_customer(join_date=dt.date(2012, 1, 1), bills=monthly_bills(M, [100] * 12))
    run_month(M, dry_run=True, settings=settings, chunk_size=2)
    assert privilege_events() == {}
    run = run_month(M, settings=settings, chunk_size=2)
    assert len(privilege_events()) == 1
    # a chunk delivered again is done already: nothing more
    for chunk in run.chunks.all():
        services.tier_run_chunk(chunk_id=chunk.pk)
    assert len(privilege_events()) == 1


# -- events: between runs --------------------------------------------------------------------------------------------


def test_the_daily_floors_step_and_a_closure_tell_the_privileges_they_change(api):
    # given a customer whose 588 plan starts on 10 December (a gold floor), with four stars
    on = dt.date(2026, 12, 10)
    planned = make_customer(plan=("588", on))
    stars(planned, 4)
    # when the daily floors step runs that day
    assert services.tier_floors_apply(on=on) == {"joined": 1}
    # then she gets her privileges with her event
    four_stars = {**MEMBER_5_STARS, "delayed_suspension_hours": 48, "credit_reactivation_hours": 48}
    assert privilege_events() == {planned.msisdn: [four_stars]} and answer(api, planned) == four_stars
    # and a second run of the step changes nothing and tells nothing
    assert services.tier_floors_apply(on=on) == {}
    assert len(privilege_events()[planned.msisdn]) == 1
    # when she is closed (the tier goes at once)
    with transaction.atomic():
        assert services.tier_remove_for_closure(customer=planned, on=dt.date(2026, 12, 20))
    # then her privileges end, with an event
    assert privilege_events()[planned.msisdn] == [four_stars, NOTHING] and answer(api, planned) == NOTHING


# -- events: new credit stars ----------------------------------------------------------------------------------------


def test_new_credit_stars_tell_the_members_whose_hours_change(api):
    # given members and non-members with stored stars, and a member never rated
    on = dt.date(2026, 12, 1)
    gold = rules.TierState("gold", "plan", None)
    rich = dict(join_date=dt.date(2010, 1, 1), bills=monthly_bills(on, [500] * 6))  # gotone, 16 years, > 400: 5 stars
    poor = dict(join_date=dt.date(2025, 6, 1), bills=monthly_bills(on, [10] * 6))  # gotone, 1 year, ≤ 20: 1 star
    falls = make_customer(current=gold, **poor)
    rises = make_customer(current=gold, **rich)
    same = make_customer(current=gold, **rich)
    never_rated = make_customer(current=gold, **rich)
    outsider = make_customer(**poor)
    stars(falls, 5), stars(rises, 2), stars(same, 5), stars(outsider, 5)
    people = (falls, rises, same, never_rated, outsider)
    before = {c.msisdn: answer(api, c) for c in people}
    # when the monthly credit stars are computed (set-based, in chunks)
    points_services.credit_ratings_compute(on=on, actor="test")
    # then exactly the members whose answer changed got one event each, with the new answer
    after = {c.msisdn: answer(api, c) for c in people}
    changed = {m for m in after if after[m] != before[m]}
    assert changed == {falls.msisdn, rises.msisdn, never_rated.msisdn}
    assert privilege_events() == {m: [after[m]] for m in changed}
    assert after[falls.msisdn]["credit_reactivation_hours"] == 0 and after[rises.msisdn] == MEMBER_5_STARS
    # and computing them again tells nothing
    points_services.credit_ratings_compute(on=on, actor="test", force=True)
    assert sum(len(v) for v in privilege_events().values()) == 3


def test_stars_refreshed_for_one_member_tell_her_new_hours(api):
    on = dt.date(2026, 12, 1)
    member = make_customer(
        current=rules.TierState("silver", "plan", None),
        join_date=dt.date(2010, 1, 1),
        bills=monthly_bills(on, [500] * 6),
    )
    points_services.credit_rating_refresh(customer=member, on=on)
    assert privilege_events() == {member.msisdn: [MEMBER_5_STARS]} == {member.msisdn: [answer(api, member)]}
    points_services.credit_rating_refresh(customer=member, on=on)
    assert len(privilege_events()[member.msisdn]) == 1


def test_the_events_sql_is_generated_from_the_rule_for_every_input():
    # the SQL looks each (member, stars, opted out) up in rules.privilege_table: every input is there, none twice
    table = points_selectors.credit_table()
    answers = points_rules.privilege_table(table)
    assert len(answers) == 2 * 2 * len(points_rules.STARS)
    for opted_out in (False, True):
        for member in (False, True):
            for n in points_rules.STARS:
                key = points_rules.privilege_key(member=member, stars=n, opted_out=opted_out)
                assert answers[key] == points_rules.privileges(table, member=member, stars=n, opted_out=opted_out)


# -- the holiday no-suspension opt-out (DOMAIN §10 "unless they opted out") --------------------------------------------


def test_a_member_who_opts_out_loses_only_the_holiday_no_suspension_and_partners_are_told(api):
    # given a five-star member
    member = make_customer(current=rules.TierState("gold", "score", None))
    stars(member, 5)
    assert answer(api, member) == MEMBER_5_STARS
    at = timezone.make_aware(dt.datetime(2026, 12, 3, 10, 0))
    # when she opts out of the holiday no-suspension
    assert points_services.holiday_opt_out_set(customer=member, opted_out=True, at=at, actor="test", reason="asked")
    # then the endpoint and one privileges.changed event say so, and nothing else changed
    opted = {**MEMBER_5_STARS, "holiday_no_suspension": False}
    assert answer(api, member) == opted
    assert privilege_events() == {member.msisdn: [opted]}
    # and the same choice again tells nothing; opting back in tells the full answer again
    assert not points_services.holiday_opt_out_set(customer=member, opted_out=True, at=at, actor="test")
    points_services.holiday_opt_out_set(customer=member, opted_out=False, at=at, actor="test")
    assert privilege_events() == {member.msisdn: [opted, MEMBER_5_STARS]}


def test_new_credit_stars_of_an_opted_out_member_are_told_without_the_holiday_privilege(api):
    # given a gold member rated two stars who opted out of the holiday no-suspension
    on = dt.date(2026, 12, 1)
    member = make_customer(
        current=rules.TierState("gold", "plan", None),
        join_date=dt.date(2010, 1, 1),
        bills=monthly_bills(on, [500] * 6),
    )
    stars(member, 2)
    points_services.holiday_opt_out_set(customer=member, opted_out=True, at=timezone.now(), actor="test")
    OutboxEvent.objects.all().delete()
    # when the monthly credit stars (set-based SQL) give her five
    points_services.credit_ratings_compute(on=on, actor="test")
    # then her one event has the hours of five stars and no holiday no-suspension, as the endpoint says
    expected = {**MEMBER_5_STARS, "holiday_no_suspension": False}
    assert privilege_events() == {member.msisdn: [expected]} and answer(api, member) == expected
