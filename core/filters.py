"""Applying a django-filter FilterSet in a selector: bad filter values are a 400 naming each filter."""

from .errors import InvalidInput


def filtered(filterset):
    """The filtered queryset, or InvalidInput naming every bad filter."""
    if not filterset.is_valid():
        raise InvalidInput(
            "Invalid filter: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()),
            fields={k: list(v) for k, v in filterset.errors.items()},
        )
    return filterset.qs
