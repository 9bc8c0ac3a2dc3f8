"""Account managers, obligations, contact logs and reassignment through the API; managers' scope."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.tests.helpers import assert_error
from customers.factories import RegionFactory
from managers.factories import ObligationFactory
from managers.models import AccountManager, Assignment, ContactLog, Obligation
from managers.tests.helpers import make_manager, make_member

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_account_manager_upsert_creates_the_login_and_names_bad_fields(api, region, django_user_model):
    django_user_model.objects.create_user(username="boss")
    body = {
        "username": "zhang.wei",
        "name": "张伟",
        "region": "GZ",
        "capacity": 300,
        "active": True,
        "supervisor": "boss",
    }
    created = api.put("/api/v1/account-managers/E1001/", body, format="json")
    assert created.status_code == 201
    assert created.json() == {**body, "employee_no": "E1001"}
    manager = AccountManager.objects.get(employee_no="E1001")
    assert manager.user.username == "zhang.wei" and not manager.user.has_usable_password()
    updated = api.put("/api/v1/account-managers/E1001/", {**body, "capacity": 250}, format="json")
    assert updated.status_code == 200 and updated.json()["capacity"] == 250
    error = assert_error(
        api.put(
            "/api/v1/account-managers/E1002/",
            {**body, "region": "XX", "supervisor": "ghost", "capacity": 0},
            format="json",
        ),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"capacity"}
    error = assert_error(
        api.put("/api/v1/account-managers/E1002/", {**body, "region": "XX", "supervisor": "ghost"}, format="json"),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"region", "supervisor", "username"}
    assert AccountManager.objects.count() == 1


@pytest.mark.parametrize("taken", ["supervisor", "admin"])
def test_a_new_manager_never_gets_another_users_login(api, region, django_user_model, taken):
    """Issue 13: PUT /account-managers/ attached the existing login `supervisor` (or `admin`) to a new manager."""
    # given: the club's supervisor and superuser logins
    django_user_model.objects.create_user(username="supervisor", password="pw-Secret-123", is_staff=True)
    django_user_model.objects.create_superuser(username="admin", password="pw-Secret-123")
    body = {"username": taken, "name": "冒名", "region": "GZ", "capacity": 10, "active": True}
    # when: a client with customers:write creates a manager with that username
    error = assert_error(api.put("/api/v1/account-managers/E77/", body, format="json"), 400, "invalid")
    # then: refused naming the field, no manager, and the login is untouched (still nobody's manager)
    assert "username" in error["fields"] and taken in error["fields"]["username"][0]
    assert not AccountManager.objects.exists()
    assert django_user_model.objects.get(username=taken).check_password("pw-Secret-123")


def test_renaming_a_managers_login_to_a_taken_username_is_a_400_naming_it(api, region, django_user_model):
    """Issue 13: renaming a manager's login to a username another user has was a 500."""
    body = {"username": "zhang.wei", "name": "张伟", "region": "GZ", "capacity": 10, "active": True}
    assert api.put("/api/v1/account-managers/E1/", body, format="json").status_code == 201
    django_user_model.objects.create_user(username="li.na")
    make_manager("E2")  # login uE2
    for taken in ("li.na", "uE2"):
        error = assert_error(
            api.put("/api/v1/account-managers/E1/", {**body, "username": taken}, format="json"), 400, "invalid"
        )
        assert list(error["fields"]) == ["username"]
    # her own login is kept, and renaming it to a free username works
    assert AccountManager.objects.get(employee_no="E1").user.username == "zhang.wei"
    assert api.put("/api/v1/account-managers/E1/", {**body, "username": "zhang.w"}, format="json").status_code == 200
    assert AccountManager.objects.get(employee_no="E1").user.username == "zhang.w"


def test_obligations_filters_and_manager_scope(api):
    region = RegionFactory()
    mine, theirs = make_manager("M1", region=region), make_manager("M2", region=region)
    a, b = make_member(manager=mine, msisdn="13800000001"), make_member(manager=theirs, msisdn="13800000002")
    ObligationFactory(
        customer=a,
        manager=mine,
        kind="periodic_contact",
        period="2026-11",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 30),
    )
    ObligationFactory(
        customer=b,
        manager=theirs,
        kind="first_contact",
        period="x",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 4),
        status="overdue",
    )
    everything = api.get("/api/v1/obligations/").json()
    assert everything["count"] == 2
    row = everything["results"][0]
    assert set(row) == {"id", "msisdn", "manager", "kind", "period", "opened_on", "due_on", "status", "done_at"}
    assert [r["msisdn"] for r in api.get("/api/v1/obligations/?status=overdue").json()["results"]] == ["13800000002"]
    assert [r["kind"] for r in api.get("/api/v1/obligations/?due_before=2026-11-10").json()["results"]] == [
        "first_contact"
    ]
    assert api.get("/api/v1/obligations/?manager=M1&kind=periodic_contact").json()["count"] == 1
    # in clear: the client has the `pii` scope (API.md)
    assert [r["msisdn"] for r in api.get("/api/v1/customers/?manager=M2").json()["results"]] == ["13800000002"]
    assert_error(api.get("/api/v1/obligations/?kind=lunch"), 400, "invalid")
    # a manager sees only her own
    as_mine = client_for(mine.user)
    assert [r["msisdn"] for r in as_mine.get("/api/v1/obligations/").json()["results"]] == ["13800000001"]


