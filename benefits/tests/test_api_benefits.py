"""Benefits through the REST API (API.md): every seeded row of DOMAIN §5, redemptions with an Idempotency-Key,
reversals, caps, special care per event, emergency reactivation, frozen customers, bad input, and 64 parallel
redemptions against a quota of 12 on PostgreSQL."""

import datetime as dt
import threading
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from benefits import services
from benefits.models import BenefitAccount, BenefitEntry
from benefits.tests.helpers import ON, account, assert_ledger_matches_balances, member
from core.models import IdempotencyRecord
from core.tests.helpers import assert_error
from customers.models import MonthlyBill

pytestmark = pytest.mark.django_db

URL = "/api/v1/benefits/redemptions/"
SHANGHAI = ZoneInfo("Asia/Shanghai")

_keys = iter(range(10**6))


def redeem(api, customer, benefit, *, key=None, **body):
    """POST a redemption on ON (unless `redeemed_on` says otherwise) with a fresh Idempotency-Key."""
    payload = {"msisdn": customer.msisdn, "benefit": benefit, "reference": "ref-1", "redeemed_on": ON.isoformat()}
    payload.update(body)
    return api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY=key or f"key-{next(_keys)}")


def benefits_of(api, customer, on=ON) -> dict:
    with time_machine.travel(dt.datetime(on.year, on.month, on.day, 12, tzinfo=SHANGHAI), tick=False):
        response = api.get(f"/api/v1/customers/{customer.msisdn}/benefits/")
    assert response.status_code == 200, response.content
    return {row["benefit"]: row for row in response.json()}


# --------------------------------------------------------------------------------------------------
# Every row of the DOMAIN §5 table, per tier: what the customer sees, and what she can redeem

TIERS = ("diamond", "gold", "silver")
COUNTS = {  # benefit -> per tier (None = "–")
    "lounge_airport_national": (12, 6, None),
    "lounge_airport_province": (12, 6, 2),
    "lounge_train_province": (12, 8, 4),
    "roaming_pack": (1, 1, 1),
}
CARE = ("care_hospitalisation", "care_business_opening", "care_childbirth", "care_funeral")
FLAGS = ("birthday_free_day", "priority_hotline", "hall_queue_priority", "late_fee_waiver")


@pytest.mark.parametrize("tier_index,tier", list(enumerate(TIERS)))
@pytest.mark.parametrize("code", list(COUNTS))
def test_count_benefits_per_year_as_seeded(api, code, tier_index, tier):
    # given a member of the tier
    customer = member(tier)
    quota = COUNTS[code][tier_index]
    # when she looks at her benefits, then she sees the year's quota of her tier (or nothing for "–")
    rows = benefits_of(api, customer)
    if quota is None:
        assert code not in rows
        assert_error(redeem(api, customer, code), 409, "not_entitled")
        return
    assert rows[code] | {"name_zh": "", "name_en": ""} == {
        "benefit": code,
        "name_zh": "",
        "name_en": "",
        "period": "year",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "granted": quota,
        "used": 0,
        "remaining": quota,
        "unit": "count",
        "unlimited": False,
    }
    # and she can redeem exactly the quota in the year, then it is exhausted
    for i in range(quota):
        response = redeem(api, customer, code)
        assert response.status_code == 201, response.content
        assert response.json()["remaining"] == quota - i - 1
    error = assert_error(redeem(api, customer, code), 409, "quota_exhausted")
    assert f"0 of {quota} left" in error["message"]
    assert benefits_of(api, customer)[code]["remaining"] == 0


@pytest.mark.parametrize("tier,cap", [("diamond", "150.00"), ("gold", "100.00"), ("silver", None)])
def test_birthday_gift_money_per_year_as_seeded(api, tier, cap):
    customer = member(tier)
    rows = benefits_of(api, customer)
    if cap is None:
        assert "birthday_gift" not in rows
        assert_error(redeem(api, customer, "birthday_gift", amount="50.00"), 409, "not_entitled")
        return
    assert (rows["birthday_gift"]["granted"], rows["birthday_gift"]["unit"]) == (cap, "money")
    response = redeem(api, customer, "birthday_gift", amount=cap)
    assert response.status_code == 201, response.content
    assert response.json()["remaining"] == "0.00"


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("code", CARE)
def test_special_care_150_yuan_per_event_for_every_tier(api, tier, code):
    customer = member(tier)
    row = benefits_of(api, customer)[code]
    assert (row["granted"], row["period"], row["per_event"]) == ("150.00", "event", True)
    assert redeem(api, customer, code, amount="150.00", reference="event-1").status_code == 201


