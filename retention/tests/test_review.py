"""Regressions found in the review of the retention app: a manager's scope after a reassignment, the msisdn of a
transition's answer for a client without the `pii` scope, the risk list's look-back window (the day included, as
DOMAIN §7 counts suspensions), a snapshot range that is refused as a whole, and the admin's inlines in a fixed
number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import RuleViolation
from core.tests.helpers import as_user, client_with
from customers import services as customer_services
from customers.factories import RegionFactory
from managers import services as manager_services
from managers.tests.helpers import make_manager, make_supervisor
from retention import engine, services
from retention.models import MemberCount, MonthSnapshot, RetentionCase, RiskScore
from retention.tests.helpers import club_time, member, walk
from tiers.models import Tier

pytestmark = pytest.mark.django_db
CASES = "/api/v1/retention-cases/"


def a_case(customer, to: str = "open") -> RetentionCase:
    case, _ = services.closure_request(customer=customer, at=club_time(dt.date(2026, 11, 2)))
    return walk(case, to)


# --- scope -----------------------------------------------------------------------------------------------


def test_a_reassigned_customer_takes_her_case_to_her_new_manager(client):
    # given: an open case of a customer of manager A, then the customer is reassigned to manager B
    a = make_manager("E1")
    b = make_manager("E2", region=a.region)
    customer = member(manager=a, name="转走的")
    case = a_case(customer)
    manager_services.customers_reassign(customer_ids=[customer.pk], manager=b, on=dt.date(2026, 11, 3))
    # then: A no longer sees it (API list, transition, dashboard, quick move); B does
    assert as_user(a.user).get(CASES).json()["count"] == 0
    assert as_user(a.user).post(f"{CASES}{case.pk}/transition/", {"to": "contacted"}, format="json").status_code == 404
    client.force_login(a.user)
    assert "转走的" not in client.get("/dashboard/").content.decode()
    assert client.post(f"/dashboard/retention/cases/{case.pk}/move/", {"to": "contacted"}).status_code == 404
    case.refresh_from_db()
    assert case.state == "open"
    assert [c["id"] for c in as_user(b.user).get(CASES).json()["results"]] == [case.pk]
    client.force_login(b.user)
    assert "转走的" in client.get("/dashboard/").content.decode()


def test_a_reassignment_moves_the_open_case_and_leaves_a_closed_one_with_its_manager(api):
    # given: an open case and a retained one of two customers of manager A, both moved to manager B
    a = make_manager("E1")
    b = make_manager("E2", region=a.region)
    open_case = a_case(member(manager=a))
    retained = a_case(member(manager=a), "retained")
    manager_services.customers_reassign(
        customer_ids=[open_case.customer_id, retained.customer_id], manager=b, on=dt.date(2026, 11, 3)
    )
    # then: the open case names B as its manager (the list's field and its filter); the retained one still A
    rows = {c["id"]: c for c in api.get(CASES, {"open": "true", "manager": "E2"}).json()["results"]}
    assert list(rows) == [open_case.pk] and rows[open_case.pk]["manager"] == "E2"
    retained.refresh_from_db()
    assert retained.manager == a


def test_the_owner_keeps_the_case_of_a_customer_who_closed():
    # given: a churned case of a customer who was closed (her assignment ended: nobody serves her now)
    manager = make_manager("E1")
    customer = member(manager=manager)
    case = a_case(customer, "escalated")
    services.customer_lifecycle(customer=customer, action="close", kind="voluntary", at=club_time(dt.date(2026, 12, 1)))
    # then: the manager who owned it still finds it among her cases; another manager does not
    assert [c["id"] for c in as_user(manager.user).get(CASES, {"open": "false"}).json()["results"]] == [case.pk]
    assert as_user(make_manager("E3", region=manager.region).user).get(CASES).json()["count"] == 0


# --- masking ---------------------------------------------------------------------------------------------


def test_the_transition_answer_masks_the_msisdn_for_a_client_without_the_pii_scope(django_user_model):
    case = a_case(member(manager=make_manager("E1"), msisdn="13800001111"))
    plain = client_with(django_user_model, "crm", ["read", "events:write"])
    answer = plain.post(f"{CASES}{case.pk}/transition/", {"to": "contacted"}, format="json")
    assert answer.status_code == 200 and answer.json()["msisdn"] == "138****1111"
    trusted = client_with(django_user_model, "hotline", ["read", "events:write", "pii"])
    answer = trusted.post(f"{CASES}{case.pk}/transition/", {"to": "offer_made", "offer": "data_bonus"}, format="json")
    assert answer.status_code == 200 and answer.json()["msisdn"] == "13800001111"


# --- the risk list ---------------------------------------------------------------------------------------


def test_the_risk_look_back_is_12_months_with_the_day_included():
    # given: two members suspended (and reactivated) 12 months before 20 November 2026 and one day later
    on_the_day, a_day_later = member(tier="gold"), member(tier="gold")
    for customer, day in ((on_the_day, dt.date(2025, 11, 20)), (a_day_later, dt.date(2025, 11, 21))):
        customer_services.customer_transition(customer=customer, action="suspend", kind="arrears", at=club_time(day))
        customer_services.customer_transition(customer=customer, action="reactivate", at=club_time(day, 18))
    # when
    services.risk_refresh(on=dt.date(2026, 11, 20))
    # then: the window is 2025-11-21 … 2026-11-20 (as the credit rating counts suspensions, DOMAIN §7)
    assert engine.look_back_start(dt.date(2026, 11, 20), 12) == timezone.make_aware(dt.datetime(2025, 11, 21))
    assert engine.look_back_start(dt.date(2026, 3, 31), 1) == timezone.make_aware(dt.datetime(2026, 3, 1))
    assert not RiskScore.objects.filter(customer=on_the_day).exists()
    assert RiskScore.objects.get(customer=a_day_later).suspensions == 1


# --- snapshots -------------------------------------------------------------------------------------------


def test_a_snapshot_range_running_into_a_month_not_over_writes_nothing():
    member(tier="gold", since=dt.date(2025, 12, 1))
    with pytest.raises(RuleViolation) as refused:
        services.snapshot_months(
            first=dt.date(2026, 1, 1), last=dt.date(2026, 3, 1), on=dt.date(2026, 3, 5), at=timezone.now()
        )
    assert refused.value.code == "month_not_over"
    assert not MonthSnapshot.objects.exists() and not MemberCount.objects.exists()


# --- the admin -------------------------------------------------------------------------------------------


def page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_a_month_snapshot_page_reads_its_rows_in_a_fixed_number_of_queries(admin_client):
    snapshot = MonthSnapshot.objects.create(month=dt.date(2026, 1, 1), members=0, taken_at=timezone.now())
    tiers = list(Tier.objects.all())
    MemberCount.objects.create(snapshot=snapshot, tier=tiers[0], region=RegionFactory(code="R0"), members=1)
    url = f"/admin/retention/monthsnapshot/{snapshot.pk}/change/"
    page_queries(admin_client, url)  # warm the session and the caches
    few = page_queries(admin_client, url)
    MemberCount.objects.bulk_create(
        MemberCount(snapshot=snapshot, tier=tier, region=RegionFactory(code=f"R{i}"), members=2)
        for i in range(1, 4)
        for tier in tiers
    )
    assert page_queries(admin_client, url) == few


def test_a_case_page_reads_its_steps_in_a_fixed_number_of_queries(admin_client):
    case = a_case(member(manager=make_manager("E1")), "offer_made")
    url = f"/admin/retention/retentioncase/{case.pk}/change/"
    page_queries(admin_client, url)  # warm the session and the caches
    few = page_queries(admin_client, url)
    for offer in ("plan_discount", "points_bonus", "device_subsidy"):
        services.case_transition(case=case, to="considering", actor=None, at=timezone.now())
        services.case_transition(case=case, to="offer_made", actor=None, offer=offer, at=timezone.now())
    assert page_queries(admin_client, url) == few


def test_a_supervisor_sees_her_branches_only_in_a_month_snapshot(client):
    # given: a snapshot with members in GZ and SZ, and the GZ branch's supervisor
    gz, sz = RegionFactory(code="GZ", name="广州"), RegionFactory(code="SZ", name="深圳")
    snapshot = MonthSnapshot.objects.create(month=dt.date(2026, 1, 1), members=0, taken_at=timezone.now())
    gold = Tier.objects.get(code="gold")
    MemberCount.objects.create(snapshot=snapshot, tier=gold, region=gz, members=7)
    MemberCount.objects.create(snapshot=snapshot, tier=gold, region=sz, members=9)
    boss = make_supervisor("gz-boss")
    make_manager("E9", region=gz, supervisor=boss)
    # then: the snapshot's rows show her branch, not the other one
    client.force_login(boss)
    html = client.get(f"/admin/retention/monthsnapshot/{snapshot.pk}/change/").content.decode()
    assert "广州" in html and "深圳" not in html


# --- risk weights ----------------------------------------------------------------------------------------


def test_a_risk_parameter_of_zero_is_refused_with_its_bounds_instead_of_silently_becoming_the_default(admin_client):
    from retention.models import RiskWeight

    weight = RiskWeight.objects.get(signal="falling_spend")
    url = f"/admin/retention/riskweight/{weight.pk}/change/"
    response = admin_client.post(url, {"signal": "falling_spend", "weight": "30", "parameter": "0"})
    # the form comes back naming the bounds, and the stored parameter is unchanged
    assert response.status_code == 200
    assert "For Falling spend the parameter is between 1 and 100." in response.content.decode()
    weight.refresh_from_db()
    assert weight.parameter == 20
    # a value inside the bounds is saved; the unused parameter of overdue contacts may stay 0
    admin_client.post(url, {"signal": "falling_spend", "weight": "30", "parameter": "35"})
    weight.refresh_from_db()
    assert weight.parameter == 35
    overdue = RiskWeight.objects.get(signal="overdue_contact")
    response = admin_client.post(
        f"/admin/retention/riskweight/{overdue.pk}/change/",
        {"signal": "overdue_contact", "weight": "12", "parameter": "0"},
    )
    assert response.status_code == 302
