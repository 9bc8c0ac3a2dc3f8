"""Concurrency (issue 13, point 4): writes that cross never deadlock into a 500, lifecycle events apply in
`occurred_at` order per customer, and no retention case stays open without its closure request.

PostgreSQL only: real threads, each request on its own connection, with the test client (the whole request path:
views, idempotency, the retry at the outermost transaction). SQLite serialises every writer on one database lock,
so threads prove nothing there (the retry itself is tested on both databases in tests/test_retry.py).
"""

import datetime as dt
import io
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.factories import CustomerFactory, RegionFactory, make_id_number
from customers.models import Customer, MonthlyBill, Status
from points import selectors as points_selectors
from points.models import PointsAccount, RewardRule
from retention.models import CLOSED_CASE_STATES, CaseState, RetentionCase, RetentionOffer
from retention.services import case_transition
from vipclub.models import InboundEvent

pytestmark = [
    # PostgreSQL only: SQLite serialises every writer on one database lock, so threads prove nothing there
    pytest.mark.postgres,
    # every app "available": each test starts with what post_migrate writes (groups, permissions) and leaves the
    # database empty, as a test with serialized_rollback expects after it
    pytest.mark.django_db(transaction=True, available_apps=[a.name for a in django_apps.get_app_configs()]),
]

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def parallel(calls: list[Callable]) -> list:
    """Run the calls at the same moment, one thread and one database connection each; their results (or the
    exception raised) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def token(api_user) -> str:
    return Token.objects.create(user=api_user).key


def client(token: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def post(token: str, path: str, body, **headers) -> tuple[int, dict]:
    response = client(token).post(path, body, format="json", **headers)
    return response.status_code, response.json()


def assert_no_5xx(answers: list) -> None:
    problems = [a for a in answers if isinstance(a, Exception) or a[0] >= 500]
    assert not problems, problems


# -- crossed bulk uploads ---------------------------------------------------------------------------------------------


def test_crossed_bulk_bill_uploads_never_deadlock_and_the_ledger_reconciles(token):
    # given 200 customers and plain consumption points (floor of each bill)
    RewardRule.objects.update(active=False)
    region = RegionFactory()
    customers = sorted(CustomerFactory.create_batch(200, region=region), key=lambda c: c.msisdn)
    # when, 5 times, two billing systems upload at the same moment the same customers' bills in opposite order (a
    # new month each time and a correction of the month before: inserts and updates cross), twice each
    for rnd in range(5):
        months = [f"2026-{rnd + 1:02d}", f"2026-{rnd + 2:02d}"]

        def rows(order, cents, months=months):
            return [
                {"msisdn": c.msisdn, "month": m, "amount": f"{100 + i * 7 + j}.{cents:02d}", "paid": True}
                for i, c in enumerate(order)
                for j, m in enumerate(months)
            ]

        forward, backward = rows(customers, 10 + rnd), rows(customers[::-1], 60 + rnd)
        answers = parallel(
            [lambda body=body: post(token, "/api/v1/bills/bulk/", body) for body in (forward, backward) * 2]
        )
        # then every upload succeeds (none is a 500, none a deadlock)
        assert_no_5xx(answers)
        assert [status for status, _ in answers] == [200] * 4, answers
    # and the points ledger reconciles: each customer holds exactly the floor of her final bills
    assert points_selectors.ledger_invariant_violations() == []
    final = {c.pk: sum(int(b.amount) for b in MonthlyBill.objects.filter(customer=c)) for c in customers}
    balances = dict(PointsAccount.objects.values_list("customer_id", "balance"))
    assert balances == final
    assert MonthlyBill.objects.count() == 200 * 6


def test_crossed_customer_bulk_uploads_never_deadlock(token):
    # given 150 customers' data and two systems pushing it at once, in opposite order, four times (creates, then
    # updates with a plan each: the plan periods cross too)
    RegionFactory()
    base = [
        {
            "msisdn": f"1390000{i:04d}",
            "name": f"客户{i}",
            "id_number": make_id_number(i),
            "join_date": "2015-03-01",
            "brand": "gotone",
            "product_type": "primary",
            "region": "GZ",
        }
        for i in range(150)
    ]
    for rnd in range(4):
        body = [{**row, "plan_code": f"P{rnd}", "plan_started_on": f"2026-0{rnd + 1}-01"} for row in base]
        answers = parallel(
            [lambda b=b: post(token, "/api/v1/customers/bulk/", b) for b in (body, body[::-1], body, body[::-1])]
        )
        # then each upload succeeds
        assert_no_5xx(answers)
        assert [status for status, _ in answers] == [200] * 4, answers
    assert Customer.objects.count() == 150
    assert set(Customer.objects.values_list("plan_code", flat=True)) == {"P3"}


def test_crossed_csv_bill_imports_never_deadlock(tmp_path: Path, settings):
    # given 150 customers, and files written in chunks of 50 rows (one transaction for the whole file)
    settings.VIPCLUB_BULK_MAX_ROWS = 50
    RewardRule.objects.update(active=False)
    region = RegionFactory()
    customers = sorted(CustomerFactory.create_batch(150, region=region), key=lambda c: c.msisdn)
    for rnd in range(4):
        # when two CSV files with the same customers' bills of a new month (and a correction of the month before),
        # in opposite order, are imported at the same moment
        files = []
        for name, order in (("a.csv", customers), ("b.csv", customers[::-1])):
            path = tmp_path / f"{rnd}{name}"
            lines = ["msisdn,month,amount,paid"] + [
                f"{c.msisdn},2026-{m:02d},{88 + i},true" for i, c in enumerate(order) for m in (rnd + 1, rnd + 2)
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(path)
        outcomes = parallel([lambda p=p: call_command("import_bills", str(p), stdout=io.StringIO()) for p in files])
        # then both imports succeed
        assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert MonthlyBill.objects.count() == 150 * 5
    assert points_selectors.ledger_invariant_violations() == []


# -- lifecycle events of one customer ---------------------------------------------------------------------------------

NEXT = {
    Status.ACTIVE: [
        ("suspended", {"kind": "arrears"}),
        ("suspended", {"kind": "requested"}),
        ("closure_requested", {"channel": "hotline", "reason": "moving"}),
    ],
    Status.SUSPENDED: [("reactivated", {}), ("closure_requested", {"channel": "hall", "reason": "price"})],
    Status.PENDING_CLOSURE: [("closure_cancelled", {}), ("closure_requested", {"channel": "api", "reason": "again"})],
}
TARGET = {
    "suspended": Status.SUSPENDED,
    "reactivated": Status.ACTIVE,
    "closure_requested": Status.PENDING_CLOSURE,
    "closure_cancelled": Status.ACTIVE,
    "closed": Status.CLOSED,
}


def lifecycle_walk(rng: random.Random, n: int, *, close: bool) -> tuple[list[tuple[str, dict]], str, str]:
    """A valid sequence of n lifecycle events from active (a closure at the end when `close`), and the status and
    suspension kind it leads to when applied in order."""
    status, kind, events = Status.ACTIVE, "", []
    for _ in range(n):
        type_, data = rng.choice(NEXT[status])
        events.append((type_, data))
        status, kind = TARGET[type_], data.get("kind", "") if type_ == "suspended" else ""
    if close:
        if status == Status.ACTIVE:
            events.append(("closure_requested", {"channel": "hotline", "reason": "leaving"}))
        events.append(("closed", {"kind": "arrears" if status == Status.SUSPENDED else "voluntary"}))
        status, kind = Status.CLOSED, ""
    return events, status, kind


def event_body(customer, i: int, type_: str, data: dict, *, prefix: str) -> dict:
    at = T0 + dt.timedelta(minutes=10 * i)
    return {
        "event_id": f"{prefix}-{i}",
        "type": type_,
        "msisdn": customer.msisdn,
        "occurred_at": at.isoformat(),
        "data": data,
    }


def assert_consistent(customer, status: str, kind: str) -> None:
    customer.refresh_from_db()
    assert (customer.status, customer.suspension_kind) == (status, kind)
    open_cases = RetentionCase.objects.filter(customer=customer).exclude(state__in=CLOSED_CASE_STATES)
    # a retention case is open exactly while her closure request is
    assert open_cases.count() == (1 if status == Status.PENDING_CLOSURE else 0), list(open_cases.values())
    account = PointsAccount.objects.filter(customer=customer).first()
    if account is not None:
        assert account.frozen == (status != Status.ACTIVE), (status, account.frozen_reason)


@pytest.mark.parametrize("close", [False, True], ids=["open-ended", "ending-in-closure"])
def test_parallel_lifecycle_events_of_one_customer_end_as_in_occurred_at_order(token, close):
    rng = random.Random(13 + close)
    region = RegionFactory()
    for rnd in range(5):
        # given a customer and 8 lifecycle events from her system of record, one every 10 minutes
        customer = CustomerFactory(region=region)
        events, status, kind = lifecycle_walk(rng, 8, close=close)
        bodies = [event_body(customer, i, t, d, prefix=f"r{close}{rnd}") for i, (t, d) in enumerate(events)]
        # when they all arrive at the same moment (in whatever order the threads run)
        answers = parallel([lambda b=b: post(token, "/api/v1/events/", b) for b in bodies])
        # then none is a 500 and every one is recorded (applied, or superseded by a newer one)
        assert_no_5xx(answers)
        assert [status_code for status_code, _ in answers] == [201] * len(bodies), answers
        assert InboundEvent.objects.filter(msisdn=customer.msisdn).count() == len(bodies)
        # and the customer ends as if they had been applied in occurred_at order
        assert_consistent(customer, status, kind)
        # and the newest one was applied
        assert answers[-1][1]["applied"] is True, answers[-1]


def test_a_closure_request_racing_its_cancellation_and_a_suspension_leaves_no_open_case(token):
    region = RegionFactory()
    for rnd in range(8):
        # given a customer pending closure with her retention case open
        customer = CustomerFactory(region=region)
        first = event_body(customer, 0, "closure_requested", {"channel": "hotline"}, prefix=f"race{rnd}")
        assert post(token, "/api/v1/events/", first)[0] == 201
        # when a second request, the cancellation and then an arrears suspension arrive at the same moment
        bodies = [
            event_body(customer, 1, "closure_requested", {"channel": "hall"}, prefix=f"race{rnd}"),
            event_body(customer, 2, "closure_cancelled", {}, prefix=f"race{rnd}"),
            event_body(customer, 3, "suspended", {"kind": "arrears"}, prefix=f"race{rnd}"),
        ]
        answers = parallel([lambda b=b: post(token, "/api/v1/events/", b) for b in bodies])
        assert_no_5xx(answers)
        # then she is suspended and no retention case is left open on her
        assert_consistent(customer, Status.SUSPENDED, "arrears")
        assert RetentionCase.objects.filter(customer=customer).count() == 1


def test_a_retained_case_and_the_cancellation_event_cross_without_a_deadlock(token, api_user):
    region = RegionFactory()
    RetentionOffer.objects.get_or_create(code="discount", defaults={"name_zh": "优惠", "name_en": "Discount"})
    for rnd in range(6):
        # given a customer pending closure whose case is at "offer made"
        customer = CustomerFactory(region=region)
        opened = post(token, "/api/v1/events/", event_body(customer, 0, "closure_requested", {}, prefix=f"x{rnd}"))
        assert opened[0] == 201, opened
        case = RetentionCase.objects.get(customer=customer)
        for minute, to in ((1, "contacted"), (2, "offer_made")):
            case = case_transition(
                case=case,
                to=to,
                offer="discount" if to == "offer_made" else "",
                actor=api_user,
                at=T0 + dt.timedelta(minutes=minute),
            )
        # when the manager marks her retained (the case locks, then the customer) while the hotline's cancellation
        # arrives (the customer, then the case)
        retained = {"to": "retained", "occurred_at": (T0 + dt.timedelta(minutes=5)).isoformat()}
        cancelled = event_body(customer, 1, "closure_cancelled", {}, prefix=f"x{rnd}")
        answers = parallel(
            [
                lambda path=f"/api/v1/retention-cases/{case.pk}/transition/", body=retained: post(token, path, body),
                lambda body=cancelled: post(token, "/api/v1/events/", body),
            ]
        )
        # then neither is a 500 (the move may be refused when the event ended the case first), she is active again
        assert_no_5xx(answers)
        assert answers[0][0] in (200, 409) and answers[1][0] == 201, answers
        assert_consistent(customer, Status.ACTIVE, "")
        assert RetentionCase.objects.get(pk=case.pk).state == CaseState.RETAINED


def test_redemptions_and_a_suspension_of_one_customer_never_deadlock(token):
    # given a customer with points
    RewardRule.objects.update(active=False)
    customer = CustomerFactory(region=RegionFactory())
    assert (
        post(
            token,
            "/api/v1/bills/bulk/",
            [{"msisdn": customer.msisdn, "month": "2026-10", "amount": "900", "paid": True}],
        )[0]
        == 200
    )
    # when redemptions, a bill correction and a suspension arrive together
    calls = [
        lambda i=i: post(
            token,
            "/api/v1/points/redemptions/",
            {"msisdn": customer.msisdn, "points": 10, "reference": f"r{i}"},
            HTTP_IDEMPOTENCY_KEY=f"k{i}",
        )
        for i in range(4)
    ]
    calls.append(
        lambda: post(token, "/api/v1/events/", event_body(customer, 0, "suspended", {"kind": "arrears"}, prefix="s"))
    )
    calls.append(
        lambda: post(
            token,
            "/api/v1/bills/bulk/",
            [{"msisdn": customer.msisdn, "month": "2026-10", "amount": "950", "paid": True}],
        )
    )
    answers = parallel(calls)
    # then nothing is a 500, and the ledger reconciles
    assert_no_5xx(answers)
    assert {status for status, _ in answers[:4]} <= {201, 409}
    assert points_selectors.ledger_invariant_violations() == []
    redeemed = sum(10 for status, _ in answers[:4] if status == 201)
    assert PointsAccount.objects.get(customer=customer).balance == 950 - redeemed
    assert MonthlyBill.objects.filter(customer=customer).aggregate(s=Sum("amount"))["s"] == Decimal("950")


# -- the database's own guarantee -------------------------------------------------------------------------------------


def test_the_database_refuses_an_open_case_without_its_closure_request(token):
    # given a customer pending closure with her case open
    customer = CustomerFactory(region=RegionFactory())
    assert post(token, "/api/v1/events/", event_body(customer, 0, "closure_requested", {}, prefix="db"))[0] == 201
    case = RetentionCase.objects.get(customer=customer)
    # when a write bypasses the services and suspends her with the case still open, then the commit is refused
    with pytest.raises(IntegrityError, match="retention case open on customer"), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status="suspended", suspension_kind="arrears")
    # and so is a case opened on an active customer
    other = CustomerFactory(region=customer.region)
    with pytest.raises(IntegrityError, match="a case needs her closure request"), transaction.atomic():
        RetentionCase.objects.create(customer=other, opened_at=T0)
    # while a requested suspension may hold one (DOMAIN §8), and an ended case holds nothing
    Customer.objects.filter(pk=customer.pk).update(status="suspended", suspension_kind="requested")
    RetentionCase.objects.create(customer=other, opened_at=T0, state="retained", closed_at=T0)
    assert RetentionCase.objects.get(pk=case.pk).state == CaseState.OPEN