@pytest.mark.parametrize("tier,hours", [("diamond", 72), ("gold", 72), ("silver", 48)])
def test_emergency_reactivation_hours_by_tier_three_a_month(api, tier, hours):
    customer = member(tier)
    row = benefits_of(api, customer)["emergency_reactivation"]
    assert (row["granted"], row["hours"], row["period"], row["period_start"]) == (3, hours, "month", "2026-03-01")
    for left in (2, 1, 0):
        response = redeem(api, customer, "emergency_reactivation")
        assert response.status_code == 201, response.content
        assert (response.json()["hours"], response.json()["remaining"]) == (hours, left)
    # the 4th in the month is refused
    assert_error(redeem(api, customer, "emergency_reactivation"), 409, "quota_exhausted")
    # and the next month has 3 again
    response = redeem(api, customer, "emergency_reactivation", redeemed_on="2026-04-02")
    assert (response.status_code, response.json()["remaining"]) == (201, 2)


@pytest.mark.parametrize("tier", TIERS)
def test_sim_replacement_is_unlimited(api, tier):
    customer = member(tier)
    assert benefits_of(api, customer)["sim_replacement"] | {"name_zh": "", "name_en": ""} == {
        "benefit": "sim_replacement",
        "name_zh": "",
        "name_en": "",
        "period": "none",
        "period_start": None,
        "period_end": None,
        "granted": None,
        "used": 0,
        "remaining": None,
        "unit": "count",
        "unlimited": True,
    }
    for _ in range(5):
        response = redeem(api, customer, "sim_replacement")
        assert response.status_code == 201, response.content
        assert (response.json()["remaining"], response.json()["unlimited"]) == (None, True)
    assert benefits_of(api, customer)["sim_replacement"]["used"] == 5


@pytest.mark.parametrize("tier", TIERS)
def test_roaming_pack_is_valid_90_days_from_the_claim(api, tier):
    customer = member(tier)
    response = redeem(api, customer, "roaming_pack")
    assert response.status_code == 201
    assert response.json()["valid_until"] == (ON + dt.timedelta(days=90)).isoformat()
    assert_error(redeem(api, customer, "roaming_pack", redeemed_on="2026-10-01"), 409, "quota_exhausted")


@pytest.mark.parametrize("tier", TIERS)
def test_flags_are_readable_per_customer(api, tier):
    customer = member(tier)
    response = api.get(f"/api/v1/customers/{customer.msisdn}/benefit-flags/")
    assert response.json() == {
        "tier": tier,
        "flags": dict.fromkeys(FLAGS, True),
        "percent": {"late_fee_waiver": 100},
    }
    rows = benefits_of(api, customer)
    assert {code: (rows[code]["enabled"], rows[code]["unit"]) for code in FLAGS} == dict.fromkeys(FLAGS, (True, "flag"))
    assert rows["late_fee_waiver"]["percent"] == 100
    # a flag is read, never redeemed
    error = assert_error(redeem(api, customer, "priority_hotline"), 400, "not_redeemable")
    assert set(error["fields"]) == {"benefit"}


def test_a_customer_outside_the_club_has_no_benefits_and_no_flags(api):
    customer = member(None)
    assert benefits_of(api, customer) == {}
    flags = api.get(f"/api/v1/customers/{customer.msisdn}/benefit-flags/").json()
    assert flags == {"tier": None, "flags": dict.fromkeys(FLAGS, False), "percent": {}}
    error = assert_error(redeem(api, customer, "lounge_airport_province"), 409, "not_entitled")
    assert "not a member" in error["message"]


