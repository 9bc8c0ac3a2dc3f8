from django.utils import timezone

from .calendar import WorkCalendar


def calendar_warning(request):
    """Staff pages warn while this year's (or, from 1 November, next year's) working days are not loaded."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff and request.path.startswith("/admin/")):
        return {}
    from .models import CalendarYear

    calendar = WorkCalendar(loaded_years=set(CalendarYear.objects.values_list("year", flat=True)))
    return {"calendar_missing_years": calendar.missing_years(timezone.localdate())}
