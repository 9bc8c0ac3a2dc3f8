"""The corrected catalog of DOMAIN §5: one airport lounge (12 diamond, 6 gold, 2 silver in-province), moved to by a
data migration that keeps every visit used; and a tier held only by a key-person floor, which gives only the
airport lounge and the priority benefits."""

import datetime as dt
import importlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps

from benefits import rules, selectors, services
from benefits.models import Benefit, BenefitEntry, TierEntitlement
from core.errors import RuleViolation
from tiers.models import Tier

from .helpers import account, assert_ledger_matches_balances, balances, member

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
migration = importlib.import_module("benefits.migrations.0004_one_airport_lounge")


def redeem(customer, code, n=1, on=dt.date(2026, 3, 10)):
    at = dt.datetime.combine(on, dt.time(10), tzinfo=SHANGHAI)
    return services.benefit_redeem(
        customer=customer, benefit=Benefit.objects.get(code=code), quantity=n, reference=f"visit {on}", on=on, at=at
    )


def test_the_catalog_has_one_airport_lounge_12_diamond_6_gold_2_silver():
    # given the seeded catalog (migrated)
    # when the airport lounge entitlements are read
    lounges = TierEntitlement.objects.filter(benefit__code__startswith="lounge_airport", benefit__active=True)
    # then one benefit gives 12 visits a year to diamond, 6 to gold and 2 to silver (DOMAIN §5)
    assert {(e.benefit.code, e.tier.code, e.quantity) for e in lounges} == {
        ("lounge_airport", "diamond", 12),
        ("lounge_airport", "gold", 6),
        ("lounge_airport", "silver", 2),
    }
    assert not Benefit.objects.get(code="lounge_airport_province").active
    assert set(Benefit.objects.filter(for_key_person_floor=True).values_list("code", flat=True)) == {
        "lounge_airport",
        "priority_hotline",
        "hall_queue_priority",
    }


def test_a_diamond_member_gets_12_airport_lounge_visits_a_year_not_24():
    # given a diamond member
    diamond = member("diamond")
    # when the year's grants run
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    # then she has 12 airport lounge visits in all
    lounges = {code: g for code, (g, _u) in balances(diamond, "2026").items() if code.startswith("lounge_airport")}
    assert lounges == {"lounge_airport": 12}


def old_catalog():
    """The catalog as it was before the correction: 12 + 12 national and in-province visits for diamond."""
    airport = Benefit.objects.get(code="lounge_airport")
    Benefit.objects.filter(pk=airport.pk).update(code="lounge_airport_national", for_key_person_floor=False)
    TierEntitlement.objects.filter(benefit=airport, tier__code="silver").delete()
    province = Benefit.objects.get(code="lounge_airport_province")
    Benefit.objects.filter(pk=province.pk).update(active=True)
    tiers = {t.code: t for t in Tier.objects.all()}
    for code, quantity in (("diamond", 12), ("gold", 6), ("silver", 2)):
        TierEntitlement.objects.create(tier=tiers[code], benefit=province, quantity=quantity)
    Benefit.objects.filter(for_key_person_floor=True).update(for_key_person_floor=False)


@time_machine.travel(dt.datetime(2026, 6, 15, 9, 0, tzinfo=SHANGHAI), tick=False)
def test_the_catalog_migration_moves_every_used_visit_to_the_airport_lounge_and_only_adds_entries():
    # given the old catalog, a diamond member who used 5 national and 8 in-province visits this year (and one
    # in-province visit given back), and a silver member who used 1 in-province visit last year and 1 this year
    old_catalog()
    diamond, silver = member("diamond"), member("silver")
    services.benefit_grants_run(on=dt.date(2025, 1, 1))
    redeem(silver, "lounge_airport_province", on=dt.date(2025, 8, 1))
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    redeem(diamond, "lounge_airport_national", 5)
    redeem(diamond, "lounge_airport_province", 5)
    redeem(diamond, "lounge_airport_province", 3, on=dt.date(2026, 4, 2))
    given_back = redeem(diamond, "lounge_airport_province", on=dt.date(2026, 4, 3))
    services.benefit_redemption_reverse(redemption_id=given_back.entry.pk, at=given_back.entry.created_at)
    redeem(silver, "lounge_airport_province", on=dt.date(2026, 5, 1))
    before = list(BenefitEntry.objects.order_by("pk").values())
    # when the catalog migration runs
    migration.forward(apps, None)
    # then every visit used is on the one airport lounge, granted at least what is used (diamond 13 of 12: what
    # was used stays used), silver has this year's 2, and the old accounts are emptied by entries
    assert (account(diamond, "lounge_airport", "2026").granted, account(diamond, "lounge_airport", "2026").used) == (
        13,
        13,
    )
    assert (account(silver, "lounge_airport", "2026").granted, account(silver, "lounge_airport", "2026").used) == (2, 1)
    assert (account(silver, "lounge_airport", "2025").granted, account(silver, "lounge_airport", "2025").used) == (1, 1)
    for customer, key in ((diamond, "2026"), (silver, "2026"), (silver, "2025")):
        old = account(customer, "lounge_airport_province", key)
        assert (old.granted, old.used) == (0, 0)
    # the visits keep their dates and references on the airport lounge; the usage report counts each once
    moved = BenefitEntry.objects.filter(customer=diamond, benefit__code="lounge_airport", kind="redeem")
    assert sorted((e.occurred_on, e.used_delta) for e in moved) == [
        (dt.date(2026, 3, 10), 5),
        (dt.date(2026, 3, 10), 5),
        (dt.date(2026, 4, 2), 3),
    ]
    report = selectors.usage_report(year=2026)
    assert sum(r["used"] for r in report if r["benefit_id"] == Benefit.objects.get(code="lounge_airport").pk) == 14
    assert sum(r["used"] for r in report) == 14
    # the ledger is append-only: every entry before is unchanged, and it adds up to the balances
    assert list(BenefitEntry.objects.filter(pk__lte=before[-1]["id"]).order_by("pk").values()) == before
    assert_ledger_matches_balances()
    # and the catalog is the corrected one
    test_the_catalog_has_one_airport_lounge_12_diamond_6_gold_2_silver()


