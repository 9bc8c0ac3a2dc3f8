"""The permission matrix (issues 8 and 13): every API endpoint × every role × a customer of her own, of a colleague
in her branch and of another branch; every admin changelist and change page for a branch supervisor; the pages.

"Allowed" means the permission check let the request through and the customer was found: the answer is neither
401, 403 nor 404 (a 400 or a 409 is the endpoint at work). "Denied" means 401 or 403, and the 403 names what is
missing (the token's scope, or the role). "Hidden" means the endpoint answers exactly as for a customer nobody has
(404 `unknown_customer`, an empty list, the reassignment's 400 naming the msisdn as unknown): it never reveals that
another branch's customer exists. A new endpoint without a row here fails the completeness test.
"""

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from benefits.factories import BenefitAccountFactory
from core.masking import mask_msisdn
from core.models import API_SCOPES
from core.permissions import ACCOUNT_MANAGERS_GROUP
from core.tests.helpers import client_with
from customers.factories import RegionFactory
from customers.models import Customer
from managers.factories import ObligationFactory
from managers.tests.helpers import make_manager, make_member, make_supervisor
from partners.models import WebhookEndpoint
from partners.services import new_secret
from retention.factories import RetentionCaseFactory

pytestmark = pytest.mark.django_db

NOBODY = "13900000009"  # an msisdn nobody has: what "hidden" must look like
S, M = "supervisor", "manager"

# --- the club the matrix runs in -------------------------------------------------------------------------------


def club_world(django_user_model) -> SimpleNamespace:
    """Two branches of one province: GZ, supervised by `boss` (managers E1 and E3), and SZ (manager E2, another
    supervisor). Three gold members: E1's (`mine`), E3's (`colleague`, her branch, not E1's) and E2's (`foreign`),
    each with an open obligation, an open retention case and a benefit redemption; a rating run to read."""
    from benefits.models import Benefit, BenefitEntry
    from tiers import services as tier_services

    gz = RegionFactory(code="GZ", name="广州", province="广东")
    sz = RegionFactory(code="SZ", name="深圳", province="广东")
    boss = make_supervisor("gz-boss")
    sz_boss = make_supervisor("sz-boss")
    e1 = make_manager("E1", region=gz, supervisor=boss)
    e3 = make_manager("E3", region=gz, supervisor=boss)
    e2 = make_manager("E2", region=sz, supervisor=sz_boss)
    customers = {
        "mine": make_member(manager=e1, msisdn="13811110001", name="本人客户"),
        "colleague": make_member(manager=e3, msisdn="13811110003", name="同事客户"),
        "foreign": make_member(manager=e2, msisdn="13822220002", name="外区客户"),
    }
    # an open club-wide activity each of them signed up for (while active: the cases below make them pending closure)
    from service.activities import services as activity_services
    from service.activities.factories import make_activity

    activity = make_activity(
        quotas={"gold": None},
        opens=timezone.now() - dt.timedelta(hours=1),
        closes=timezone.now() + dt.timedelta(days=3),
    )
    for customer in customers.values():
        activity_services.activity_signup(activity=activity, customer=customer, at=timezone.now(), actor=None)
    from service.factories import give_points, make_gift, place

    gift = make_gift("matrix", points=10, stock=100, voucher_valid_days=30)
    gift_orders = {}
    for key, customer in customers.items():  # before her closure request freezes her points
        give_points(customer, [(2026, 100)], on=timezone.localdate())
        gift_orders[key] = place(customer, gift, at=timezone.now() - dt.timedelta(hours=1))
    benefit = Benefit.objects.order_by("code").first()
    cases, redemptions = {}, {}
    for key, customer in customers.items():
        manager = {"mine": e1, "colleague": e3, "foreign": e2}[key]
        ObligationFactory(
            customer=customer,
            manager=manager,
            kind="first_contact",
            period="first",
            opened_on=dt.date(2026, 9, 1),
            due_on=dt.date(2026, 9, 4),
        )
        # a case needs her closure request (the database refuses an open case on an active customer)
        Customer.objects.filter(pk=customer.pk).update(status="pending_closure")
        cases[key] = RetentionCaseFactory(customer=customer, manager=manager, opened_at=timezone.now())
        account = BenefitAccountFactory(customer=customer, benefit=benefit, period_key="2026", granted=5, used=1)
        redemptions[key] = BenefitEntry.objects.create(
            account=account,
            customer=customer,
            benefit=benefit,
            kind="redeem",
            used_delta=1,
            remaining_after=4,
            occurred_on=dt.date(2026, 9, 2),
            actor="test",
        )
    from service.services import complaint_receive

    complaints = {
        key: complaint_receive(
            customer=customer,
            channel="hotline",
            category="network",
            text="matrix",
            received_at=timezone.now() - dt.timedelta(hours=1),
            received_by=manager_of.user,
            actor=None,
        )
        for (key, customer), manager_of in zip(customers.items(), (e1, e3, e2), strict=True)
    }
    run, _ = tier_services.tier_run_start(
        month=dt.date(2026, 9, 1), policy=None, dry_run=True, force=True, draft=None, dispatch=False
    )
    webhook = WebhookEndpoint.objects.create(url="https://partner.example.com/hook", secret=new_secret())
    return SimpleNamespace(
        webhook=webhook,
        gz=gz,
        sz=sz,
        boss=boss,
        e1=e1,
        e2=e2,
        e3=e3,
        customers=customers,
        cases=cases,
        redemptions=redemptions,
        complaints=complaints,
        activity=activity,
        gift_orders=gift_orders,
        benefit=benefit,
        run=run,
    )


