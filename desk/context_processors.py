from django.utils import timezone

from managers import selectors


def calendar_warning(request):
    """Staff pages warn while this year's (or, from 1 November, next year's) working days are not loaded."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff and request.path.startswith("/admin/")):
        return {}
    return {"calendar_missing_years": selectors.calendar_missing_years(timezone.localdate())}