def test_the_catalog_lists_every_benefit_with_each_tiers_entitlement(api):
    catalog = {row["code"]: row for row in api.get("/api/v1/benefits/").json()}
    assert len(catalog) == 15
    assert catalog["lounge_airport_national"]["entitlements"] == {
        "diamond": {"quantity": 12, "unlimited": False},
        "gold": {"quantity": 6, "unlimited": False},
    }
    assert catalog["emergency_reactivation"]["entitlements"]["silver"] == {"hours": 48, "per_month_limit": 3}
    assert catalog["birthday_gift"]["entitlements"]["diamond"] == {"money_cap": "150.00"}
    assert catalog["late_fee_waiver"]["entitlements"]["gold"] == {"enabled": True, "percent": 100}
    assert catalog["roaming_pack"]["validity_days"] == 90


# --------------------------------------------------------------------------------------------------
# Redemption, replay, reversal


def test_a_redemption_answers_201_with_the_remaining_quota_and_writes_the_ledger(api):
    # given a gold member (the year's grants have not run yet: the account opens at the first use)
    customer = member("gold")
    # when the lounge partner records a visit
    response = redeem(api, customer, "lounge_airport_national", key="visit-1", reference="PEK-T3-0001")
    # then 201 with the id and what is left
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "remaining": 5,
        "benefit": "lounge_airport_national",
        "unit": "count",
        "period_start": "2026-01-01",
        "used": 1,
        "unlimited": False,
    }
    entry = BenefitEntry.objects.get(pk=body["id"])
    assert (entry.kind, entry.used_delta, entry.reference, entry.occurred_on) == ("redeem", 1, "PEK-T3-0001", ON)
    assert entry.tier.code == "gold" and entry.actor == "api-billing"
    assert list(BenefitEntry.objects.filter(customer=customer).values_list("kind", flat=True).order_by("id")) == [
        "grant",
        "redeem",
    ]
    assert_ledger_matches_balances()


def test_a_replay_returns_the_first_answer_and_writes_nothing(api):
    customer = member("gold")
    first = redeem(api, customer, "lounge_airport_national", key="visit-1", quantity=2)
    entries, used = BenefitEntry.objects.count(), account(customer, "lounge_airport_national", "2026").used
    # when the same request is sent again with the same key
    again = redeem(api, customer, "lounge_airport_national", key="visit-1", quantity=2)
    # then the same body, and nothing more is used or written
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert BenefitEntry.objects.count() == entries
    assert account(customer, "lounge_airport_national", "2026").used == used == 2
    # the same key with another body is refused
    assert_error(
        redeem(api, customer, "lounge_airport_national", key="visit-1", quantity=1), 409, "idempotency_key_reused"
    )


def test_a_refusal_is_replayed_too(api):
    customer = member("silver")
    first = redeem(api, customer, "lounge_airport_national", key="k")
    assert_error(first, 409, "not_entitled")
    assert redeem(api, customer, "lounge_airport_national", key="k").json() == first.json()


def test_the_service_replays_by_its_ledger_key_too():
    # the ledger's unique idempotency key answers even without the API's record
    from benefits.models import Benefit

    customer = member("gold")
    lounge = Benefit.objects.get(code="lounge_train_province")
    first = services.benefit_redeem(
        customer=customer, benefit=lounge, reference="r", on=ON, at=timezone.now(), idempotency_key="x"
    )
    again = services.benefit_redeem(
        customer=customer, benefit=lounge, reference="r", on=ON, at=timezone.now(), idempotency_key="x"
    )
    assert again.replayed and again.as_dict() == first.as_dict()
    assert BenefitEntry.objects.filter(kind="redeem").count() == 1


def test_a_reversal_gives_the_use_back_once(api):
    # given a silver member who used both in-province airport lounges
    customer = member("silver")
    redeem(api, customer, "lounge_airport_province")
    second = redeem(api, customer, "lounge_airport_province").json()
    assert second["remaining"] == 0
    # when the partner reverses the second visit
    url = f"/api/v1/benefits/redemptions/{second['id']}/reverse/"
    response = api.post(url, {"reason": "visit cancelled"}, format="json", HTTP_IDEMPOTENCY_KEY="rev-1")
    # then 200 with one lounge left again, and a reverse entry
    assert response.status_code == 200
    assert response.json()["remaining"] == 1
    assert response.json()["reverses"] == second["id"]
    reverse = BenefitEntry.objects.get(kind="reverse")
    assert (reverse.used_delta, reverse.reversal_of_id, reverse.reference) == (-1, second["id"], "visit cancelled")
    # a replay answers the same; a second reversal is refused
    assert api.post(url, {"reason": "visit cancelled"}, format="json", HTTP_IDEMPOTENCY_KEY="rev-1").json() == (
        response.json()
    )
    assert_error(api.post(url, {}, format="json"), 409, "already_reversed")
    assert BenefitEntry.objects.filter(kind="reverse").count() == 1
    # the use is available again
    assert redeem(api, customer, "lounge_airport_province").json()["remaining"] == 0
    assert_ledger_matches_balances()


