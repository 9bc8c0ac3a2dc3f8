"""A year's holidays and make-up days imported at once (issue 16, item 5): the line-by-line check of
`date,kind[,name]` lines (rules) and the all-or-nothing import that marks the year loaded (services)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import InvalidInput
from core.models import ActionLog
from managers import rules, services
from managers.calendar import WorkCalendar
from managers.models import CalendarYear, WorkingDayOverride

GOOD = """date,kind,name
2027-01-01,holiday,元旦
2027-02-06,班,春节调休

# Spring Festival
2027-02-11,off,春节
2027-02-12\tholiday
"""


def test_good_lines_give_the_days_in_date_order():
    days, errors = rules.parse_calendar_lines(GOOD, year=2027)
    assert errors == []
    assert [(d.date, d.is_working, d.name) for d in days] == [
        (dt.date(2027, 1, 1), False, "元旦"),
        (dt.date(2027, 2, 6), True, "春节调休"),
        (dt.date(2027, 2, 11), False, "春节"),
        (dt.date(2027, 2, 12), False, ""),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2027-02-30,holiday", "not_a_date"),
        ("27-2-3,holiday", "not_a_date"),
        ("2026-10-01,holiday", "other_year"),
        ("2027-10-01,party", "unknown_kind"),
        ("2027-10-01", "too_few_fields"),
        ("2027-01-01,holiday", "duplicate"),
        ("2027-10-02,holiday," + "x" * 51, "name_too_long"),
    ],
)
def test_a_bad_line_is_named_by_its_number(line, problem):
    # given a good first line and a bad second one
    days, errors = rules.parse_calendar_lines(f"2027-01-01,holiday\n{line}\n", year=2027)
    # then the error names line 2 and its problem
    assert [(e.line, e.problem) for e in errors] == [(2, problem)]
    assert [d.date for d in days] == [dt.date(2027, 1, 1)]


@pytest.mark.django_db
def test_the_import_loads_the_year_and_the_calendar_follows_it():
    admin = get_user_model().objects.create_superuser(username="cal-admin", password="x-Strong-pass-1")
    # given 2027 unknown (the package stops at 2026): Monday–Friday assumed, the banner on from November
    assert WorkCalendar.from_db().missing_years(dt.date(2026, 12, 4)) == [2027]
    days, _errors = rules.parse_calendar_lines(GOOD, year=2027)
    # when the list is imported
    loaded = services.calendar_year_import(year=2027, days=days, replace=True, actor=admin, at=timezone.now())
    # then the year is loaded by her, the days follow the list, the audit trail has it
    assert loaded.year == 2027 and loaded.loaded_by == admin
    calendar = WorkCalendar.from_db()
    assert calendar.missing_years(dt.date(2026, 12, 4)) == []
    assert calendar.is_working(dt.date(2027, 2, 6))  # a Saturday made a working day
    assert not calendar.is_working(dt.date(2027, 2, 11))  # a Thursday off
    log = ActionLog.objects.get(action="calendar_year_imported")
    assert log.actor == "cal-admin" and log.details["days"] == 4 and log.details["created"] == 4


@pytest.mark.django_db
def test_a_second_import_replaces_the_years_overrides():
    admin = get_user_model().objects.create_superuser(username="cal-admin", password="x-Strong-pass-1")
    WorkingDayOverride.objects.create(date=dt.date(2027, 5, 3), is_working=False, name="old")
    WorkingDayOverride.objects.create(date=dt.date(2026, 5, 6), is_working=False, name="last year")
    days, _errors = rules.parse_calendar_lines("2027-05-03,workday\n2027-05-04,holiday", year=2027)
    services.calendar_year_import(year=2027, days=days, replace=True, actor=admin, at=timezone.now())
    assert set(WorkingDayOverride.objects.values_list("date", "is_working")) == {
        (dt.date(2027, 5, 3), True),
        (dt.date(2027, 5, 4), False),
        (dt.date(2026, 5, 6), False),  # another year's override stays
    }
    assert CalendarYear.objects.filter(year=2027).count() == 1


@pytest.mark.django_db
def test_an_empty_list_writes_nothing():
    admin = get_user_model().objects.create_superuser(username="cal-admin", password="x-Strong-pass-1")
    with pytest.raises(InvalidInput):
        services.calendar_year_import(year=2027, days=[], replace=True, actor=admin, at=timezone.now())
    assert not CalendarYear.objects.exists()
