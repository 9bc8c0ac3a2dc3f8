import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone

from core import bounds


def parse_day(value: str | None) -> dt.date:
    if not value:
        return timezone.localdate()
    try:
        return bounds.parse_date(value)
    except bounds.BoundsError as exc:
        raise CommandError(str(exc)) from exc
