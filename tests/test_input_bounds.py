"""Input bounds everywhere (issue 13, "bad input that breaks things"): every finding as a test named after its rule.

Months and dates within the horizon (core.bounds: 1900-01-01 … 2099-12-31) in the API, the admin, the pages and
the commands; bills only for months that have ended; events and contacts not in the future beyond the clock skew;
ASCII digits only; decimals without exponents; NUL characters and deep JSON a 400; drafts validated in full before
a run exists; CSV cells neutralised. Each test failed on main (a 500, or bad input accepted).
"""

import datetime as dt
import importlib
import io
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from core.tests.helpers import assert_error
from customers.factories import CustomerFactory, RegionFactory
from customers.models import BillingMonth, Customer, MonthlyBill
from managers.factories import ObligationFactory
from managers.models import ContactLog, ServicePlan, WorkLog
from managers.tests.helpers import make_manager, make_member
from points import selectors as points_selectors
from points.models import PointsLot, RewardRule
from tiers.models import RatingPolicy, RatingRun
from tiers.tests.helpers import policy_form_data

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)  # the business date of these tests: 20 November 2026
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def member(customer):
    RewardRule.objects.update(active=False)
    return customer


def bills(api, rows):
    return api.post("/api/v1/bills/bulk/", rows, format="json")


def bill(msisdn, month="2026-10", amount="100.00"):
    return {"msisdn": msisdn, "month": month, "amount": amount, "paid": True}


def event(msisdn, type_="suspended", data=None, at="2026-11-20T09:00:00+08:00", event_id="e-1"):
    return {
        "event_id": event_id,
        "type": type_,
        "msisdn": msisdn,
        "occurred_at": at,
        "data": data or {"kind": "arrears"},
    }


# -- months and dates within the horizon --------------------------------------------------------------------------------


def test_a_bill_only_for_a_month_that_has_ended(api, member):
    # given: 20 November 2026
    # when: bills for 9999-12, for November (not over) and for October (over) are pushed
    for month in ("9999-12", "2026-11", "2027-01"):
        error = assert_error(bills(api, [bill(member.msisdn, month)]), 400, "invalid_rows")
        # then: the month is named, nothing is written
        assert "month" in error["fields"]["0"], error
    assert not MonthlyBill.objects.exists()
    assert bills(api, [bill(member.msisdn, "2026-10")]).json() == {"created": 1, "updated": 0}