# --- the endpoints ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {msisdn}, {case}, {redemption}, {region}, {run} are the target's
    scope: str  # the API client's scope
    people: tuple = ()  # the people roles it is open to besides club admins (each on her own customers)
    body: object = None  # world, target customer -> body
    target: str = ""  # "" (not about one customer), "path", "body", "list" (filtered by msisdn), "region"


def _key():
    return str(uuid.uuid4())


ENDPOINTS = [
    Endpoint("GET", "/api/v1/customers/?search={msisdn}", "read", (S, M), target="list"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/tier-history/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/tier-explanation/?run={run}", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/benefits/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/benefit-flags/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/points/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/customers/{msisdn}/privileges/", "read", (S, M), target="path"),
    Endpoint("GET", "/api/v1/obligations/?msisdn={msisdn}", "read", (S, M), target="list"),
    Endpoint("GET", "/api/v1/retention-cases/?msisdn={msisdn}", "read", (S, M), target="list"),
    Endpoint("GET", "/api/v1/reports/churn/?year=2026&region={region}", "read", (S,), target="region"),
    Endpoint("GET", "/api/v1/reports/tiers/?region={region}", "read", (S,), target="region"),
    Endpoint("GET", "/api/v1/benefits/", "read"),
    Endpoint("GET", "/api/v1/rating-runs/{run}/", "read"),
    Endpoint("GET", "/api/v1/rating-runs/{run}/changes/", "read"),
    Endpoint("GET", "/api/v1/feed/", "pii"),
    Endpoint("PUT", "/api/v1/regions/GZ/", "customers:write", body=lambda w, c: {"name": "广州", "province": "广东"}),
    Endpoint("POST", "/api/v1/customers/bulk/", "customers:write", body=lambda w, c: []),
    Endpoint("PUT", "/api/v1/account-managers/E9/", "customers:write", body=lambda w, c: {}),
    Endpoint(
        "POST",
        "/api/v1/assignments/reassign/",
        "customers:write",
        (S,),
        target="body",
        body=lambda w, c: {"msisdns": [c], "manager": "E3", "on": "2026-10-08"},
    ),
    Endpoint(
        "POST",
        "/api/v1/bills/bulk/",
        "bills:write",
        target="body",
        body=lambda w, c: [{"msisdn": c, "month": "2026-08", "amount": "88.00", "paid": True}],
    ),
    Endpoint("POST", "/api/v1/billing-months/2026-08/close/", "bills:write", body=lambda w, c: {}),
    Endpoint(
        "POST",
        "/api/v1/events/",
        "events:write",
        target="body",
        body=lambda w, c: {
            "event_id": _key(),
            "type": "plan_changed",
            "msisdn": c,
            "occurred_at": "2026-10-08T10:00:00+08:00",
            "data": {"plan_code": "P188", "started_on": "2026-10-08"},
        },
    ),
    Endpoint(
        "POST",
        "/api/v1/contact-logs/",
        "events:write",
        (S, M),
        target="body",
        body=lambda w, c: {"msisdn": c, "channel": "call", "outcome": "reached", "note": "matrix"},
    ),
    Endpoint(
        "POST",
        "/api/v1/retention-cases/",
        "events:write",
        (S, M),
        target="body",
        body=lambda w, c: {"msisdn": c, "channel": "hotline", "reason": "moving", "reason_category": ""},
    ),
    Endpoint(
        "POST",
        "/api/v1/retention-cases/{case}/transition/",
        "events:write",
        (S, M),
        target="path",
        body=lambda w, c: {"to": "contacted", "note": "called"},
    ),
    Endpoint("POST", "/api/v1/rating-runs/", "runs:write", body=lambda w, c: {}),
    Endpoint(
        "POST",
        "/api/v1/benefits/redemptions/",
        "benefits:redeem",
        target="body",
        body=lambda w, c: {"msisdn": c, "benefit": w.benefit.code, "quantity": 1, "reference": "matrix"},
    ),
    Endpoint(
        "POST",
        "/api/v1/benefits/redemptions/{redemption}/reverse/",
        "benefits:redeem",
        target="path",
        body=lambda w, c: {},
    ),
    Endpoint(
        "POST",
        "/api/v1/points/redemptions/",
        "points:write",
        target="body",
        body=lambda w, c: {"msisdn": c, "points": 1, "reference": "matrix"},
    ),
    Endpoint(
        "POST",
        "/api/v1/points/transfers/",
        "points:write",
        target="body",
        body=lambda w, c: {
            "from_msisdn": c,
            "to_msisdn": "13811110001" if c != "13811110001" else "13811110003",
            "points": 1,
            "reference": "matrix",
        },
    ),
    Endpoint("GET", "/api/v1/complaints/?msisdn={msisdn}", "read", (S, M), target="list"),
    Endpoint("GET", "/api/v1/complaints/{complaint}/", "read", (S, M), target="path"),
    Endpoint(
        "POST",
        "/api/v1/complaints/",
        "events:write",
        (S, M),
        target="body",
        body=lambda w, c: {
            "msisdn": c,
            "channel": "hotline",
            "category": "billing",
            "text": "matrix",
            "received_at": "2026-11-13T09:00:00+08:00",
        },
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/transition/",
        "events:write",
        (S, M),
        target="path",
        body=lambda w, c: {"to": "acknowledged", "note": "matrix"},
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/handover/",
        "events:write",
        (S, M),
        target="path",
        body=lambda w, c: {"owner": "gz-boss", "note": "matrix"},
    ),
    Endpoint("GET", "/api/v1/reports/complaints/?year=2026&region={region}", "read", (S,), target="region"),
    Endpoint("GET", "/api/v1/activities/", "read", (S, M)),
    Endpoint(
        "POST",
        "/api/v1/activities/{activity}/signups/",
        "events:write",
        (S, M),
        target="body",
        body=lambda w, c: {"msisdn": c},
    ),
    Endpoint("DELETE", "/api/v1/activities/{activity}/signups/{msisdn}/", "events:write", (S, M), target="path"),
    Endpoint(
        "POST",
        "/api/v1/survey-responses/",
        "events:write",
        (S, M),
        target="body",
        body=lambda w, c: {"msisdn": c, "survey": "complaint", "score": 5, "answered_at": "2026-11-13T09:00:00+08:00"},
    ),
    Endpoint("GET", "/api/v1/reports/satisfaction/?year=2026&region={region}", "read", (S,), target="region"),
    Endpoint("GET", "/api/v1/gifts/", "read", (S, M)),
    Endpoint("GET", "/api/v1/gift-orders/?msisdn={msisdn}", "read", (S, M), target="list"),
    Endpoint("GET", "/api/v1/gift-orders/{gift_order}/", "read", (S, M), target="path"),
    Endpoint(
        "POST",
        "/api/v1/gift-orders/",
        "points:write",
        (S, M),
        target="body",
        body=lambda w, c: {"msisdn": c, "gift": "matrix", "quantity": 1, "delivery": "pickup"},
    ),
    Endpoint(
        "POST",
        "/api/v1/gift-orders/{gift_order}/transition/",
        "points:write",
        (S, M),
        target="path",
        body=lambda w, c: {"to": "shipped", "note": "matrix"},
    ),
    Endpoint(
        "POST",
        "/api/v1/gift-orders/{gift_order}/voucher/",
        "points:write",
        (S,),
        target="path",
        body=lambda w, c: {"until": "2030-01-01", "reason": "matrix"},
    ),
    Endpoint("GET", "/api/v1/webhook-endpoints/", "webhooks:manage"),
    Endpoint("POST", "/api/v1/webhook-endpoints/", "webhooks:manage", body=lambda w, c: {"url": "https://10.0.0.1/"}),
    Endpoint("GET", "/api/v1/webhook-endpoints/{webhook}/", "webhooks:manage"),
    Endpoint(
        "PATCH", "/api/v1/webhook-endpoints/{webhook}/", "webhooks:manage", body=lambda w, c: {"description": "x"}
    ),
    Endpoint("POST", "/api/v1/webhook-endpoints/{webhook}/rotate-secret/", "webhooks:manage", body=lambda w, c: {}),
    Endpoint("DELETE", "/api/v1/webhook-endpoints/{webhook}/", "webhooks:manage"),  # last: the others need it
]