def test_a_manager_never_sees_another_managers_customer_through_the_api():
    region = RegionFactory()
    mine, theirs = make_manager("M1", region=region), make_manager("M2", region=region)
    own = make_member(manager=mine, msisdn="13800000001")
    other = make_member(manager=theirs, msisdn="13800000002")
    client = client_for(mine.user)
    listed = client.get("/api/v1/customers/").json()
    assert listed["count"] == 1 and listed["results"][0]["msisdn"] == "13800000001"  # her own, as in every list
    profile = client.get(f"/api/v1/customers/{own.msisdn}/").json()
    assert profile["manager"]["employee_no"] == "M1"
    assert_error(client.get(f"/api/v1/customers/{other.msisdn}/"), 404, "unknown_customer")
    body = {"msisdn": other.msisdn, "channel": "call", "outcome": "reached"}
    assert_error(client.post("/api/v1/contact-logs/", body, format="json"), 404, "unknown_customer")
    assert not ContactLog.objects.exists()
    # a plain user sees nothing
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user(username="nobody")
    assert_error(client_for(nobody).get("/api/v1/customers/"), 403, "role_missing")


def test_hotline_logs_a_contact_and_learns_what_it_closed(api):
    manager = make_manager("M1")
    member = make_member(manager=manager, msisdn="13800000001")
    due = ObligationFactory(
        customer=member,
        manager=manager,
        kind="periodic_contact",
        period="2026-11",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 30),
    )
    response = api.post(
        "/api/v1/contact-logs/",
        {
            "msisdn": member.msisdn,
            "channel": "call",
            "outcome": "reached",
            "note": "hotline callback",
            "occurred_at": "2026-11-20T10:00:00+08:00",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["closed_obligations"] == [due.pk]
    log = ContactLog.objects.get()
    assert (log.source, log.manager, log.note) == ("api", manager, "hotline callback")
    error = assert_error(
        api.post("/api/v1/contact-logs/", {"msisdn": "1380000000", "channel": "fax", "outcome": "ok"}, format="json"),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"msisdn", "channel", "outcome"}


def test_bulk_reassignment(api):
    region = RegionFactory()
    old, new = make_manager("M1", region=region), make_manager("M2", region=region)
    members = [make_member(manager=old, msisdn=f"1380000000{i}") for i in range(3)]
    body = {"msisdns": [m.msisdn for m in members], "manager": "M2", "on": "2026-11-21"}
    assert api.post("/api/v1/assignments/reassign/", body, format="json").json() == {"moved": 3}
    assert Assignment.objects.filter(manager=new, ended_on__isnull=True).count() == 3
    error = assert_error(
        api.post("/api/v1/assignments/reassign/", {**body, "msisdns": ["13999999999"]}, format="json"), 400, "invalid"
    )
    assert error["fields"]["msisdns"] == ["13999999999"]
    assert_error(
        api.post("/api/v1/assignments/reassign/", {**body, "manager": "NOPE"}, format="json"), 404, "unknown_manager"
    )


def test_after_a_run_new_members_are_assigned_on_the_day_the_run_is_followed_up(django_capture_on_commit_callbacks):
    import time_machine

    from tiers import services as tier_services
    from tiers.tests.helpers import close_months, make_customer, monthly_bills
    from tiers.tests.test_rating_rules import M

    # given December 2026's run (evaluated on 1 December), billing closed on Monday 7 December
    region = RegionFactory()
    manager = make_manager("M1", region=region)
    member = make_customer(bills=monthly_bills(M, [400] * 12))
    close_months(dt.date(2025, 1, 1), dt.date(2026, 11, 1))
    # when the run executes and is followed up that day
    with time_machine.travel(dt.datetime(2026, 12, 7, 9, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            run, _ = tier_services.tier_run_start(month=M)
    # then the new member is assigned on 7 December, her first contact due 3 working days later
    run.refresh_from_db()
    assert run.status == "done" and run.pipeline_done_at
    assignment = Assignment.objects.get(customer=member)
    assert (assignment.manager, assignment.started_on) == (manager, dt.date(2026, 12, 7))
    first = Obligation.objects.get(customer=member, kind="first_contact")
    assert (first.opened_on, first.due_on) == (dt.date(2026, 12, 7), dt.date(2026, 12, 10))


def test_a_member_whose_branch_changes_is_reassigned_at_once_to_a_manager_of_her_new_branch(api):
    # given a member of Guangzhou served by M1 with an open obligation, and two managers in Shenzhen (M3 busier)
    import time_machine

    gz, sz = RegionFactory(code="GZ"), RegionFactory(code="SZ", name="深圳")
    old = make_manager("M1", region=gz)
    busy, free = make_manager("M3", region=sz), make_manager("M4", region=sz)
    make_member(manager=busy)
    member = make_member(manager=old)
    due = ObligationFactory(customer=member, manager=old, due_on=dt.date(2026, 12, 31))
    row = {
        "msisdn": member.msisdn,
        "name": member.name,
        "id_number": member.id_number,
        "join_date": member.join_date.isoformat(),
        "brand": member.brand,
        "region": "SZ",
    }

    # when billing reports on 4 December 2026 that she now lives in Shenzhen
    with time_machine.travel(dt.datetime(2026, 12, 4, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False):
        response = api.post("/api/v1/customers/bulk/", [row], format="json")

    # then she is served at once by Shenzhen's lowest-load manager from that day, and her open obligation moved along
    assert response.status_code == 200, response.content
    assignments = list(Assignment.objects.filter(customer=member).order_by("started_on", "id"))
    assert [(a.manager, a.started_on, a.ended_on, a.end_reason) for a in assignments] == [
        (old, member.assignments.order_by("id").first().started_on, dt.date(2026, 12, 4), "branch_changed"),
        (free, dt.date(2026, 12, 4), None, ""),
    ]
    due.refresh_from_db()
    assert due.manager == free