def test_a_bill_of_a_month_that_has_not_ended_does_not_poison_the_points(api, member):
    # given: a bill for 9999-12 already in the table (loaded around the API, as before the fix) and one for October
    MonthlyBill.objects.create(customer=member, month=dt.date(9999, 12, 1), amount=Decimal("10.00"), paid=True)
    assert bills(api, [bill(member.msisdn, "2026-10", "300.00")]).status_code == 200
    from points import services as points_services

    # when: the earning backfill runs over every bill, then the member's points are read, redeemed, transferred
    points_services.points_earn_all(on=NOW.date())
    friend = CustomerFactory(region=member.region, brand=member.brand)
    read = api.get(f"/api/v1/customers/{member.msisdn}/points/")
    redeemed = api.post(
        "/api/v1/points/redemptions/",
        {"msisdn": member.msisdn, "points": 10, "reference": "R-1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-1",
    )
    moved = api.post(
        "/api/v1/points/transfers/",
        {"from_msisdn": member.msisdn, "to_msisdn": friend.msisdn, "points": 10},
        format="json",
        HTTP_IDEMPOTENCY_KEY="t-1",
    )
    # then: all answer; only October's bill earned (the month that has not ended earns nothing)
    assert read.status_code == 200, read.content
    assert read.json()["lots"] == [{"year": 2026, "remaining": 300, "expires_on": "2028-12-31"}]
    assert (redeemed.status_code, moved.status_code) == (201, 201), (redeemed.content, moved.content)
    assert api.get(f"/api/v1/customers/{member.msisdn}/points/").json()["balance"] == 280
    assert points_selectors.ledger_invariant_violations() == []


def test_a_lot_expiring_after_the_calendar_is_brought_within_it(api, member):
    # given: a lot expiring on 31 December 10001, as a 9999-12 bill earned before the fix (PostgreSQL stores the
    # date, SQLite its text); every read of it failed with "year 10001 is out of range"
    assert bills(api, [bill(member.msisdn, "2026-10", "50.00")]).status_code == 200
    lot = PointsLot.objects.get(customer=member)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE points_pointslot SET year = 9999, expires_on = %s WHERE id = %s", ["10001-12-31", lot.pk]
        )
    # when: the migration of issue 13 runs
    migration = importlib.import_module("points.migrations.0003_clamp_lots_beyond_the_calendar")
    migration.clamp(None, type("Editor", (), {"connection": connection})())
    # then: the points read and redeem again, the lot expiring on the last accepted day
    response = api.get(f"/api/v1/customers/{member.msisdn}/points/")
    assert response.status_code == 200, response.content
    assert response.json()["lots"] == [{"year": 9999, "remaining": 50, "expires_on": "2099-12-31"}]
    redeemed = api.post(
        "/api/v1/points/redemptions/",
        {"msisdn": member.msisdn, "points": 5, "reference": "R-2"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-2",
    )
    assert redeemed.status_code == 201, redeemed.content


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1899-12", "٢٠٢٦-١٠", "２０２６-１０"])
def test_closing_a_month_outside_the_horizon_is_a_400(api, month):
    # when: billing closes a month near the calendar's ends (9999-12 was a 500: "year 10000 is out of range")
    error = assert_error(api.post(f"/api/v1/billing-months/{month}/close/"), 400, "invalid")
    # then: the month is named and nothing is closed
    assert "month" in error["fields"]
    assert not BillingMonth.objects.exists()


def test_closing_a_stored_month_near_the_calendars_end_is_refused_not_a_500():
    # given: a billing month 9999-12 stored before the fix; when: the service closes it (the admin action does)
    from core.errors import InvalidInput
    from customers import services

    with pytest.raises(InvalidInput):
        services.billing_month_close(month=dt.date(9999, 12, 1), at=timezone.now())


def _customer_row(**fields):
    row = {
        "msisdn": "13900000001",
        "name": "王芳",
        "id_number": "11010519491231002X",
        "join_date": "2016-04-02",
        "brand": "gotone",
        "region": "GZ",
    }
    return {**row, **fields}


def _redemption(member, **fields):
    return {"msisdn": member.msisdn, "benefit": "lounge_airport", "reference": "V-1", **fields}


# (method, path, body or query builder, the field that must be named)
HORIZON_CASES = {
    "birthday": ("post", "/api/v1/customers/bulk/", lambda m, v: [_customer_row(birthday=v)], "0"),
    "join_date": ("post", "/api/v1/customers/bulk/", lambda m, v: [_customer_row(join_date=v)], "0"),
    "plan_started_on": (
        "post",
        "/api/v1/customers/bulk/",
        lambda m, v: [_customer_row(plan_code="388", plan_started_on=v)],
        "0",
    ),
    "event occurred_at": ("post", "/api/v1/events/", lambda m, v: event(m.msisdn, at=f"{v}T10:00:00+08:00"), None),
    "plan_changed started_on": (
        "post",
        "/api/v1/events/",
        lambda m, v: event(m.msisdn, "plan_changed", {"plan_code": "388", "started_on": v}),
        "data",
    ),
    "moved_in join_date": (
        "post",
        "/api/v1/events/",
        lambda m, v: event(m.msisdn, "moved_in", {"from_region": "SZ", "join_date": v}),
        "data",
    ),
    "contact occurred_at": (
        "post",
        "/api/v1/contact-logs/",
        lambda m, v: {"msisdn": m.msisdn, "channel": "call", "outcome": "reached", "occurred_at": f"{v}T10:00:00Z"},
        "occurred_at",
    ),
    "reassign on": (
        "post",
        "/api/v1/assignments/reassign/",
        lambda m, v: {"msisdns": [m.msisdn], "manager": "M1", "on": v},
        "on",
    ),
    "case occurred_at": (
        "post",
        "/api/v1/retention-cases/",
        lambda m, v: {"msisdn": m.msisdn, "occurred_at": f"{v}T10:00:00+08:00"},
        "occurred_at",
    ),
    "redeemed_on": (
        "post",
        "/api/v1/benefits/redemptions/",
        lambda m, v: _redemption(m, redeemed_on=v),
        "redeemed_on",
    ),
    "rating run month": ("post", "/api/v1/rating-runs/", lambda m, v: {"month": v[:7], "force": True}, "month"),
    "churn report year": ("get", "/api/v1/reports/churn/", lambda m, v: {"year": v[:4]}, "year"),
    "tier report month": ("get", "/api/v1/reports/tiers/", lambda m, v: {"month": v[:7]}, "month"),
    "obligations due_before": ("get", "/api/v1/obligations/", lambda m, v: {"due_before": v}, "due_before"),
    "cases opened_after": ("get", "/api/v1/retention-cases/", lambda m, v: {"opened_after": v}, "opened_after"),
}


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "١٩٨٥-٠٦-١٥", "１９８５-０６-１５"])
@pytest.mark.parametrize("case", list(HORIZON_CASES))
def test_dates_outside_the_horizon_or_not_in_ascii_digits_are_a_400_naming_the_field(api, member, case, value):
    # given: a member with a manager (the reassignment's target), the region of the customer rows
    RegionFactory(code="GZ")
    make_manager("M1", region=member.region)
    method, path, build, field = HORIZON_CASES[case]
    # when
    payload = build(member, value)
    if method == "get":
        response = api.get(path, payload)
    else:
        response = api.post(path, payload, format="json")
    # then: a 400 naming the field (for a bulk row: the row, then the field)
    assert response.status_code == 400, (case, value, response.status_code, response.content[:300])
    fields = response.json()["error"]["fields"]
    named = field or "occurred_at"
    assert named in fields, (case, fields)


