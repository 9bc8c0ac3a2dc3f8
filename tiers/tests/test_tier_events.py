"""`tier.changed` outbound events (DOMAIN §11): one per tier change, written with the change."""

import datetime as dt

import pytest
from django.db import transaction

from core.models import OutboxEvent
from customers import selectors as customer_selectors
from customers import services as customer_services
from tiers import engine, rules, services
from tiers.models import RatingChunk, TierChange
from tiers.tests.helpers import close_months, make_customer, population, run_month

pytestmark = pytest.mark.django_db

M = dt.date(2026, 12, 1)


def events():
    return list(OutboxEvent.objects.filter(type="tier.changed").order_by("id"))


def as_change(change: TierChange) -> dict:
    return {
        "from_tier": change.from_tier.code if change.from_tier else None,
        "to_tier": change.to_tier.code if change.to_tier else None,
        "reason": change.reason,
        "effective_on": change.effective_on.isoformat(),
        "valid_until": change.valid_until.isoformat() if change.valid_until else None,
        "run": change.run_id,
    }


def test_a_run_writes_one_event_per_tier_change_with_the_change_s_data(settings):
    # given customers of every outcome, in chunks of 3
    people = population()
    # when the month is run
    run = run_month(M, settings=settings, chunk_size=3)
    # then there is exactly one event per history row, with the same data and the customer's msisdn
    changes = {c.customer_id: c for c in TierChange.objects.filter(run=run).select_related("from_tier", "to_tier")}
    assert changes and len(changes) < len(people)  # some are held or unchanged: no event for them
    got = events()
    assert sorted(e.customer_id for e in got) == sorted(changes)
    msisdns = {c.pk: c.msisdn for c in people}
    for event in got:
        assert event.msisdn == msisdns[event.customer_id]
        assert event.data == as_change(changes[event.customer_id])
        assert event.as_message()["data"]["msisdn"] == event.msisdn
        assert event.occurred_at is not None and event.created_at is not None


def test_a_dry_run_writes_no_event(settings):
    population()
    run_month(M, dry_run=True, settings=settings, chunk_size=5)
    assert events() == []


def test_a_replayed_chunk_does_not_double_the_events(settings):
    # given a month run once
    population()
    run = run_month(M, settings=settings, chunk_size=4)
    before = len(events())
    assert before > 0
    # when a chunk is evaluated again (a worker retrying after its commit), in its own transaction
    chunk = RatingChunk.objects.filter(run=run).order_by("id").first()
    with transaction.atomic():
        engine.evaluate_chunk(
            run_id=run.pk,
            policy=rules.Policy.from_json(run.policy_snapshot),
            month=run.month,
            closed_months=customer_selectors.closed_months(),
            lo=chunk.lo,
            hi=chunk.hi,
            tier_ids=services._tier_ids(),
            apply=True,
        )
    # and the chunk task is delivered again
    assert services.tier_run_chunk(chunk_id=chunk.pk) is False
    # then nothing changed, so no new event
    assert len(events()) == before


def test_a_floor_applied_at_once_and_the_daily_step_write_their_events(django_user_model):
    # given a customer moving in with a gold floor (applied at once, between runs)
    customer = make_customer(join_date=dt.date(2012, 1, 1))
    services.tier_transfer_floor_set(
        customer=customer, tier_code="gold", from_region="XX", moved_on=dt.date(2026, 12, 10)
    )
    [moved] = events()
    assert (moved.customer_id, moved.msisdn) == (customer.pk, customer.msisdn)
    assert moved.data == {
        "from_tier": None,
        "to_tier": "gold",
        "reason": "transfer",
        "effective_on": "2026-12-10",
        "valid_until": "2026-12-31",
        "run": None,
    }
    # and a customer whose plan floor starts on 1 March (the daily step)
    other = make_customer(join_date=dt.date(2026, 10, 15), plan=("128", dt.date(2026, 10, 15)))
    customer_services.customer_change_plan(customer=other, plan_code="388", started_on=dt.date(2027, 3, 1))
    close_months(dt.date(2025, 1, 1), dt.date(2026, 11, 1))
    services.tier_floors_apply(on=dt.date(2027, 3, 1))
    daily = [e for e in events() if e.customer_id == other.pk]
    assert [e.data for e in daily] == [
        {
            "from_tier": None,
            "to_tier": "gold",
            "reason": "plan",
            "effective_on": "2027-03-01",
            "valid_until": None,
            "run": None,
        }
    ]
