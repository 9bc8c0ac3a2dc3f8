"""The permission matrix (issue 8): every API endpoint and the main pages, called as every role.

"Allowed" means the permission check let the request through: the answer is neither 401 nor 403 (a 400 for an
empty body or a 404 for an unknown msisdn is the endpoint at work). "Denied" means 401 or 403, and a token
without the scope is told which scope it lacks. A new endpoint without a row here fails the completeness test.
"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import API_SCOPES
from core.permissions import API_CLIENTS_GROUP
from managers.tests.helpers import make_manager
from vipclub.roles import SUPERVISORS

pytestmark = pytest.mark.django_db

MSISDN = "13800000000"  # nobody's: customer endpoints answer 404 once the permission check passed

# (method, path, scope an API client needs (None: club staff only), whether an account manager may call it)
ENDPOINTS = [
    ("GET", "/api/v1/customers/", "read", True),
    ("GET", f"/api/v1/customers/{MSISDN}/", "read", True),
    ("GET", f"/api/v1/customers/{MSISDN}/tier-history/", "read", False),
    ("GET", f"/api/v1/customers/{MSISDN}/tier-explanation/", "read", False),
    ("GET", f"/api/v1/customers/{MSISDN}/benefits/", "read", False),
    ("GET", f"/api/v1/customers/{MSISDN}/benefit-flags/", "read", False),
    ("GET", f"/api/v1/customers/{MSISDN}/points/", "read", False),
    ("GET", "/api/v1/benefits/", "read", False),
    ("GET", "/api/v1/rating-runs/1/", "read", False),
    ("GET", "/api/v1/rating-runs/1/changes/", "read", False),
    ("GET", "/api/v1/obligations/", "read", True),
    ("GET", "/api/v1/retention-cases/", "read", True),
    ("GET", "/api/v1/reports/churn/?year=2026", "read", False),
    ("GET", "/api/v1/reports/tiers/", "read", False),
    ("PUT", "/api/v1/regions/GZ/", "customers:write", False),
    ("POST", "/api/v1/customers/bulk/", "customers:write", False),
    ("PUT", "/api/v1/account-managers/E1/", "customers:write", False),
    ("POST", "/api/v1/assignments/reassign/", "customers:write", False),
    ("POST", "/api/v1/bills/bulk/", "bills:write", False),
    ("POST", "/api/v1/billing-months/2026-10/close/", "bills:write", False),
    ("POST", "/api/v1/events/", "events:write", False),
    ("POST", "/api/v1/contact-logs/", "events:write", True),
    ("POST", "/api/v1/retention-cases/", "events:write", True),
    ("POST", "/api/v1/retention-cases/1/transition/", "events:write", True),
    ("POST", "/api/v1/rating-runs/", "runs:write", False),
    ("POST", "/api/v1/benefits/redemptions/", "benefits:redeem", False),
    ("POST", "/api/v1/benefits/redemptions/1/reverse/", "benefits:redeem", False),
    ("POST", "/api/v1/points/redemptions/", "points:write", False),
    ("POST", "/api/v1/points/transfers/", "points:write", False),
]
ROLES = ["anonymous", "client without scopes", "client with read", "client with the scope", "manager", "club admin"]


def client_with(django_user_model, name: str, scopes) -> APIClient:
    user = django_user_model.objects.create_user(username=f"api-{name}")
    user.groups.add(
        Group.objects.get(name=API_CLIENTS_GROUP), *Group.objects.filter(name__in=[f"api:{s}" for s in scopes])
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def call(client, method: str, path: str):
    return getattr(client, method.lower())(path, {}, format="json") if method != "GET" else client.get(path)


def expected_allowed(role: str, scope, manager_may: bool) -> bool:
    return {
        "anonymous": False,
        "client without scopes": False,
        "client with read": scope == "read",
        "client with the scope": scope is not None,
        "manager": manager_may,
        "club admin": True,
    }[role]


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_allows_or_denies_each_role(role, django_user_model, staff_user):
    if role == "manager":
        session = APIClient()
        session.force_login(make_manager("E7").user)
    elif role == "club admin":
        session = APIClient()
        session.force_login(staff_user)
    problems = []
    for method, path, scope, manager_may in ENDPOINTS:
        if role == "anonymous":
            client = APIClient()
        elif role.startswith("client"):
            scopes = {"client without scopes": [], "client with read": ["read"]}.get(role, [scope] if scope else [])
            client = client_with(django_user_model, f"{len(problems)}-{method}-{abs(hash(path))}", scopes)
        else:
            client = session
        response = call(client, method, path)
        allowed = response.status_code not in (401, 403)
        if response.status_code >= 500 or allowed != expected_allowed(role, scope, manager_may):
            problems.append(f"{method} {path}: {response.status_code}")
        elif role in ("client without scopes", "client with read") and not allowed:
            error = response.json()["error"]
            if error["code"] != ("missing_scope" if scope else "staff_only") or (
                scope and scope not in error["message"]
            ):
                problems.append(f"{method} {path}: 403 does not name the scope: {error}")
    assert problems == [], f"{role}: {problems}"


def test_the_health_check_is_the_only_endpoint_open_to_anybody():
    assert APIClient().get("/api/v1/health/").status_code == 200


def test_the_matrix_covers_every_api_route():
    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    routes = {r for r in walk(get_resolver().url_patterns) if r.startswith("api/v1/") and r != "api/v1/health/"}
    covered = set()
    for route in routes:
        parts = route.split("/")
        for _method, path, _scope, _manager in ENDPOINTS:
            given = path.split("?")[0].strip("/").split("/")
            if len(given) == len(parts) - 1 and all(
                p.startswith("<") or p == g for p, g in zip(parts[:-1], given, strict=True)
            ):
                covered.add(route)
    assert routes - covered == set()


def test_every_scope_has_its_group():
    assert {g.name for g in Group.objects.filter(name__startswith="api:")} == {f"api:{s}" for s in API_SCOPES}


# -- pages --------------------------------------------------------------------------------------------------------

PAGES = ["/dashboard/", "/admin/", "/admin/audit/", "/admin/customers/customer/", "/api/docs/"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", {"/dashboard/": 302, "/admin/": 302, "/admin/audit/": 302, "/admin/customers/customer/": 302}),
        ("manager", {"/dashboard/": 200, "/admin/": 302, "/admin/audit/": 302, "/admin/customers/customer/": 302}),
        ("supervisor", {"/admin/": 200, "/admin/audit/": 200, "/admin/customers/customer/": 200}),
        ("club admin", {"/admin/": 200, "/admin/audit/": 200, "/admin/customers/customer/": 200, "/api/docs/": 200}),
    ],
)
def test_pages_per_role(role, expected, django_user_model, staff_user):
    client = Client()
    if role == "manager":
        client.force_login(make_manager("E8").user)
    elif role == "supervisor":
        boss = django_user_model.objects.create_user(username="boss", is_staff=True)
        boss.groups.add(Group.objects.get(name=SUPERVISORS))
        make_manager("E9", supervisor=boss)
        client.force_login(boss)
    elif role == "club admin":
        client.force_login(staff_user)
    got = {page: client.get(page).status_code for page in expected}
    assert got == expected


# -- PII ----------------------------------------------------------------------------------------------------------


def test_id_numbers_are_masked_for_clients_without_the_pii_scope(django_user_model, staff_user, customer):
    path = f"/api/v1/customers/{customer.msisdn}/"
    plain = client_with(django_user_model, "lounge", ["read"]).get(path).json()
    trusted = client_with(django_user_model, "hotline", ["read", "pii"]).get(path).json()
    staff = APIClient()
    staff.force_login(staff_user)
    # a lounge partner (read only) sees the region code and the last four digits; the hotline and staff in clear
    assert plain["id_number"] != customer.id_number
    assert plain["id_number"].startswith(customer.id_number[:6]) and plain["id_number"].endswith(
        customer.id_number[-4:]
    )
    assert "*" in plain["id_number"]
    assert trusted["id_number"] == customer.id_number
    assert staff.get(path).json()["id_number"] == customer.id_number
    # lists mask msisdns and ID numbers for everybody
    rows = client_with(django_user_model, "crm", ["read", "pii"]).get("/api/v1/customers/").json()["results"]
    assert rows and all("****" in r["msisdn"] and "*" in r["id_number"] for r in rows)


def test_a_supervisor_sees_her_branch_only_in_the_admin_and_the_api(django_user_model):
    from managers.tests.helpers import make_member

    boss = django_user_model.objects.create_user(username="gz-boss", is_staff=True)
    boss.groups.add(Group.objects.get(name=SUPERVISORS))
    mine = make_manager("E1", supervisor=boss)
    other = make_manager("E2")
    ours, theirs = make_member(manager=mine), make_member(manager=other)
    client = Client()
    client.force_login(boss)
    page = client.get("/admin/customers/customer/").content.decode()
    assert ours.name in page and theirs.name not in page
    api = APIClient()
    api.force_login(boss)
    assert api.get(f"/api/v1/customers/{ours.msisdn}/").status_code == 200
    assert api.get(f"/api/v1/customers/{theirs.msisdn}/").status_code == 404


def test_list_msisdns_are_masked_for_clients_without_the_pii_scope(django_user_model):
    from managers.models import Obligation
    from managers.tests.helpers import make_member

    manager = make_manager("E3")
    member = make_member(manager=manager)
    Obligation.objects.create(
        customer=member, manager=manager, kind="first_contact", period="first", opened_on="2026-11-02",
        due_on="2026-11-05",
    )  # fmt: skip
    # a lounge partner with `read` gets the obligation list with the msisdn masked; the hotline (pii) in clear
    plain = client_with(django_user_model, "lounge2", ["read"]).get("/api/v1/obligations/").json()["results"]
    trusted = client_with(django_user_model, "hotline2", ["read", "pii"]).get("/api/v1/obligations/").json()
    assert [o["msisdn"] for o in plain] == [f"{member.msisdn[:3]}****{member.msisdn[-4:]}"]
    assert [o["msisdn"] for o in trusted["results"]] == [member.msisdn]
    # and the manager, a person, sees her customer's number to call her
    session = APIClient()
    session.force_login(manager.user)
    assert [o["msisdn"] for o in session.get("/api/v1/obligations/").json()["results"]] == [member.msisdn]