def test_a_fact_in_the_future_beyond_the_clock_skew_is_a_400(api, member):
    # given: 20 November 2026 10:00 in Shanghai; the server's clock may be a little behind the sender's
    soon = (NOW + dt.timedelta(minutes=3)).isoformat()
    later = (NOW + dt.timedelta(minutes=10)).isoformat()
    # when: an event, a contact and a closure request dated 10 minutes ahead
    refused = [
        api.post("/api/v1/events/", event(member.msisdn, at=later), format="json"),
        api.post(
            "/api/v1/contact-logs/",
            {"msisdn": member.msisdn, "channel": "call", "outcome": "reached", "occurred_at": later},
            format="json",
        ),
        api.post("/api/v1/retention-cases/", {"msisdn": member.msisdn, "occurred_at": later}, format="json"),
    ]
    # then: each is a 400 naming occurred_at; 3 minutes ahead is within the skew
    for response in refused:
        assert "occurred_at" in assert_error(response, 400, "invalid")["fields"]
    assert api.post("/api/v1/events/", event(member.msisdn, at=soon), format="json").status_code == 201


def test_a_contact_in_the_future_does_not_close_todays_obligations(api):
    # given: a member with an obligation due at the end of the month
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
    # when: a contact is logged for next week
    response = api.post(
        "/api/v1/contact-logs/",
        {"msisdn": member.msisdn, "channel": "call", "outcome": "reached", "occurred_at": "2026-11-27T10:00:00+08:00"},
        format="json",
    )
    # then: refused; the obligation stays open and no contact is logged
    assert "occurred_at" in assert_error(response, 400, "invalid")["fields"]
    due.refresh_from_db()
    assert due.status == "open" and not ContactLog.objects.exists()


def test_birthdays_and_join_dates_are_not_in_the_future(api):
    RegionFactory(code="GZ")
    response = api.post(
        "/api/v1/customers/bulk/", [_customer_row(birthday="2026-12-01", join_date="2027-01-01")], format="json"
    )
    error = assert_error(response, 400, "invalid_rows")
    assert set(error["fields"]["0"]) == {"birthday", "join_date"}
    assert not Customer.objects.exists()