def test_reversing_an_unknown_redemption_is_a_404(api):
    assert_error(api.post("/api/v1/benefits/redemptions/999999/reverse/", {}, format="json"), 404, "unknown_redemption")


def test_a_reversed_redemption_leaves_the_usage_report():
    from benefits import selectors
    from benefits.models import Benefit

    customer = member("gold")
    lounge = Benefit.objects.get(code="lounge_airport_national")
    kept = services.benefit_redeem(customer=customer, benefit=lounge, reference="a", on=ON, at=timezone.now())
    undone = services.benefit_redeem(
        customer=customer, benefit=lounge, reference="b", on=ON, at=timezone.now(), quantity=2
    )
    services.benefit_redemption_reverse(redemption_id=undone.entry.pk, at=timezone.now())
    rows = selectors.usage_report(year=2026)
    assert [(r["redemptions"], r["used"]) for r in rows] == [(1, 1)]
    assert kept.remaining == 5


# --------------------------------------------------------------------------------------------------
# Money caps and special care per event


def test_money_cap_per_year(api):
    # given a gold member: a birthday gift worth up to 100 yuan a year
    customer = member("gold")
    # an amount over the cap is refused
    error = assert_error(redeem(api, customer, "birthday_gift", amount="120.00"), 409, "over_cap")
    assert "100.00" in error["message"] and set(error["fields"]) == {"amount"}
    # within the cap: 60 yuan, 40 left
    assert redeem(api, customer, "birthday_gift", amount="60.00").json()["remaining"] == "40.00"
    # more than what is left: over the cap
    error = assert_error(redeem(api, customer, "birthday_gift", amount="40.01"), 409, "over_cap")
    assert "40.00 yuan left" in error["message"]
    # exactly what is left, then nothing
    assert redeem(api, customer, "birthday_gift", amount="40").json()["remaining"] == "0.00"
    assert_error(redeem(api, customer, "birthday_gift", amount="0.01"), 409, "quota_exhausted")
    assert benefits_of(api, customer)["birthday_gift"] | {"name_zh": "", "name_en": ""} == {
        "benefit": "birthday_gift",
        "name_zh": "",
        "name_en": "",
        "period": "year",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "granted": "100.00",
        "used": "100.00",
        "remaining": "0.00",
        "unit": "money",
        "unlimited": False,
    }


def test_special_care_is_capped_per_event(api):
    customer = member("silver")
    # 151 yuan for one hospitalisation is over the cap
    assert_error(redeem(api, customer, "care_hospitalisation", amount="151", reference="H-1"), 409, "over_cap")
    # 100 then 50 for the same hospitalisation: the event's 150 are used
    assert redeem(api, customer, "care_hospitalisation", amount="100", reference="H-1").json()["remaining"] == "50.00"
    assert redeem(api, customer, "care_hospitalisation", amount="50", reference="H-1").json()["remaining"] == "0.00"
    assert_error(redeem(api, customer, "care_hospitalisation", amount="10", reference="H-1"), 409, "quota_exhausted")
    # another hospitalisation is another event, and a childbirth is another benefit
    assert redeem(api, customer, "care_hospitalisation", amount="150", reference="H-2").status_code == 201
    assert redeem(api, customer, "care_childbirth", amount="150", reference="H-1").status_code == 201
    events = BenefitAccount.objects.filter(customer=customer, benefit__code="care_hospitalisation")
    assert sorted(events.values_list("period_key", "granted", "used")) == [
        ("event:H-1", 15000, 15000),
        ("event:H-2", 15000, 15000),
    ]
    assert_ledger_matches_balances()


