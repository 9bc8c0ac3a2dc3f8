"""The working-day calendar pages (issue 16, item 5): the month view, the import by a club admin (good list: the year
is loaded and the banner goes; a bad line: a 400 naming the line, nothing written), nobody else imports."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from managers.models import CalendarYear, WorkingDayOverride
from tests.staff_fixtures import a_club

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
HOLIDAYS_2027 = """2027-01-01,holiday,元旦
2027-02-06,workday,春节调休
2027-02-11,holiday,春节
2027-02-12,holiday,春节
"""
BANNER = "The working-day calendar for 2027 is not loaded"


@pytest.fixture(autouse=True)
def club_day():
    with time_machine.travel(NOON, tick=False):
        yield


def test_the_month_view_shows_holidays_and_make_up_days(client):
    admin, _boss = a_club()
    WorkingDayOverride.objects.create(date=dt.date(2026, 10, 9), is_working=True, name="staff day")
    client.force_login(admin)
    html = client.get("/admin/staff/calendar/?month=2026-10").content.decode()
    # National Day from the public schedule: 1 October (a Thursday) off; 10 October (a Saturday) worked
    assert 'data-date="2026-10-01" data-kind="holiday"' in html
    assert 'data-date="2026-10-10" data-kind="makeup"' in html
    assert 'data-date="2026-10-11" data-kind="rest"' in html
    # the override is marked and named
    assert re.search(r'class="working override" data-date="2026-10-09".*?staff day', html)


def test_an_import_loads_2027_and_the_banner_goes(client):
    # given 2027 not loaded: the banner on every admin page
    admin, _boss = a_club()
    client.force_login(admin)
    assert BANNER in client.get("/admin/").content.decode()
    # when the club admin imports the list
    response = client.post(
        "/admin/staff/calendar/", {"year": "2027", "lines": HOLIDAYS_2027, "replace": "on"}, follow=True
    )
    # then the month view of January 2027 says so, and the banner is gone
    assert response.status_code == 200
    html = response.content.decode()
    assert "The 2027 calendar is loaded: 3 days off and 1 make-up days." in html
    assert 'data-date="2027-01-01" data-kind="holiday"' in html
    assert BANNER not in html
    assert BANNER not in client.get("/admin/").content.decode()
    assert CalendarYear.objects.get(year=2027).loaded_by == admin
    assert WorkingDayOverride.objects.filter(date__year=2027).count() == 4


def test_an_uploaded_file_works_as_the_pasted_lines(client):
    admin, _boss = a_club()
    client.force_login(admin)
    upload = SimpleUploadedFile("2027.csv", ("\ufeffdate,kind\n" + HOLIDAYS_2027).encode(), content_type="text/csv")
    response = client.post("/admin/staff/calendar/", {"year": "2027", "upload": upload})
    assert response.status_code == 302
    assert CalendarYear.objects.filter(year=2027).exists()


def test_a_bad_line_is_named_and_nothing_is_written(client):
    admin, _boss = a_club()
    client.force_login(admin)
    lines = HOLIDAYS_2027 + "2027-02-30,holiday\n2027-03-01,party\n"
    response = client.post("/admin/staff/calendar/", {"year": "2027", "lines": lines})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported." in html
    assert "Line 5 (2027-02-30,holiday): the date must be written YYYY-MM-DD and exist." in html
    assert "Line 6 (2027-03-01,party): the kind must be holiday" in html
    # the lines stay in the form to be corrected
    assert "2027-03-01,party" in html
    assert not WorkingDayOverride.objects.exists() and not CalendarYear.objects.exists()
    assert BANNER in html


def test_only_club_admins_import(client):
    _admin, boss = a_club()
    client.force_login(boss)
    page = client.get("/admin/staff/calendar/")
    assert page.status_code == 200 and 'id="calendar-import"' not in page.content.decode()
    response = client.post("/admin/staff/calendar/", {"year": "2027", "lines": HOLIDAYS_2027})
    assert response.status_code == 403
    assert not CalendarYear.objects.exists()
