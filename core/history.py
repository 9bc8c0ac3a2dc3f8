"""The audit trail as people read it (issue 16 item 6): local time to the minute, a user's name rather than her
id, field labels in the user's language and values through the field's choices. Used by the action log's admin,
the project's audit page (vipclub.audit) and every simple-history "History" page (core.admin.ReadableHistoryMixin)."""

import datetime as dt
import re

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import DeletedObject

TIME_FORMAT = "Y-m-d H:i"
EMPTY = "—"
CJK = re.compile(r"[\u3400-\u9fff]")

# The action log's actions (core.actors.record's `action`), as staff read them; an unknown one is shown humanized.
ACTION_LABELS = {
    "activity_cancelled": _("activity called off"),
    "activity_changed": _("activity changed"),
    "activity_created": _("activity created"),
    "activity_published": _("activity published"),
    "billing_month_closed": _("billing month closed"),
    "birthday_gift_confirmed": _("birthday gift confirmed"),
    "card_started": _("card started"),
    "card_send_to_maker": _("card sent to the maker"),
    "card_receive": _("card received"),
    "card_arrive": _("card arrived"),
    "card_deliver": _("card delivered"),
    "card_collect": _("card collected"),
    "key_person_set": _("key person set"),
    "lifecycle_gap": _("lifecycle gap"),
    "plan_changed": _("tariff plan changed"),
    "points_frozen": _("points frozen"),
    "points_unfrozen": _("points unfrozen"),
    "rating_run_resumed": _("rating run resumed"),
    "region_upserted": _("region saved"),
    "satisfaction_target_set": _("satisfaction target set"),
    "transfer_floor_set": _("move-in floor set"),
    "webhook_delivery_replayed": _("webhook delivery replayed"),
    "webhook_endpoint_changed": _("webhook endpoint changed"),
    "webhook_endpoint_created": _("webhook endpoint created"),
    "webhook_endpoint_deleted": _("webhook endpoint deleted"),
    "webhook_endpoint_paused": _("webhook endpoint paused"),
    "webhook_parked_replayed": _("parked webhook deliveries replayed"),
    "webhook_secret_rotated": _("webhook secret rotated"),
}


def local_time(value: dt.datetime | None) -> str:
    """`2026-11-20 09:05` in the club's zone (settings.TIME_ZONE): no seconds, no microseconds, no offset."""
    if value is None:
        return EMPTY
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, TIME_FORMAT)


def user_label(user) -> str:
    """A person's name as staff know her (`周主管`, `Ann Lee`), with the login when both differ; else the login."""
    if user is None:
        return gettext("system")
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    name = f"{last}{first}" if CJK.search(first + last) else f"{first} {last}".strip()
    username = user.get_username()
    return f"{name} ({username})" if name and name != username else username


# The change reasons the code writes on history rows (else a reason staff typed, shown as written).
CHANGE_REASONS = {"initial state": _("initial state"), "state before the change": _("state before the change")}


def change_reason(reason: str | None) -> str:
    return str(CHANGE_REASONS.get(reason or "", reason or ""))


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label else action.replace("_", " ")


def value_text(field: models.Field | None, value, *, related: dict | None = None) -> str:
    """A field's stored value as staff read it: the choice's label, yes/no, the related object's name (a user's
    name), a local time to the minute, else the value, cut to 200. `related` (model → {pk: object}) holds the
    related objects read beforehand in one query per model (`related_objects`); else one is read here."""
    if isinstance(value, DeletedObject):  # simple-history's stand-in for a missing related object (or none)
        value = value.pk
    if value is None or value == "":
        return EMPTY
    if field is not None:
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(field, models.BooleanField):
            return gettext("yes") if value else gettext("no")
        if field.is_relation and field.many_to_one:
            if not isinstance(value, models.Model):
                known = (related or {}).get(field.related_model)
                if known is not None:
                    value = known.get(value, value)
                else:
                    value = field.related_model._base_manager.filter(pk=value).first() or value
            if not isinstance(value, models.Model):
                return f"#{value}"  # since deleted
            return user_label(value) if isinstance(value, get_user_model()) else str(value)
    if isinstance(value, dt.datetime):
        return local_time(value)
    return str(value)[:200]


def related_objects(changes) -> dict:
    """For (field, old, new) triples: the objects their foreign keys name, one query per related model."""
    wanted: dict = {}
    for field, old, new in changes:
        if field is not None and field.is_relation and field.many_to_one:
            wanted.setdefault(field.related_model, set()).update(v for v in (old, new) if v not in (None, ""))
    return {
        model: {obj.pk: obj for obj in model._base_manager.filter(pk__in=ids)} for model, ids in wanted.items() if ids
    }


def field_label(model: type[models.Model], name: str) -> str:
    try:
        return str(capfirst(model._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:  # a field since removed keeps its name
        return name


def field_of(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:  # a field since removed
        return None


def target_label(app_label: str, model_name: str, object_id: str) -> str:
    """ "<the model's name in the user's language> #<id>" of an action log's target (its raw names if unknown)."""
    from django.apps import apps

    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return f"{app_label}.{model_name} #{object_id}"
    return f"{capfirst(model._meta.verbose_name)} #{object_id}"
