"""The year-end expiry (set-based, in December) and the November list of members whose points expire."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command

from points import selectors, services
from points.models import PointsEntry, PointsJob
from points.tasks import expire_year_end_task, expiring_list_task
from points.tests.helpers import balance, bill, customer, lots, region

pytestmark = pytest.mark.django_db


def earn(c, year: int, amount):
    bill(c, dt.date(year, 6, 1), amount, on=dt.date(year, 7, 1))


def test_the_december_run_expires_the_lots_of_three_years_ago(no_rewards):
    # given customers with points of 2024 (expiring 31 Dec 2026) and 2025, one of them partly spent
    a, b, c = customer(), customer(), customer()
    earn(a, 2024, 100)
    earn(a, 2025, 50)
    earn(b, 2024, 80)
    services.points_redeem(customer=b, points=30, reference="X", on=dt.date(2026, 3, 1))
    earn(c, 2026, 10)
    # when the expiry runs on 30 December: nothing yet
    services.points_expire(on=dt.date(2026, 12, 30))
    assert (balance(a), balance(b), balance(c)) == (150, 50, 10)
    # and on 31 December 2026 (the task's business date) the 2024 lots expire
    result = expire_year_end_task.delay("2026-12-31").get()
    assert (balance(a), balance(b), balance(c)) == (50, 0, 10)
    assert result["customers"] == 2 and result["points"] == 150 and result["status"] == "done"
    assert lots(b) == [(2024, "earn", 80, 0, dt.date(2026, 12, 31))]
    expired = PointsEntry.objects.filter(kind="expire").order_by("customer_id")
    assert [(e.customer_id, e.amount, e.year, e.occurred_on) for e in expired] == [
        (a.pk, -100, 2024, dt.date(2026, 12, 31)),
        (b.pk, -50, 2024, dt.date(2026, 12, 31)),
    ]


def test_the_expiry_is_idempotent_and_recorded(no_rewards):
    a = customer()
    earn(a, 2024, 100)
    first = services.points_expire(on=dt.date(2026, 12, 31), chunk_size=1)
    # a second call of the same date returns the done job; a forced one finds nothing left
    assert services.points_expire(on=dt.date(2026, 12, 31)).pk == first.pk
    again = services.points_expire(on=dt.date(2026, 12, 31), force=True)
    assert again.counts.get("points", 0) == 0
    assert PointsEntry.objects.filter(kind="expire").count() == 1
    assert PointsJob.objects.get(pk=first.pk).status == "done"


def test_the_november_list(no_rewards):
    # given on 1 November 2026: a has 2024 points (expiring this year), b only 2025 points, c spent hers
    gz = region()
    sz = region("SZ", "广东", "深圳")
    a, b, c, d = customer(region=gz), customer(region=gz), customer(region=sz), customer(region=sz)
    earn(a, 2024, 100)
    earn(a, 2025, 30)
    earn(b, 2025, 70)
    earn(c, 2024, 20)
    services.points_redeem(customer=c, points=20, reference="X", on=dt.date(2026, 5, 1))
    earn(d, 2024, 250)
    # then the selector lists a and d, most points first
    listed = list(selectors.expiring_customers(year=2026))
    assert [(x.pk, x.expiring_points) for x in listed] == [(d.pk, 250), (a.pk, 100)]
    # a manager's list is the same restricted to her customers
    from customers.models import Customer

    mine = selectors.expiring_customers(year=2026, base=Customer.objects.filter(region=gz))
    assert [x.pk for x in mine] == [a.pk]
    assert selectors.expiring_summary(year=2026) == {"customers": 2, "points": 350, "expires_on": dt.date(2026, 12, 31)}
    # and the export writes them as CSV, per region
    out = io.StringIO()
    call_command("points_expiring", "--year", "2026", stdout=out, stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["msisdn"], r["region"], r["expiring_points"], r["expires_on"], r["balance"]) for r in rows] == [
        (a.msisdn, "GZ", "100", "2026-12-31", "130"),
        (d.msisdn, "SZ", "250", "2026-12-31", "250"),
    ]
    out = io.StringIO()
    call_command("points_expiring", "--year", "2026", "--region", "SZ", stdout=out, stderr=io.StringIO())
    assert [r["msisdn"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == [d.msisdn]


def test_the_november_task_writes_the_export_file(no_rewards, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    a = customer()
    earn(a, 2024, 100)
    result = expiring_list_task.delay(2026).get()
    assert result["customers"] == 1
    text = (tmp_path / "exports" / "points-expiring-2026.csv").read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith(f"{a.msisdn},")


def test_the_expiry_command(no_rewards):
    a = customer()
    earn(a, 2024, 100)
    out = io.StringIO()
    call_command("points_expire", "--date", "2026-12-31", stdout=out)
    assert "100 points" in out.getvalue()
    assert balance(a) == 0
