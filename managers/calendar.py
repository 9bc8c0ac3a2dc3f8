"""Chinese working days: the chinesecalendar package, staff overrides winning, Monday–Friday for a year
that neither knows (with a warning to staff until someone loads it). Greeting festivals: the lunar calendar."""

import datetime as dt
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=64)
def package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def package_is_working(day: dt.date) -> bool | None:
    """The package's answer, or None for a year it does not know."""
    if not package_knows(day.year):
        return None
    return chinese_calendar.is_workday(day)


class WorkCalendar:
    """Answers working-day questions for any dates. `overrides` maps dates to working (True) or off (False)."""

    def __init__(self, overrides: dict[dt.date, bool] | None = None, loaded_years: set[int] | None = None):
        self.overrides = overrides or {}
        self.loaded_years = loaded_years or set()

    @classmethod
    def from_db(cls) -> "WorkCalendar":
        from .models import CalendarYear, WorkingDayOverride

        return cls(
            dict(WorkingDayOverride.objects.values_list("date", "is_working")),
            set(CalendarYear.objects.values_list("year", flat=True)),
        )

    def year_known(self, year: int) -> bool:
        return year in self.loaded_years or package_knows(year)

    def is_working(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        answer = package_is_working(day)
        if answer is None:  # fallback: Monday–Friday
            return day.weekday() < 5
        return answer

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after `start` (start itself not counted)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        while n:
            day += ONE_DAY
            if self.is_working(day):
                n -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end`."""
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            count += self.is_working(day)
        return count

    def missing_years(self, today: dt.date) -> list[int]:
        """Years staff must load: this year if unknown, and from 1 November next year too."""
        years = [today.year]
        if today.month >= 11:
            years.append(today.year + 1)
        return [y for y in years if not self.year_known(y)]


# The festivals of the holiday greeting (DOMAIN §4), by period key: New Year's Day on 1 January, the others on a
# lunar date (month, day) from the lunar calendar, for any year the package covers (1900–2099), never from the
# working-day schedule (which knows a few years only, and moves a festival's "first day" when it falls inside
# another holiday, as Mid-Autumn inside National Day in 2020).
GREETING_FESTIVALS: dict[str, tuple[int, int] | None] = {
    "new_year": None,
    "spring_festival": (1, 1),  # 正月初一
    "dragon_boat": (5, 5),  # 五月初五
    "mid_autumn": (8, 15),  # 八月十五
}


@lru_cache(maxsize=64)
def greeting_festivals(year: int) -> dict[str, dt.date]:
    """The date of each greeting festival in the (solar) year `year`: {period key: date}."""
    found = {}
    for key, lunar in GREETING_FESTIVALS.items():
        if lunar is None:
            found[key] = dt.date(year, 1, 1)
        else:
            month, day = lunar
            found[key] = LunarDate(year, month, day).to_solar_date()
    return found