def test_a_key_person_floor_tier_is_granted_only_the_airport_lounge():
    # given a diamond by key-person floor only, and a diamond by score
    key_person, scored = member("diamond", source="key_person"), member("diamond")
    # when the year's grants run
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    # then the key person has the airport lounge only; the scored diamond has every periodic benefit
    assert balances(key_person, "2026") == {"lounge_airport": (12, 0)}
    assert set(balances(scored, "2026")) == {"lounge_airport", "lounge_train_province", "birthday_gift", "roaming_pack"}


def test_a_member_whose_tier_becomes_a_key_person_floor_keeps_only_the_lounge_and_what_she_used():
    # given a gold member by score who used the roaming pack, then held gold only as a key person
    customer = member("gold")
    services.benefit_grants_run(on=dt.date(2026, 1, 1))
    redeem(customer, "roaming_pack")
    from tiers.models import CustomerTier

    CustomerTier.objects.filter(customer=customer).update(source="key_person", valid_until=None)
    # when her benefits are brought in line
    services.benefit_regrant_customer(customer_id=customer.pk, on=dt.date(2026, 3, 11))
    # then the lounge stays, the rest of the other benefits lapse, what was used stays used
    year = balances(customer, "2026")
    assert year["lounge_airport"] == (6, 0)
    assert year["roaming_pack"] == (1, 1) and year["lounge_train_province"] == (0, 0)
    assert_ledger_matches_balances()


def test_a_key_person_floor_tier_redeems_the_lounge_and_reads_priority_flags_only():
    # given a gold by key-person floor only
    key_person = member("gold", source="key_person")
    # when she visits an airport lounge and claims a roaming pack
    assert redeem(key_person, "lounge_airport").remaining == 5
    with pytest.raises(RuleViolation) as refused:
        redeem(key_person, "roaming_pack")
    # then the lounge is hers, the roaming pack is refused as not entitled
    assert refused.value.code == "not_entitled" and "key person" in refused.value.message
    # and of the flags she has only the priority ones
    flags = selectors.customer_flags(customer=key_person)["flags"]
    assert {code for code, on in flags.items() if on} == {"priority_hotline", "hall_queue_priority"}
    shown = {row["benefit"] for row in selectors.customer_benefits(customer=key_person, on=dt.date(2026, 3, 10))}
    assert shown == {"lounge_airport", "priority_hotline", "hall_queue_priority"}


def test_redemption_problem_refuses_a_benefit_a_key_person_floor_does_not_give():
    # given a member whose tier is only a key-person floor
    base = dict(
        status="active",
        suspension_kind="",
        benefit_code="roaming_pack",
        benefit_name="Roaming pack",
        benefit_active=True,
        unit="count",
        period="year",
        redeemable_while_suspended=False,
        member=True,
        entitled_=True,
        quota_units=1,
        units=1,
        refuse_old_arrears=False,
        unpaid_months=(),
        on=dt.date(2026, 3, 10),
        tier_source="key_person",
    )
    # when she redeems a benefit not given on a key-person floor, then one that is
    refusal = rules.redemption_problem(**base, for_key_person_floor=False)
    allowed = rules.redemption_problem(**{**base, "benefit_code": "lounge_airport"}, for_key_person_floor=True)
    # then the first is refused as not entitled, the second is not
    assert refusal is not None and refusal.code == "not_entitled"
    assert allowed is None
    assert rules.redemption_problem(**{**base, "tier_source": "score"}, for_key_person_floor=False) is None


def test_a_partner_still_sending_the_former_national_lounge_code_redeems_the_airport_lounge():
    # given the catalog after the lounges became one airport lounge (migration 0004)
    # when a partner system asks for the benefit by its former code
    benefit = selectors.benefit_get(code="lounge_airport_national")
    # then it is the airport lounge
    assert benefit.code == "lounge_airport"
