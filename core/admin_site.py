"""The club's admin site: every model admin and inline gets the bounded form fields of core.forms (dates and
times within the horizon, ASCII digits, decimals without exponents, JSON of bounded depth) for its columns,
unless it chooses its own form class for them, and lists whose date filters keep to the horizon (a year 1 or
2200000000 in the date hierarchy or a filter link was a 500). Installed as the default site (`ClubAdminConfig`)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP

from . import bounds
from .forms import ADMIN_FORMFIELDS

_DATE_PARTS = {"year": (bounds.DATE_MIN.year, bounds.DATE_MAX.year), "month": (1, 12), "day": (1, 31)}
_COMPARISONS = {"exact", "gt", "gte", "lt", "lte", "range", "in"}


def lookup_problem(model, key: str, value: str) -> str | None:
    """Why an admin list's filter `key=value` on a date or time lies outside the bounds, or None.

    `closed_on__year=1`, `due_on__gte=9999-12-31`: ASCII digits, within the horizon (core.bounds)."""
    parts = key.split(LOOKUP_SEP)
    for cut in range(len(parts), 0, -1):  # the longest prefix that names a field; the rest is the lookup
        try:
            field = get_fields_from_path(model, LOOKUP_SEP.join(parts[:cut]))[-1]
        except (FieldDoesNotExist, NotRelationField, AttributeError, IndexError):
            continue
        lookups = parts[cut:]
        break
    else:
        return None
    if not isinstance(field, models.DateField):  # DateTimeField included
        return None
    try:
        if lookups and lookups[-1] in _DATE_PARTS:
            low, high = _DATE_PARTS[lookups[-1]]
            bounds.parse_integer(value, min_value=low, max_value=high)
        elif not lookups or lookups[-1] in _COMPARISONS:
            for item in value.split(",") if lookups and lookups[-1] in ("range", "in") else [value]:
                item = item.strip()
                if len(item) == 10:
                    bounds.parse_date(item)
                else:
                    bounds.parse_datetime_text(item)
    except bounds.BoundsError as exc:
        return f"{key}: {exc}"
    return None


class BoundedChangeListMixin:
    def get_filters(self, request):
        for key, values in self.get_filters_params().items():
            for value in values if isinstance(values, list) else [values]:
                problem = lookup_problem(self.model, key, value)
                if problem:
                    raise IncorrectLookupParameters(problem)
        return super().get_filters(request)


def bounded_admin(admin_class: type) -> type:
    """A subclass of `admin_class` (a ModelAdmin or an inline) with the bounded form fields, inlines included."""
    overrides = {db_field: dict(kwargs) for db_field, kwargs in admin_class.formfield_overrides.items()}
    for db_field, kwargs in ADMIN_FORMFIELDS.items():
        overrides.setdefault(db_field, {}).setdefault("form_class", kwargs["form_class"])
    attrs = {"formfield_overrides": overrides, "__module__": admin_class.__module__, "_bounded": True}
    if issubclass(admin_class, admin.ModelAdmin):

        def get_changelist(self, request, **kwargs):
            changelist = super(bounded, self).get_changelist(request, **kwargs)
            return type(changelist.__name__, (BoundedChangeListMixin, changelist), {})

        attrs["get_changelist"] = get_changelist
    if getattr(admin_class, "inlines", None):
        attrs["inlines"] = [bounded_admin(inline) for inline in admin_class.inlines]
    bounded = type(admin_class.__name__, (admin_class,), attrs)
    return bounded


class ClubAdminSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        """The apps in the club's order (settings.ADMIN_APP_ORDER: the staff's apps first, the technical ones last;
        an app not named goes before the technical ones, by name), on the cockpit and in every page's sidebar."""
        apps = super().get_app_list(request, app_label)
        order = list(getattr(settings, "ADMIN_APP_ORDER", ()))
        rank = {label: i for i, label in enumerate(order)}
        unnamed = order.index("*") if "*" in order else len(order)
        return sorted(apps, key=lambda app: (rank.get(app["app_label"], unnamed), str(app["name"])))

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not admin_class.__dict__.get("_bounded"):
            admin_class = bounded_admin(admin_class)
        return super().register(model_or_iterable, admin_class, **options)


class ClubAdminConfig(AdminConfig):
    default_site = "core.admin_site.ClubAdminSite"
