"""Properties of the rating: more spend never lowers the tier; a month run twice changes nothing;
a run split into many chunks ends exactly like a run in one chunk."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiers import rules, services
from tiers.models import CustomerTier, TierChange
from tiers.tests.helpers import make_customer, run_month
from tiers.tests.test_engine_agrees_with_rules import M, customer_specs

POLICY = rules.Policy(
    kind=rules.ANNUAL,
    window_months=12,
    thresholds={"silver": Decimal(1000), "gold": Decimal(2000), "diamond": Decimal(4000)},
    ranks={"silver": 10, "gold": 20, "diamond": 30},
    tenure_bonus=((10, 300), (3, 200), (1, 100)),
    plan_tiers={"388": "gold"},
    key_person_tiers=(("contact", "A", "gold"),),
)
HYPO = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@settings(max_examples=300, deadline=None)
@given(
    spec=customer_specs,
    extra=st.lists(st.decimals(min_value=0, max_value=500, places=2), min_size=12, max_size=12),
)
def test_more_spend_never_gives_a_lower_tier(spec, extra):
    from tiers.tests.test_engine_agrees_with_rules import facts_of

    facts = facts_of(spec, POLICY)
    richer = facts_of(
        {**spec, "bills": [(b or Decimal(0)) + e for b, e in zip(spec["bills"], extra, strict=True)]}, POLICY
    )
    before = rules.evaluate(POLICY, M, facts)
    after = rules.evaluate(POLICY, M, richer)
    assert POLICY.rank(after.new_state.tier) >= POLICY.rank(before.new_state.tier)
    assert POLICY.rank(after.candidate.tier) >= POLICY.rank(before.candidate.tier)


def _population(specs, staff):
    return [
        make_customer(
            join_date=s["join_date"],
            bills={m: a for m, a in zip(rules.window_months(M, 12), s["bills"], strict=True) if a is not None},
            plan=s["plan"],
            key_roles=s["key_roles"],
            transfer=s["transfer"],
            override=s["override"],
            current=s["current"],
            product_type=s["product_type"],
            status=s["status"],
            creator=staff,
            approver=staff,
        )
        for s in specs
    ]


def _snapshot():
    states = sorted(CustomerTier.objects.values_list("customer_id", "tier__code", "source", "valid_until", "since"))
    history = sorted(
        TierChange.objects.values_list(
            "customer_id",
            "from_tier__code",
            "to_tier__code",
            "transition",
            "reason",
            "score",
            "effective_on",
            "valid_until",
        )
    )
    return states, history


@pytest.mark.django_db
@HYPO
@given(specs=st.lists(customer_specs, min_size=1, max_size=10))
def test_running_a_month_twice_changes_nothing(specs, django_user_model):
    staff = django_user_model.objects.get_or_create(username="staff")[0]
    with transaction.atomic():
        _population(specs, staff)
        run_month(M)
        before = _snapshot()
        # the applied run exists, so asking again returns it; a re-evaluation (dry run) finds nothing to change
        again, created = services.tier_run_start(month=M, force=True, dispatch=False)
        assert not created
        dry = run_month(M, dry_run=True)
        assert dry.dry_changes.count() == 0
        assert set(k for k, v in dry.counts.items() if v) <= {"unchanged", "held"}
        assert _snapshot() == before
        transaction.set_rollback(True)


@pytest.mark.django_db
@HYPO
@given(specs=st.lists(customer_specs, min_size=2, max_size=10), chunk=st.integers(min_value=1, max_value=3))
def test_a_chunked_run_equals_a_single_chunk_run(specs, chunk, django_user_model, settings):
    staff = django_user_model.objects.get_or_create(username="staff")[0]
    results = []
    for chunk_size in (chunk, 1_000_000):
        with transaction.atomic():
            customers = _population(specs, staff)
            run = run_month(M, chunk_size=chunk_size, settings=settings)
            assert run.chunks.count() == -(-len(customers) // chunk_size)
            position = {c.id: i for i, c in enumerate(customers)}  # ids differ between the two populations
            states, history = _snapshot()
            results.append(
                (
                    sorted((position[c], *rest) for c, *rest in states),
                    sorted((position[c], *rest) for c, *rest in history),
                    {k: v for k, v in run.counts.items() if v},
                )
            )
            transaction.set_rollback(True)
    assert results[0] == results[1]