# --------------------------------------------------------------------------------------------------
# Emergency reactivation and frozen customers


def unpaid(customer, *months):
    MonthlyBill.objects.bulk_create(MonthlyBill(customer=customer, month=m, amount="88.00", paid=False) for m in months)


def test_emergency_reactivation_is_refused_with_arrears_older_than_the_previous_month(api):
    # given a gold member suspended for arrears, with an unpaid bill of January, redeeming on 10 March
    customer = member("gold", status="suspended", suspension_kind="arrears")
    unpaid(customer, dt.date(2026, 1, 1))
    error = assert_error(redeem(api, customer, "emergency_reactivation"), 409, "not_entitled")
    assert "arrears" in error["message"] and error["fields"] == {"arrears": ["2026-01"]}
    assert not BenefitEntry.objects.filter(kind="redeem").exists()


def test_emergency_reactivation_with_last_months_arrears_only_is_granted_while_suspended(api):
    # given a silver member suspended for arrears whose only unpaid bill is February's, on 10 March
    customer = member("silver", status="suspended", suspension_kind="arrears")
    unpaid(customer, dt.date(2026, 2, 1))
    MonthlyBill.objects.create(customer=customer, month=dt.date(2026, 1, 1), amount="88.00", paid=True)
    # then the reactivation is granted: 48 hours
    response = redeem(api, customer, "emergency_reactivation")
    assert response.status_code == 201, response.content
    assert response.json()["hours"] == 48
    # but other benefits stay frozen while suspended
    error = assert_error(redeem(api, customer, "lounge_train_province"), 409, "frozen")
    assert "suspended (arrears)" in error["message"]


@pytest.mark.parametrize(
    "status,kind,says",
    [
        ("suspended", "requested", "suspended (requested)"),
        ("suspended", "forced", "suspended (forced)"),
        ("pending_closure", "", "pending closure"),
        ("closed", "voluntary", "closed"),
    ],
)
def test_frozen_customers_cannot_redeem_and_the_error_says_why(api, status, kind, says):
    customer = member("diamond", status=status)
    from customers.models import Customer

    Customer.objects.filter(pk=customer.pk).update(
        suspension_kind=kind if status == "suspended" else "", closure_kind=kind if status == "closed" else ""
    )
    for code in ("lounge_airport_national", "emergency_reactivation"):
        error = assert_error(redeem(api, customer, code), 409, "frozen")
        assert says in error["message"]
    assert not BenefitEntry.objects.filter(kind="redeem").exists()


# --------------------------------------------------------------------------------------------------
# Bad input


