import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone


def parse_day(value: str | None) -> dt.date:
    if not value:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date YYYY-MM-DD.") from exc