def test_an_id_number_with_a_birth_date_outside_the_horizon_is_refused(api):
    from customers.rules import id_number_check_digit

    RegionFactory(code="GZ")
    first17 = "44010618500101001"  # born 1850
    row = _customer_row(id_number=first17 + id_number_check_digit(first17))
    assert (
        "id_number"
        in assert_error(api.post("/api/v1/customers/bulk/", [row], format="json"), 400, "invalid_rows")["fields"]["0"]
    )


# -- admin, pages, commands ------------------------------------------------------------------------------------------


def test_admin_forms_refuse_dates_outside_the_horizon(admin_client, customer):
    # when: staff type year 9999 and year 1 into the customer's dates (every admin date field is bounded)
    url = f"/admin/customers/customer/{customer.pk}/change/"
    form = {
        "msisdn": customer.msisdn,
        "name": customer.name,
        "id_number": customer.id_number,
        "birthday": "9999-12-31",
        "landline": "",
        "join_date": "0001-01-01",
        "brand": "gotone",
        "product_type": "primary",
        "plan_code": "",
        "plan_started_on": "9999-12-31",
        "region": customer.region.pk,
        **{
            f"{prefix}-{k}": v
            for prefix in ("key_person_roles",)
            for k, v in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0))
        },
    }
    response = admin_client.post(url, form)
    # then: the form comes back naming each date; nothing is saved
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"birthday", "join_date", "plan_started_on"} <= set(errors), errors
    customer.refresh_from_db()
    assert customer.birthday == dt.date(1985, 6, 15)


def test_every_admin_form_field_for_dates_numbers_and_json_is_bounded(admin_user, rf):
    # given: every model admin the site registers (and their inlines)
    from django import forms
    from django.contrib import admin

    from core import forms as bounded

    allowed = (
        bounded.BoundedDateFormField,
        bounded.BoundedSplitDateTimeField,
        bounded.BoundedDateTimeFormField,
        bounded.MonthFormField,
        bounded.DecimalFormField,
        bounded.IntegerFormField,
        bounded.JSONFormField,
    )
    plain = (
        forms.DateField,
        forms.DateTimeField,
        forms.SplitDateTimeField,
        forms.DecimalField,
        forms.IntegerField,
        forms.JSONField,
    )
    request = rf.get("/admin/")
    request.user = admin_user
    unbounded = []
    for model, model_admin in admin.site._registry.items():
        forms_ = [model_admin.get_form(request)]
        forms_ += [inline.get_formset(request).form for inline in model_admin.get_inline_instances(request)]
        for form in forms_:
            for name, field in form.base_fields.items():
                if isinstance(field, plain) and not isinstance(field, allowed):
                    unbounded.append(f"{model._meta.label}.{name}: {type(field).__name__}")
    # then: none takes a date, a number or JSON without the bounds
    assert unbounded == []


def test_the_admin_bill_month_is_a_month_that_has_ended(admin_client, customer):
    response = admin_client.post(
        "/admin/customers/monthlybill/add/",
        {"customer": customer.pk, "month": "9999-12", "amount": "10", "paid": "on"},
    )
    assert response.status_code == 200 and "month" in response.context["adminform"].form.errors
    response = admin_client.post(
        "/admin/customers/monthlybill/add/",
        {"customer": customer.pk, "month": "2026-10", "amount": "1e9", "paid": "on"},
    )
    assert response.status_code == 200 and "amount" in response.context["adminform"].form.errors
    assert not MonthlyBill.objects.exists()
    response = admin_client.post(
        "/admin/customers/monthlybill/add/", {"customer": customer.pk, "month": "2026-10", "amount": "10.50"}
    )
    assert response.status_code == 302
    assert MonthlyBill.objects.get().month == dt.date(2026, 10, 1)