def test_bad_input_names_every_field(api):
    error = assert_error(api.post(URL, {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"msisdn", "benefit", "reference", "Idempotency-Key"}
    body = {
        "msisdn": "123",
        "benefit": "lounge_airport_national",
        "reference": "r",
        "quantity": 0,
        "amount": "1.234",
        "redeemed_on": "2026-13-01",
    }
    error = assert_error(api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, "invalid")
    assert set(error["fields"]) == {"msisdn", "quantity", "amount", "redeemed_on"}
    assert_error(api.post(URL, "not json", content_type="application/json"), 400, "malformed_request")


def test_bad_input_for_the_benefits_unit(api):
    customer = member("gold")
    error = assert_error(redeem(api, customer, "lounge_airport_national", amount="10.00"), 400, "invalid")
    assert set(error["fields"]) == {"amount"}
    error = assert_error(redeem(api, customer, "birthday_gift"), 400, "invalid")
    assert set(error["fields"]) == {"amount"}
    error = assert_error(redeem(api, customer, "birthday_gift", amount="10", quantity=2), 400, "invalid")
    assert set(error["fields"]) == {"quantity"}
    error = assert_error(redeem(api, customer, "emergency_reactivation", quantity=2), 400, "invalid")
    assert set(error["fields"]) == {"quantity"}
    future = timezone.localdate() + dt.timedelta(days=1)
    error = assert_error(
        redeem(api, customer, "lounge_airport_national", redeemed_on=future.isoformat()), 400, "invalid"
    )
    assert set(error["fields"]) == {"redeemed_on"}
    assert not BenefitEntry.objects.exists()


def test_unknown_msisdn_is_a_404_and_unknown_benefit_a_400(api):
    customer = member("gold")
    response = api.post(
        URL,
        {"msisdn": "13999999999", "benefit": "roaming_pack", "reference": "r"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert_error(response, 404, "unknown_customer")
    error = assert_error(redeem(api, customer, "free_lunch"), 400, "unknown_benefit")
    assert set(error["fields"]) == {"benefit"}
    assert_error(api.get("/api/v1/customers/13999999999/benefits/"), 404, "unknown_customer")
    assert_error(api.get("/api/v1/customers/13999999999/benefit-flags/"), 404, "unknown_customer")


def test_the_benefits_api_needs_a_login(customer):
    anonymous = APIClient()
    assert_error(anonymous.post(URL, {}, format="json"), 401, "not_authenticated")
    assert_error(anonymous.get(f"/api/v1/customers/{customer.msisdn}/benefits/"), 401, "not_authenticated")


def test_the_schema_documents_the_benefits_endpoints(admin_client):
    import json

    paths = json.loads(admin_client.get("/api/schema/?format=json").content)["paths"]
    for path in [
        "/api/v1/benefits/",
        "/api/v1/benefits/redemptions/",
        "/api/v1/benefits/redemptions/{redemption_id}/reverse/",
        "/api/v1/customers/{msisdn}/benefits/",
        "/api/v1/customers/{msisdn}/benefit-flags/",
    ]:
        assert path in paths


def test_the_customers_benefits_list_reads_in_a_few_queries(api, django_assert_max_num_queries):
    customer = member("diamond")
    services.benefit_grants_run(on=ON)
    with django_assert_max_num_queries(12):
        rows = benefits_of(api, customer)
    assert len(rows) == 15


# --------------------------------------------------------------------------------------------------
# Concurrency: PostgreSQL, 64 threads with their own connections


@pytest.mark.postgres  # SQLite runs one writer at a time: nothing to race
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("granted_by", ["the period job", "the first use"])
def test_64_parallel_redemptions_against_a_quota_of_12(api_user, granted_by):
    # given a diamond member with 12 national airport lounges this year, granted by the period job (or, when
    # it has not run yet, by whichever of the parallel requests comes first)
    customer = member("diamond")
    if granted_by == "the period job":
        services.benefit_grants_run(on=ON)
    token = Token.objects.create(user=api_user).key
    n = 64
    barrier = threading.Barrier(n)

    def send_all() -> list[tuple[int, dict]]:
        results: list = [None] * n

        def worker(i: int) -> None:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            body = {
                "msisdn": customer.msisdn,
                "benefit": "lounge_airport_national",
                "reference": f"visit-{i}",
                "redeemed_on": ON.isoformat(),
            }
            try:
                barrier.wait(timeout=30)
                response = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=f"visit-{i}")
                results[i] = (response.status_code, response.json())
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return results

    # when 64 lounge visits are posted at the same moment, each on its own connection
    first = send_all()
    # then exactly 12 succeed and 52 find the quota exhausted
    lounge = account(customer, "lounge_airport_national", "2026")
    assert BenefitEntry.objects.filter(account=lounge, kind="grant").count() == 1
    statuses = Counter(status for status, _ in first)
    assert statuses == {201: 12, 409: 52}, statuses
    assert {body["error"]["code"] for status, body in first if status == 409} == {"quota_exhausted"}
    assert sorted(body["remaining"] for status, body in first if status == 201) == list(range(12))
    assert (lounge.granted, lounge.used, lounge.remaining) == (12, 12, 0)
    assert BenefitEntry.objects.filter(account=lounge, kind="redeem").count() == 12
    assert_ledger_matches_balances()
    # when every request is replayed with its key, then identical bodies and nothing written
    written = (BenefitEntry.objects.count(), IdempotencyRecord.objects.count())
    replay = send_all()
    assert replay == first
    assert (BenefitEntry.objects.count(), IdempotencyRecord.objects.count()) == written
    lounge.refresh_from_db()
    assert lounge.used == 12
    print(f"\n64 parallel redemptions, quota 12 granted by {granted_by}: {dict(statuses)}; balance {lounge.remaining}")
