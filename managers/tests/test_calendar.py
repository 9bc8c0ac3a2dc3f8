"""Working days: the package, staff overrides winning, the Monday–Friday fallback and its warning."""

import datetime as dt

import pytest

from managers.calendar import WorkCalendar, holiday_first_days
from managers.models import CalendarYear, WorkingDayOverride

D = dt.date


def test_domain_example_national_day_2026():
    # assigned on Wednesday 30 Sep 2026 → due Saturday 10 Oct 2026, a make-up working day
    assert WorkCalendar().add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)


def test_spring_festival_2026_make_up_weekends():
    cal = WorkCalendar()
    assert cal.is_working(D(2026, 2, 14)) and cal.is_working(D(2026, 2, 28))  # Saturdays worked
    assert not any(cal.is_working(D(2026, 2, d)) for d in range(15, 24))  # the holiday
    # Friday 13 Feb + 3 working days: Sat 14 (make-up), then Tue 24, Wed 25
    assert cal.add_working_days(D(2026, 2, 13), 3) == D(2026, 2, 25)
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6  # 14, 24, 25, 26, 27, 28


def test_a_staff_override_beats_the_package():
    cal = WorkCalendar(overrides={D(2026, 10, 10): False, D(2026, 10, 3): True})
    assert not cal.is_working(D(2026, 10, 10))
    assert cal.is_working(D(2026, 10, 3))
    # the holiday is 1–7 Oct; with the 3rd worked and the 10th off: 3rd, 8th, 9th
    assert cal.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 9)


def test_unknown_year_falls_back_to_monday_to_friday_and_is_reported():
    cal = WorkCalendar()
    assert not cal.year_known(2027)
    assert cal.add_working_days(D(2027, 1, 1), 3) == D(2027, 1, 6)  # Fri 1 Jan counts as Friday: 4, 5, 6
    assert cal.missing_years(D(2026, 10, 31)) == []
    assert cal.missing_years(D(2026, 11, 1)) == [2027]
    assert WorkCalendar(loaded_years={2027}).missing_years(D(2026, 11, 1)) == []


@pytest.mark.django_db
def test_from_db_reads_overrides_and_loaded_years():
    WorkingDayOverride.objects.create(date=D(2027, 1, 1), is_working=False, name="New Year's Day")
    CalendarYear.objects.create(year=2027)
    cal = WorkCalendar.from_db()
    assert cal.missing_years(D(2026, 11, 21)) == []
    assert cal.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)


def test_greeting_holidays_2026():
    assert holiday_first_days(2026) == {
        "new_years_day": D(2026, 1, 1),
        "spring_festival": D(2026, 2, 15),
        "dragon_boat_festival": D(2026, 6, 19),
        "mid_autumn_festival": D(2026, 9, 25),
    }
    assert holiday_first_days(2027) == {}