ROLES = [
    "anonymous",
    "staff with no role",
    "client without scopes",
    "client with read",
    "client with the scope",
    "manager",
    "supervisor",
    "club admin",
]
# which of the world's customers each role may address
VISIBLE = {"manager": {"mine"}, "supervisor": {"mine", "colleague"}}


def session_of(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


class Callers:
    """One client per role (and per scope for "client with the scope"), made once per test."""

    def __init__(self, role, world, django_user_model, staff_user):
        self.role, self.world, self.users, self.admin = role, world, django_user_model, staff_user
        self.by_scope: dict[str, APIClient] = {}
        self.session = None

    def for_endpoint(self, endpoint: Endpoint) -> APIClient:
        role = self.role
        if role == "anonymous":
            return APIClient()
        if role.startswith("client"):
            scopes = {"client without scopes": [], "client with read": ["read"]}.get(role, [endpoint.scope])
            key = ",".join(scopes)
            if key not in self.by_scope:
                self.by_scope[key] = client_with(self.users, f"{len(self.by_scope)}-{key}", scopes)
            return self.by_scope[key]
        if self.session is None:
            user = {
                "staff with no role": lambda: self.users.objects.create_user(username="clerk", is_staff=True),
                "manager": lambda: self.world.e1.user,
                "supervisor": lambda: self.world.boss,
                "club admin": lambda: self.admin,
            }[role]()
            self.session = session_of(user)
        return self.session


def may_call(role: str, endpoint: Endpoint) -> bool:
    return {
        "anonymous": False,
        "staff with no role": False,
        "client without scopes": False,
        "client with read": endpoint.scope == "read",
        "client with the scope": True,
        "manager": M in endpoint.people,
        "supervisor": S in endpoint.people,
        "club admin": True,
    }[role]


def request(client, world, endpoint: Endpoint, target: str | None):
    customer = world.customers.get(target) or world.customers["mine"]
    msisdn = customer.msisdn if target != "nobody" else NOBODY
    values = {
        "msisdn": msisdn,
        "case": world.cases[target].pk if target in world.cases else 999_999,
        "redemption": world.redemptions[target].pk if target in world.redemptions else 999_999,
        "region": customer.region.code,
        "run": world.run.pk,
        "complaint": world.complaints[target].pk if target in world.complaints else 999_999,
        "activity": world.activity.pk,
        "gift_order": world.gift_orders[target].pk if target in world.gift_orders else 999_999,
        "webhook": world.webhook.pk,
    }
    path = endpoint.path.format(**values)
    if endpoint.method == "GET":
        return client.get(path)
    body = endpoint.body(world, msisdn) if endpoint.body else {}
    return getattr(client, endpoint.method.lower())(path, body, format="json", HTTP_IDEMPOTENCY_KEY=_key())


def error_code(response) -> str | None:
    body = response.json()
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


def listed(response, msisdn: str) -> bool:
    return any(r["msisdn"] in (msisdn, mask_msisdn(msisdn)) for r in response.json()["results"])


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_allows_denies_or_hides_for_each_role(role, django_user_model, staff_user):
    world = club_world(django_user_model)
    callers = Callers(role, world, django_user_model, staff_user)
    problems = []
    for endpoint in ENDPOINTS:
        client = callers.for_endpoint(endpoint)
        targets = ["mine", "colleague", "foreign"] if endpoint.target else [None]
        for target in targets:
            response = request(client, world, endpoint, target)
            where = f"{endpoint.method} {endpoint.path} [{target or '-'}]: {response.status_code}"
            status = response.status_code
            if status >= 500:
                problems.append(where)
                continue
            if not may_call(role, endpoint):
                if status not in (401, 403):
                    problems.append(f"{where}, expected 401/403")
                elif status == 403:
                    code = response.json()["error"]["code"]
                    expected = {
                        "staff with no role": "role_missing",
                        "manager": "permission_denied",
                        "supervisor": "permission_denied",
                    }.get(role, "missing_scope")
                    if code != expected or (
                        expected == "missing_scope" and endpoint.scope not in response.json()["error"]["message"]
                    ):
                        problems.append(f"{where}: 403 {code}, expected {expected}: {response.json()['error']}")
                continue
            visible = target is None or target in VISIBLE.get(role, {"mine", "colleague", "foreign"})
            msisdn = world.customers[target].msisdn if target else None
            if endpoint.target == "list":
                shown = status == 200 and listed(response, msisdn)
                if shown != visible:
                    problems.append(f"{where}: listed={shown}, expected {visible}")
            elif visible:
                if status in (401, 403, 404):
                    problems.append(f"{where}, expected allowed: {response.content[:200]}")
            elif endpoint.target == "region":  # a region not hers answers as an unknown one would to her
                if (status, error_code(response)) != (404, "unknown_region"):
                    problems.append(f"{where}, expected 404 unknown_region")
            else:
                nobody = request(client, world, endpoint, "nobody")
                if status not in (400, 404) or (status, error_code(response)) != (
                    nobody.status_code,
                    error_code(nobody),
                ):
                    problems.append(
                        f"{where}: {response.content[:150]} is not what an unknown customer gets: "
                        f"{nobody.status_code} {nobody.content[:150]}"
                    )
    assert problems == [], f"{role}: " + "\n".join(problems)


def test_what_a_supervisor_may_not_do_leaves_no_trace(django_user_model):
    """Issue 13: a supervisor redeemed points of another branch's customer (201), pushed bills and events, closed
    a billing month, started a forced run and transferred points. Now every such write is a 403 and changes
    nothing."""
    from customers.models import BillingMonth, MonthlyBill
    from points.models import PointsEntry
    from tiers.models import RatingRun
    from vipclub.models import InboundEvent

    world = club_world(django_user_model)
    api = session_of(world.boss)
    foreign = world.customers["foreign"].msisdn
    runs, entries = RatingRun.objects.count(), PointsEntry.objects.count()  # (the world's gift orders have some)
    before = Customer.objects.get(msisdn=foreign).status
    answers = [
        api.post(
            "/api/v1/points/redemptions/",
            {"msisdn": foreign, "points": 1, "reference": "x"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k1",
        ),
        api.post(
            "/api/v1/points/transfers/",
            {"from_msisdn": foreign, "to_msisdn": world.customers["mine"].msisdn, "points": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k2",
        ),
        api.post(
            "/api/v1/bills/bulk/",
            [{"msisdn": foreign, "month": "2026-08", "amount": "1.00", "paid": True}],
            format="json",
        ),
        api.post(
            "/api/v1/events/",
            {
                "event_id": "e1",
                "type": "closed",
                "msisdn": foreign,
                "occurred_at": "2026-10-08T10:00:00+08:00",
                "data": {"kind": "voluntary"},
            },
            format="json",
        ),
        api.post("/api/v1/billing-months/2026-08/close/", {}, format="json"),
        api.post("/api/v1/rating-runs/", {"month": "2026-09", "force": True}, format="json"),
    ]
    assert [a.status_code for a in answers] == [403] * 6
    assert "club admins" in answers[0].json()["error"]["message"]
    assert PointsEntry.objects.count() == entries and not MonthlyBill.objects.filter(month=dt.date(2026, 8, 1)).exists()
    assert not InboundEvent.objects.exists() and not BillingMonth.objects.filter(closed_at__isnull=False).exists()
    assert RatingRun.objects.count() == runs
    world.customers["foreign"].refresh_from_db()
    assert world.customers["foreign"].status == before  # the closed event did not close her


def test_a_staff_login_without_a_role_is_told_the_role_is_missing(django_user_model):
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    error = session_of(clerk).get("/api/v1/customers/").json()["error"]
    assert error["code"] == "role_missing" and "no role" in error["message"]


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
        for endpoint in ENDPOINTS:
            given = re.sub(r"\{\w+\}", "1", endpoint.path).split("?")[0].strip("/").split("/")
            if len(given) == len(parts) - 1 and all(
                p.startswith("<") or p == g for p, g in zip(parts[:-1], given, strict=True)
            ):
                covered.add(route)
    assert routes - covered == set()


def test_every_scope_has_its_group():
    assert {g.name for g in Group.objects.filter(name__startswith="api:")} == {f"api:{s}" for s in API_SCOPES}


def test_a_manager_pushed_through_the_api_gets_her_role(staff_user):
    # given: a new manager created with PUT /account-managers/ (her login created with her)
    RegionFactory(code="GZ")
    admin_api = session_of(staff_user)
    body = {"username": "chen", "name": "陈", "region": "GZ", "capacity": 100, "active": True}
    assert admin_api.put("/api/v1/account-managers/E5/", body, format="json").status_code == 201
    # then: her login is an account manager's: the API lets her read her (no) customers
    from django.contrib.auth import get_user_model

    chen = get_user_model().objects.get(username="chen")
    assert chen.groups.filter(name=ACCOUNT_MANAGERS_GROUP).exists()
    assert session_of(chen).get("/api/v1/customers/").json()["results"] == []


# -- the admin: every changelist and change page as a branch supervisor ------------------------------------------


def customer_rows(world) -> None:
    """A row in every customer-related table for the GZ member (`mine`) and the SZ one (`foreign`)."""
    from benefits.models import BenefitAccount
    from customers.models import Group as CorporateGroup
    from customers.models import KeyPerson, MonthlyBill
    from managers.models import ContactLog, MembershipCard, Notification, ServicePlan, WorkLog
    from points.models import CreditRating, PointsAccount, PointsEntry, PointsLot
    from retention.models import ChurnRecord, MemberCount, MonthSnapshot, RiskScore
    from tiers.models import Tier, TierChange, TierOverride, TransferFloor

    gold, now = Tier.objects.get(code="gold"), timezone.now()
    snapshot = MonthSnapshot.objects.create(month=dt.date(2026, 8, 1), members=2, taken_at=now)
    for key, manager in (("mine", world.e1), ("foreign", world.e2)):
        c = world.customers[key]
        group = CorporateGroup.objects.create(code=f"G-{key}", name=f"{key} group", group_class="A")
        KeyPerson.objects.create(group=group, customer=c, role="top_decision_maker", set_at=now)
        MonthlyBill.objects.create(customer=c, month=dt.date(2026, 8, 1), amount="88.00")
        TierOverride.objects.create(
            customer=c,
            tier=gold,
            reason="vip",
            starts_on=dt.date(2026, 9, 1),
            ends_on=dt.date(2026, 12, 31),
            created_by=world.boss,
        )
        TierChange.objects.create(
            customer=c, transition="joined", reason="score", effective_on=dt.date(2026, 9, 1), to_tier=gold
        )
        TransferFloor.objects.create(
            customer=c, tier=gold, from_region="BJ", moved_on=dt.date(2026, 9, 1), kept_until=dt.date(2026, 12, 31)
        )
        BenefitAccount.objects.filter(customer=c)  # made by club_world, with a redemption in the ledger
        PointsAccount.objects.get_or_create(customer=c)  # (club_world gave her points for a gift order)
        PointsLot.objects.create(
            customer=c, year=2026, kind="earn", original=100, remaining=100, expires_on=dt.date(2029, 12, 31)
        )
        PointsEntry.objects.create(
            customer=c, kind="earn", amount=100, occurred_on=dt.date(2026, 9, 1), created_at=now, reference=f"ref-{key}"
        )
        CreditRating.objects.create(customer=c, stars=3, score=60, as_of=dt.date(2026, 9, 1), computed_at=now)
        ContactLog.objects.create(customer=c, manager=manager, channel="call", outcome="reached", occurred_at=now)
        MembershipCard.objects.create(customer=c, tier=gold)
        ServicePlan.objects.create(
            manager=manager, scope="year", period_start=dt.date(2026, 1, 1), content=f"plan for {c.name}"
        )
        WorkLog.objects.create(manager=manager, date=dt.date(2026, 9, 1), content=f"called {c.name}")
        Notification.objects.create(user=manager.user, kind="overdue", text=f"{c.name} is overdue", day=now.date())
        ChurnRecord.objects.create(
            customer=c, closed_on=dt.date(2026, 9, 1), kind="voluntary", region=c.region, manager=manager, tier=gold
        )
        RiskScore.objects.create(customer=c, score="50.00", as_of=dt.date(2026, 9, 1))
        MemberCount.objects.create(snapshot=snapshot, tier=gold, region=c.region, members=1)


def reveals(html: str, customer) -> list[str]:
    """What of this customer a page shows: her name, msisdn (in clear or masked), ID number."""
    marks = [customer.name, customer.msisdn, mask_msisdn(customer.msisdn), customer.id_number]
    return [m for m in marks if m and m in html]


def test_a_supervisor_sees_no_other_branch_in_any_admin_changelist_or_change_page(django_user_model):
    """Issue 13: a supervisor read other branches' bills, contact logs, obligations, ledgers, assignments and credit
    ratings in the admin. Every list now holds her branch's rows and no other's, and she cannot open theirs."""
    world = club_world(django_user_model)
    customer_rows(world)
    foreign = world.customers["foreign"]
    client = Client()
    client.force_login(world.boss)
    problems, checked = [], set()
    for model in list(admin.site._registry):
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(url)
        if response.status_code == 403:
            continue
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        if leaked := reveals(response.content.decode(), foreign):
            problems.append(f"{url} shows the other branch's customer: {leaked}")
        listed_pks = {obj.pk for obj in response.context_data["cl"].result_list}
        ours, theirs = rows_of(model, "mine", world), rows_of(model, "foreign", world)
        if ours or theirs:
            checked.add(opts.label)
            if not {o.pk for o in ours} <= listed_pks or {o.pk for o in theirs} & listed_pks:
                problems.append(
                    f"{url} lists {sorted(listed_pks)}: hers {[o.pk for o in ours]}, "
                    f"the other branch's {[o.pk for o in theirs]}"
                )
        # every row of the other branch: its change, history and delete pages are not hers to open
        for obj in theirs:
            for view in ("change", "history", "delete"):
                page = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
                answer = client.get(page)
                body = answer.content.decode() if answer.status_code == 200 else ""
                if answer.status_code not in (302, 403, 404) or reveals(body, foreign):
                    problems.append(f"{page}: {answer.status_code} {reveals(body, foreign)}")
    # and the audit trail lists the changes of her branch's assignments, overrides and managers only
    from managers.models import Assignment
    from tiers.models import TierOverride

    audit = client.get("/admin/audit/").content.decode()
    for model, key in ((Assignment, "customer"), (TierOverride, "customer")):
        ours = model.objects.get(**{key: world.customers["mine"]})
        theirs = model.objects.get(**{key: foreign})
        if escape(str(ours)) not in audit or escape(str(theirs)) in audit:  # rows named by their __str__ (issue 16)
            problems.append(f"/admin/audit/: {model.__name__} #{ours.pk} (hers) missing or #{theirs.pk} shown")
    if str(world.e1) not in audit or str(world.e2) in audit or reveals(audit, foreign):
        problems.append("/admin/audit/ misses her branch's manager or shows the other branch's")
    assert problems == [], "\n".join(problems)
    # every customer-related list of the club was checked with rows of both branches
    assert checked >= {
        "customers.Customer",
        "customers.MonthlyBill",
        "tiers.TierOverride",
        "tiers.TierChange",
        "tiers.TransferFloor",
        "benefits.BenefitAccount",
        "benefits.BenefitEntry",
        "points.PointsAccount",
        "points.PointsLot",
        "points.PointsEntry",
        "points.CreditRating",
        "managers.AccountManager",
        "managers.Assignment",
        "managers.Obligation",
        "managers.ContactLog",
        "managers.MembershipCard",
        "managers.ServicePlan",
        "managers.WorkLog",
        "managers.Notification",
        "retention.RetentionCase",
        "retention.ChurnRecord",
        "retention.RiskScore",
        "service.GiftOrder",
    }


def rows_of(model, key: str, world) -> list:
    """The rows of `model` that belong to the world's customer `key` ("mine": GZ, "foreign": SZ) or to her
    branch's manager: those a supervisor of the other branch must neither list nor open."""
    from managers.models import AccountManager

    customer = world.customers[key]
    manager = {"mine": world.e1, "foreign": world.e2}[key]
    names = {f.name for f in model._meta.get_fields()}
    if model is type(customer):
        return [customer]
    if model is AccountManager:
        return [manager]
    if (
        "customer" in names
        and model._meta.get_field("customer").many_to_one | model._meta.get_field("customer").one_to_one
    ):
        return list(model._default_manager.filter(customer=customer))
    if "manager" in names:
        return list(model._default_manager.filter(manager=manager))
    if model._meta.label == "managers.Notification":
        return list(model._default_manager.filter(user=manager.user))
    return []


def test_a_corporate_groups_page_shows_her_branchs_key_persons_only(django_user_model):
    from customers.models import Group as CorporateGroup
    from customers.models import KeyPerson

    world = club_world(django_user_model)
    group = CorporateGroup.objects.create(code="G1", name="两地集团", group_class="A")
    for key in ("mine", "foreign"):
        KeyPerson.objects.create(group=group, customer=world.customers[key], role="contact", set_at=timezone.now())
    client = Client()
    client.force_login(world.boss)
    html = client.get(reverse("admin:customers_group_change", args=[group.pk])).content.decode()
    assert world.customers["mine"].name in html and reveals(html, world.customers["foreign"]) == []


def test_a_supervisor_cannot_attach_another_branchs_customer_to_a_new_override(django_user_model):
    from tiers.models import Tier, TierOverride

    world = club_world(django_user_model)
    client = Client()
    client.force_login(world.boss)
    gold = Tier.objects.get(code="gold")
    body = {
        "customer": world.customers["foreign"].pk,
        "tier": gold.pk,
        "reason": "vip",
        "starts_on": "2026-10-01",
        "ends_on": "2026-12-31",
    }
    response = client.post(reverse("admin:tiers_tieroverride_add"), body)
    assert response.status_code == 200  # the form again, the customer refused
    assert not TierOverride.objects.filter(customer=world.customers["foreign"]).exists()
    client.post(reverse("admin:tiers_tieroverride_add"), {**body, "customer": world.customers["mine"].pk})
    assert TierOverride.objects.filter(customer=world.customers["mine"]).exists()


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
        boss = make_supervisor("boss")
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
    # lists mask msisdns and ID numbers unless the client has the `pii` scope (API.md, issue 18)
    rows = client_with(django_user_model, "lounge-list", ["read"]).get("/api/v1/customers/").json()["results"]
    assert rows and all("****" in r["msisdn"] and "*" in r["id_number"] for r in rows)
    rows = client_with(django_user_model, "crm", ["read", "pii"]).get("/api/v1/customers/").json()["results"]
    assert [(r["msisdn"], r["id_number"]) for r in rows] == [(customer.msisdn, customer.id_number)]


def test_a_supervisor_sees_her_branch_only_in_the_admin_and_the_api(django_user_model):
    boss = make_supervisor("gz-boss")
    mine = make_manager("E1", region=RegionFactory(code="GZ"), supervisor=boss)
    other = make_manager("E2", region=RegionFactory(code="SZ", name="深圳"))
    ours, theirs = make_member(manager=mine), make_member(manager=other)
    client = Client()
    client.force_login(boss)
    page = client.get("/admin/customers/customer/").content.decode()
    assert ours.name in page and theirs.name not in page
    api = session_of(boss)
    assert api.get(f"/api/v1/customers/{ours.msisdn}/").status_code == 200
    assert api.get(f"/api/v1/customers/{theirs.msisdn}/").status_code == 404


def test_list_msisdns_are_masked_for_clients_without_the_pii_scope(django_user_model):
    manager = make_manager("E3")
    member = make_member(manager=manager)
    ObligationFactory(
        customer=member,
        manager=manager,
        kind="first_contact",
        period="first",
        opened_on="2026-11-02",
        due_on="2026-11-05",
    )
    # a lounge partner with `read` gets the obligation list with the msisdn masked; the hotline (pii) in clear
    plain = client_with(django_user_model, "lounge2", ["read"]).get("/api/v1/obligations/").json()["results"]
    trusted = client_with(django_user_model, "hotline2", ["read", "pii"]).get("/api/v1/obligations/").json()
    assert [o["msisdn"] for o in plain] == [f"{member.msisdn[:3]}****{member.msisdn[-4:]}"]
    assert [o["msisdn"] for o in trusted["results"]] == [member.msisdn]
    # and the manager, a person, sees her customer's number to call her
    session = APIClient()
    session.force_login(manager.user)
    assert [o["msisdn"] for o in session.get("/api/v1/obligations/").json()["results"]] == [member.msisdn]


def test_a_manager_made_before_the_roles_gets_hers_at_the_next_migrate(django_user_model):
    from managers.models import AccountManager
    from vipclub.roles import sync_groups

    # given: a manager whose login was made by hand, outside manager_upsert (no role yet)
    user = django_user_model.objects.create_user(username="old-hand")
    AccountManager.objects.create(user=user, employee_no="E0", name="老", region=RegionFactory())
    assert session_of(user).get("/api/v1/customers/").status_code == 403
    # when: the groups are synced (after every migrate)
    sync_groups()
    # then: she is an account manager
    assert session_of(user).get("/api/v1/customers/").status_code == 200


def test_a_supervisor_reassigns_within_her_branches_only(django_user_model):
    from managers.models import Assignment

    world = club_world(django_user_model)
    api = session_of(world.boss)
    mine, foreign = world.customers["mine"], world.customers["foreign"]
    url = "/api/v1/assignments/reassign/"
    # to a manager of another branch: that manager is unknown to her
    answer = api.post(url, {"msisdns": [mine.msisdn], "manager": "E2", "on": "2026-10-08"}, format="json")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_manager")
    # another branch's customer: unknown to her, like an msisdn nobody has; nothing moved
    answer = api.post(url, {"msisdns": [foreign.msisdn], "manager": "E3", "on": "2026-10-08"}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["fields"]["msisdns"] == [foreign.msisdn]
    assert Assignment.objects.get(customer=foreign, ended_on__isnull=True).manager == world.e2
    # within her branch: moved
    answer = api.post(url, {"msisdns": [mine.msisdn], "manager": "E3", "on": "2026-10-08"}, format="json")
    assert answer.json() == {"moved": 1}
    assert Assignment.objects.get(customer=mine, ended_on__isnull=True).manager == world.e3