def test_the_desk_forms_refuse_dates_outside_the_horizon(client):
    # given: an account manager on her plans page
    manager = make_manager("M1")
    client.force_login(manager.user)
    # when: she files a year plan for year 9999 and a work log dated year 1
    plan = client.post("/dashboard/plans/", {"form": "plan", "scope": "year", "period": "9999-06-01", "content": "x"})
    log = client.post("/dashboard/plans/", {"form": "worklog", "date": "0001-01-01", "content": "x"})
    # then: both forms come back; nothing is written (year 9999 made a 500 or a plan no one can reach)
    assert plan.status_code == 200 and log.status_code == 200
    assert not ServicePlan.objects.exists() and not WorkLog.objects.exists()


@pytest.mark.parametrize(
    "command, args",
    [
        ("run_daily", ["--date", "9999-12-31"]),
        ("run_daily", ["--date", "２０２６-１１-２０"]),
        ("rerate", ["--month", "9999-12"]),
        ("points_earn", ["--date", "0001-01-01"]),
        ("points_expiring", ["--year", "99999"]),
        ("retention_risk", ["--date", "9999-12-31"]),
        ("retention_snapshot", ["--month", "9999-12"]),
    ],
)
def test_commands_refuse_dates_outside_the_horizon(command, args):
    # when: a command is given a date, a month or a year outside the horizon, or in other digits
    with pytest.raises(CommandError) as refused:
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    # then: it stops before any work, naming the value and what is wrong with it
    message = str(refused.value)
    assert args[1] in message and ("is outside" in message or "is not a date" in message), message


# -- ASCII digits, decimals without exponents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["1e9", "1E3", "٣٨٨.٥٠", "３８８.５０", "NaN", "Infinity", "388.505", "12345678901.00", 388.5, "0x10"]
)
def test_money_is_a_decimal_string_with_ascii_digits_and_no_exponent(api, member, amount):
    error = assert_error(bills(api, [bill(member.msisdn, amount=amount)]), 400, "invalid_rows")
    assert "amount" in error["fields"]["0"]
    assert not MonthlyBill.objects.exists()


@pytest.mark.parametrize("amount", ["388.50", "388.5", "0", 120, "  42.00 "])
def test_money_written_out_is_accepted(api, member, amount):
    assert bills(api, [bill(member.msisdn, amount=amount)]).status_code == 200


