"""The set-based SQL engine and the reference rules (`tiers.rules.evaluate`) decide alike.

Hypothesis draws populations of customers (bills with fen, tenure around the boundaries, plans started
before or in the run month, key-person roles, move-ins, overrides, a current tier valid or expired, other
product types, closed customers) and checks every customer's transition and new state, on the database
the suite runs on (SQLite by default, PostgreSQL in CI)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from core import dates
from customers.models import PlanPeriod
from tiers import rules, services
from tiers.models import TierChange
from tiers.tests.helpers import close_months, make_customer, state_of

M = dt.date(2026, 12, 1)
TIERS = [None, "silver", "gold", "diamond"]

amounts = st.decimals(min_value=0, max_value=900, places=2, allow_nan=False, allow_infinity=False)
join_dates = st.sampled_from(
    [
        dt.date(2025, 12, 1),
        dt.date(2025, 12, 2),
        dt.date(2025, 11, 30),
        dt.date(2023, 12, 1),
        dt.date(2023, 12, 2),
        dt.date(2016, 12, 1),
        dt.date(2016, 12, 2),
        dt.date(2010, 5, 5),
        dt.date(2026, 6, 1),
    ]
)
states = st.one_of(
    st.just(rules.NONE),
    st.builds(
        rules.TierState,
        st.sampled_from(TIERS[1:]),
        st.sampled_from(["score", "plan", "key_person", "override", "transfer"]),
        st.sampled_from([None, dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2027, 5, 31)]),
    ),
)
customer_specs = st.fixed_dictionaries(
    {
        "join_date": join_dates,
        "bills": st.lists(st.one_of(st.none(), amounts), min_size=12, max_size=12),
        "plan": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(["288", "388", "588", "128"]),
                st.sampled_from([dt.date(2026, 3, 5), dt.date(2026, 12, 1)]),
            ),
        ),
        "key_roles": st.lists(
            st.tuples(
                st.sampled_from(["top_decision_maker", "contact", "division_cadre", "influencer"]),
                st.sampled_from("ABCD"),
                st.sampled_from([dt.datetime(2026, 11, 3, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)]),
            ),
            max_size=2,
        ),
        "transfer": st.one_of(
            st.none(),
            st.tuples(st.sampled_from(TIERS[1:]), st.sampled_from([dt.date(2026, 4, 1), dt.date(2025, 6, 1)])),
        ),
        "override": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(TIERS[1:]),
                st.just(dt.date(2026, 11, 1)),
                st.sampled_from([dt.date(2026, 11, 30), dt.date(2027, 1, 31)]),
            ),
        ),
        "current": states,
        "product_type": st.sampled_from(["primary", "primary", "primary", "data_card"]),
        "status": st.sampled_from(["active", "active", "suspended", "closed"]),
    }
)


def facts_of(spec, policy: rules.Policy) -> rules.CustomerFacts:
    E = rules.evaluation_date(M, policy.run_day)
    bills = {m: a for m, a in zip(rules.window_months(M, 12), spec["bills"], strict=True) if a is not None}
    window = set(rules.window_months(M, policy.window_months))
    plan = spec["plan"] if spec["plan"] and spec["plan"][1] <= E else None
    E_start = timezone.make_aware(dt.datetime.combine(E, dt.time.min))
    transfer = None
    if spec["transfer"] and spec["transfer"][1] <= E <= dt.date(spec["transfer"][1].year, 12, 31):
        transfer = (spec["transfer"][0], dt.date(spec["transfer"][1].year, 12, 31))
    override = None
    if spec["override"] and spec["override"][1] <= E <= spec["override"][2]:
        override = (spec["override"][0], spec["override"][2])
    return rules.CustomerFacts(
        join_date=spec["join_date"],
        product_type=spec["product_type"],
        status=spec["status"],
        bills={m: a for m, a in bills.items() if m in window},
        plan_code=plan[0] if plan else None,
        plan_started_on=plan[1] if plan else None,
        key_person_roles=[(r, c) for r, c, at in spec["key_roles"] if at < E_start],
        transfer=transfer,
        override=override,
        current=spec["current"],
    )


def check_population(specs, policy_model, django_user_model):
    """Each example in a savepoint rolled back at the end, so examples do not see each other."""
    with transaction.atomic():
        _check_population(specs, policy_model, django_user_model)
        transaction.set_rollback(True)


def _check_population(specs, policy_model, django_user_model):
    staff = django_user_model.objects.get_or_create(username="staff")[0]
    close_months(dates.add_months(M, -24), dates.add_months(M, -1))
    customers = [
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
    run, _ = services.tier_run_start(month=M, policy=policy_model, force=True, dispatch=False)
    policy = rules.Policy.from_json(run.policy_snapshot)
    services.tier_run_execute(run=run)
    run.refresh_from_db()
    assert run.status == "done", run.error
    expected_counts: dict[str, int] = {}
    for customer, spec in zip(customers, specs, strict=True):
        expected = rules.evaluate(policy, M, facts_of(spec, policy))
        expected_counts[expected.transition] = expected_counts.get(expected.transition, 0) + 1
        assert state_of(customer) == expected.new_state, (spec, expected)
        change = TierChange.objects.filter(customer=customer, run=run).first()
        if expected.changed:
            assert change is not None and change.transition == expected.transition, (spec, expected)
            assert change.reason == expected.reason
            assert change.score == expected.score
        else:
            assert change is None, (spec, expected)
    assert {k: v for k, v in run.counts.items() if v} == expected_counts


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(specs=st.lists(customer_specs, min_size=1, max_size=12))
def test_annual_policy_engine_agrees_with_rules(specs, django_user_model):
    from tiers.models import RatingPolicy

    check_population(specs, RatingPolicy.objects.get(code="annual"), django_user_model)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(specs=st.lists(customer_specs, min_size=1, max_size=12))
def test_average_spend_engine_agrees_with_rules(specs, django_user_model):
    from tiers.models import RatingPolicy

    policy = RatingPolicy.objects.get(code="average6")
    policy.expiry_day = 8
    policy.save()
    check_population(specs, policy, django_user_model)


def test_amounts_strategy_produces_fen():
    # the bills the populations draw: 0 to 900 yuan, exact to the fen ...
    @given(amount=amounts)
    def exact_to_the_fen(amount):
        assert Decimal(0) <= amount <= Decimal(900)
        assert amount == amount.quantize(Decimal("0.01"))

    exact_to_the_fen()
    # ... and some with fen (not only whole yuan), or the engine's rounding goes untested
    amount = find(amounts, lambda a: a != a.to_integral_value())
    assert amount != amount.to_integral_value()


# -- floors that start and lapse between runs (DOMAIN §3): runs and daily floors steps, replayed by the rules -------

JAN = dt.date(2027, 1, 1)
# December's run, daily steps (a floor starts, an override ends, move-ins lapse on 1 Jan), January's run, a day after
TIMELINE = [
    ("run", M),
    ("day", dt.date(2026, 12, 15)),
    ("day", dt.date(2026, 12, 21)),
    ("day", JAN),
    ("run", JAN),
    ("day", dt.date(2027, 1, 16)),
]

beside_states = st.builds(
    rules.TierState,
    st.sampled_from(TIERS[1:]),
    st.sampled_from(["plan", "key_person", "override", "transfer"]),
    st.sampled_from([None, dt.date(2026, 12, 31), dt.date(2027, 1, 15)]),
    st.sampled_from(TIERS[1:]),
    st.sampled_from([dt.date(2026, 11, 30), dt.date(2026, 12, 20), dt.date(2027, 5, 31)]),
)
timeline_specs = st.builds(
    lambda spec, plan2, override, transfer, role_at, current: {
        **spec,
        "plan2": plan2,
        "override": override or spec["override"],
        "transfer": transfer or spec["transfer"],
        "key_roles": [(r, c, role_at or at) for r, c, at in spec["key_roles"]],
        "current": current or spec["current"],
    },
    customer_specs,
    st.one_of(st.none(), st.tuples(st.sampled_from(["388", "128"]), st.sampled_from([dt.date(2026, 12, 15), JAN]))),
    st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(TIERS[1:]),
            st.sampled_from([dt.date(2026, 12, 15), dt.date(2026, 12, 2)]),
            st.sampled_from([dt.date(2026, 12, 20), dt.date(2027, 1, 15)]),
        ),
    ),
    st.one_of(st.none(), st.tuples(st.sampled_from(TIERS[1:]), st.just(dt.date(2026, 12, 10)))),
    st.one_of(st.none(), st.just(dt.datetime(2026, 12, 14, 20, tzinfo=dt.UTC))),
    st.one_of(st.none(), beside_states),
)


def facts_on(spec, policy: rules.Policy, on: dt.date, month: dt.date, current: rules.TierState) -> rules.CustomerFacts:
    """The facts of `spec` as of `on` (the floors in force that day; the bills of `month`'s window)."""
    bills = {m: a for m, a in zip(rules.window_months(M, 12), spec["bills"], strict=True) if a is not None}
    window = set(rules.window_months(month, policy.window_months))
    plans = [x for x in (spec["plan"], spec["plan2"]) if x and x[1] <= on]
    plan = max(plans, key=lambda x: x[1]) if plans else None
    start = timezone.make_aware(dt.datetime.combine(on, dt.time.min))
    transfer = None
    if spec["transfer"] and spec["transfer"][1] <= on <= dt.date(spec["transfer"][1].year, 12, 31):
        transfer = (spec["transfer"][0], dt.date(spec["transfer"][1].year, 12, 31))
    override = None
    if spec["override"] and spec["override"][1] <= on <= spec["override"][2]:
        override = (spec["override"][0], spec["override"][2])
    return rules.CustomerFacts(
        join_date=spec["join_date"],
        product_type=spec["product_type"],
        status=spec["status"],
        bills={m: a for m, a in bills.items() if m in window},
        plan_code=plan[0] if plan else None,
        plan_started_on=plan[1] if plan else None,
        key_person_roles=[(r, c) for r, c, at in spec["key_roles"] if at < start],
        transfer=transfer,
        override=override,
        current=current,
    )


def check_timeline(specs, policy_model, django_user_model):
    with transaction.atomic():
        staff = django_user_model.objects.get_or_create(username="staff")[0]
        close_months(dates.add_months(M, -24), M)
        customers = []
        for s in specs:
            customer = make_customer(
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
            if s["plan2"] and s["plan2"][1] != (s["plan"] or (None, None))[1]:
                PlanPeriod.objects.create(customer=customer, plan_code=s["plan2"][0], started_on=s["plan2"][1])
            else:
                s["plan2"] = None
            customers.append(customer)
        expected = [s["current"] for s in specs]
        policy = services.policy_rules(policy_model)
        for kind, on in TIMELINE:
            if kind == "run":
                run, _ = services.tier_run_start(month=on, policy=policy_model, force=True, dispatch=False)
                services.tier_run_execute(run=run, follow_up=False)
                run.refresh_from_db()
                assert run.status == "done", run.error
            else:
                services.tier_floors_apply(on=on)
            for i, (customer, spec) in enumerate(zip(customers, specs, strict=True)):
                month = on.replace(day=1)
                facts = facts_on(spec, policy, on, month, expected[i])
                if kind == "run":
                    decision = rules.evaluate(policy, month, facts)
                    change = TierChange.objects.filter(customer=customer, run=run).first()
                else:
                    decision = rules.evaluate_day(policy, on, facts)
                    change = TierChange.objects.filter(customer=customer, run=None, effective_on=on).first()
                expected[i] = decision.new_state
                assert state_of(customer) == decision.new_state, (kind, on, spec, decision)
                if decision.changed:
                    assert change is not None, (kind, on, spec, decision)
                    assert (change.transition, change.reason) == (decision.transition, decision.reason)
                else:
                    assert change is None, (kind, on, spec, decision)
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(specs=st.lists(timeline_specs, min_size=1, max_size=8))
def test_floors_that_start_and_lapse_between_runs_engine_agrees_with_rules(specs, django_user_model):
    from tiers.models import RatingPolicy

    check_timeline(specs, RatingPolicy.objects.get(code="annual"), django_user_model)