@pytest.mark.parametrize("msisdn", ["1٣٨٠٠١٣٨٠٠٠", "1３８００１３８０００", "1380013800０"])
def test_msisdns_have_ascii_digits_only(api, member, msisdn):
    # an msisdn in any field that takes one: a customer row, a bill, an event, a points redemption
    assert_error(
        api.post("/api/v1/customers/bulk/", [_customer_row(msisdn=msisdn)], format="json"), 400, "invalid_rows"
    )
    assert_error(bills(api, [bill(msisdn)]), 400, "invalid_rows")
    assert "msisdn" in assert_error(api.post("/api/v1/events/", event(msisdn), format="json"), 400, "invalid")["fields"]
    redemption = {"msisdn": msisdn, "points": 1, "reference": "R"}
    assert (
        "msisdn"
        in assert_error(
            api.post("/api/v1/points/redemptions/", redemption, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, "invalid"
        )["fields"]
    )
    assert not Customer.objects.exclude(pk=member.pk).exists()


@pytest.mark.parametrize("points", ["١٠", "１０", "1e1", True])
def test_whole_numbers_have_ascii_digits_only(api, member, points):
    redemption = {"msisdn": member.msisdn, "points": points, "reference": "R"}
    error = assert_error(
        api.post("/api/v1/points/redemptions/", redemption, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, "invalid"
    )
    assert "points" in error["fields"]


def test_an_id_number_has_ascii_digits_only(api):
    RegionFactory(code="GZ")
    row = _customer_row(id_number="１１０１０５１９４９１２３１００２X")
    assert (
        "id_number"
        in assert_error(api.post("/api/v1/customers/bulk/", [row], format="json"), 400, "invalid_rows")["fields"]["0"]
    )


def test_bounds_parse_only_what_they_promise():
    from core import bounds

    assert bounds.parse_decimal("388.50", max_digits=12, decimal_places=2) == Decimal("388.50")
    assert bounds.parse_integer("-12") == -12
    assert bounds.parse_month("2026-10") == dt.date(2026, 10, 1)
    assert bounds.parse_date("2026-10-05") == dt.date(2026, 10, 5)
    for text in ("2026-1-5", "2026-10-05\n", "20261005", "2026-02-30"):
        with pytest.raises(bounds.BoundsError):
            bounds.parse_date(text)
    with pytest.raises(bounds.BoundsError):
        bounds.parse_integer("9" * 50)
    with pytest.raises(bounds.BoundsError):
        bounds.check_json(json.loads("[" * 40 + "]" * 40))


# -- NUL characters and deep JSON -------------------------------------------------------------------------------------


def test_nul_characters_in_an_api_request_are_a_400_in_the_error_shape(api, member):
    # when: a NUL in the query string, the URL path, a header, a JSON body and a form body (PostgreSQL: 500s)
    answers = {
        "query": api.get("/api/v1/customers/", {"region": "G\x00Z"}),
        "path": api.get("/api/v1/customers/1380013800%00/"),
        "path of points": api.get("/api/v1/customers/%00/points/"),
        "header": api.post(
            "/api/v1/points/redemptions/",
            {"msisdn": member.msisdn, "points": 1, "reference": "R"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k\x00",
        ),
        "json": api.post(
            "/api/v1/events/", event(member.msisdn, "closure_requested", {"reason": "a\x00b"}), format="json"
        ),
        "json key": api.post("/api/v1/rating-runs/", {"month": "2026-11", "draft\x00": {}}, format="json"),
        "form": api.post("/api/v1/contact-logs/", {"msisdn": member.msisdn, "channel": "call\x00"}),
    }
    # then: each is a 400 malformed_request (or invalid) in the API's error shape
    for where, response in answers.items():
        assert response.status_code == 400, (where, response.status_code, response.content[:200])
        assert response.json()["error"]["code"] in ("malformed_request", "invalid"), where


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/?q=%00",
        "/dashboard/customers/?q=%00",
        "/dashboard/customers/1380%00/",
        "/admin/customers/customer/?q=%00",
        "/admin/retention/churnrecord/report/?year=%00",
        "/admin/retention/churnrecord/tiers/?month=2025-12%00&format=csv",
        "/admin/benefits/benefit/usage/?year=2026%00",
        "/admin/audit/?user=%00",
        "/admin/staff/reports/migration/?month=2026-01%00",
        "/admin/staff/calendar/?month=%00",
    ],
)
def test_nul_characters_on_pages_are_a_plain_400(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"NUL" in response.content


def test_a_nul_in_a_page_form_body_is_a_400(admin_client, customer):
    # when: a form posted to the admin holds a NUL (the admin's own forms refuse it in a CharField, but not in a
    # lookup: a search, a choice, a raw id)
    response = admin_client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        "name=%00&region=1%00",
        content_type="application/x-www-form-urlencoded",
    )
    # then: a plain 400 page, before any form or lookup reads it
    assert response.status_code == 400 and b"NUL" in response.content


def test_json_nested_thousands_of_levels_deep_is_a_400(api, admin_client):
    deep = "[" * 5000 + "]" * 5000
    # the API: an event body, a draft
    for path in ("/api/v1/events/", "/api/v1/bills/bulk/", "/api/v1/rating-runs/"):
        error = assert_error(api.post(path, deep, content_type="application/json"), 400, "malformed_request")
        assert "deeper" in error["message"]
    draft = (
        '{"month": "2026-11", "dry_run": true, "force": true, "draft": {"thresholds": ' + "[" * 100 + "]" * 100 + "}}"
    )
    assert_error(api.post("/api/v1/rating-runs/", draft, content_type="application/json"), 400, "malformed_request")
    # the admin: a policy's threshold (a number per tier now, no JSON): a huge or malformed one is refused
    policy = RatingPolicy.objects.get(code="average6")
    for bad in ("1e9", "9" * 200, "[[[1]]]"):
        response = admin_client.post(
            f"/admin/tiers/ratingpolicy/{policy.pk}/change/", policy_form_data(policy, threshold_diamond=bad)
        )
        assert response.status_code == 200 and "threshold_diamond" in response.context["form"].errors


# -- drafts -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draft, field",
    [
        ({"thresholds": "x"}, "thresholds"),
        ({"thresholds": {"diamond": "1e9"}}, "thresholds"),
        ({"thresholds": {"diamond": "-5"}}, "thresholds"),
        ({"thresholds": {"diamond": [1]}}, "thresholds"),
        ({"expiry_day": 40}, "expiry_day"),
        ({"window_months": 0}, "window_months"),
        ({"validity_months": 10**9}, "validity_months"),
        ({"min_tenure_months": "twelve"}, "min_tenure_months"),
        ({"tenure_bonus": [[1]]}, "tenure_bonus"),
        ({"tenure_bonus": {"1": 100}}, "tenure_bonus"),
        ({"plan_tiers": {"388": "ruby"}}, "plan_tiers"),
        ({"plan_tiers": {"388": ["gold"]}}, "plan_tiers"),
        ({"key_person_tiers": [{"role": "contact", "tier": ["gold"]}]}, "key_person_tiers"),
        ({"key_person_tiers": [{"role": "king", "tier": "gold"}]}, "key_person_tiers"),
        ({"key_person_tiers": ["x"]}, "key_person_tiers"),
    ],
)
def test_a_draft_is_validated_in_full_before_a_run_is_created(api, draft, field):
    # when: a dry run tries a malformed draft (thresholds "x" was a 500; expiry_day 40 failed in the worker)
    response = api.post("/api/v1/rating-runs/", {"month": "2026-11", "dry_run": True, "draft": draft}, format="json")
    # then: a 400 naming the draft's field; no run exists
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]["draft"], error
    assert not RatingRun.objects.exists()


def test_the_policy_admin_applies_the_drafts_rules(admin_client):
    policy = RatingPolicy.objects.get(code="average6")
    form = policy_form_data(
        policy,
        threshold_diamond="1e9",
        validity_months=600,
        expiry_day=40,
        **{"bonus-TOTAL_FORMS": 1, "bonus-0-years": "1", "bonus-0-bonus": ""},
    )
    response = admin_client.post(f"/admin/tiers/ratingpolicy/{policy.pk}/change/", form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"threshold_diamond", "expiry_day"} <= set(errors), errors
    assert response.context["formsets"][0][1].errors[0] == {"bonus": ["This field is required."]}
    policy.refresh_from_db()
    assert policy.version == 1


# -- CSV --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_cell_is_neutralised(cell):
    from core.exports import csv_writer, safe_cell

    assert safe_cell(cell) == "'" + cell
    out = io.StringIO()
    csv_writer(out).writerow([cell, "plain", -12.5, "-12.5", 7])
    assert out.getvalue().startswith(("\"'", "'"))
    assert safe_cell("-12.5") == "-12.5" and safe_cell("王芳") == "王芳"


def test_the_expiring_points_export_neutralises_formula_cells():
    from points import services as points_services

    member = CustomerFactory(name='=HYPERLINK("http://evil","x")', region=RegionFactory())
    PointsLot.objects.create(
        customer=member, year=2024, kind="earn", original=10, remaining=10, expires_on=dt.date(2026, 12, 31)
    )
    out = io.StringIO()
    points_services.expiring_export(year=2026, out=out)
    assert "'=HYPERLINK" in out.getvalue()
    assert ",=HYPERLINK" not in out.getvalue() and '"=HYPERLINK' not in out.getvalue()


def test_the_tier_report_csv_neutralises_formula_cells(admin_client):
    RegionFactory(code="=EVIL", name='=HYPERLINK("http://evil","x")')
    body = admin_client.get("/admin/retention/churnrecord/tiers/", {"format": "csv"}).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "'=EVIL" in body


def test_every_csv_export_goes_through_the_neutralising_writer():
    # the project's code (not the benchmarks): csv.writer only inside core/exports.py
    offenders = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "var", "bench", "tests") or "tests" in parts or path.name == "exports.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "csv.writer(" in text or "csv.DictWriter(" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
