"""Member SMS (DOMAIN §11, API.md `sms.requested {template, text, not_before}`): templates rendered into
`sms.requested` outbound events.

Where the SMS come from, and why here: the apps whose changes call for an SMS (tiers, points, managers) sit below
partners and must not import it, and the templates and opt-outs are partners' data. So partners derives the SMS
from the events those apps already write in the change's transaction, the way its webhook fan-out reads the outbox:

- `sms_from_events` (beat, every few seconds, with the webhooks): the settled outbox events past the SMS cursor
  (`tier.changed` up or down, `tier.expiring`, `gift_order.changed` to `arrived`: the gift arrived at the hall; read by the outbox's (type, id) index, other types skipped) become
  `sms.requested` events, one batched pass per chunk of VIPCLUB_SMS_BATCH source events: a fixed handful of queries (the events, the templates, the tiers, the members' names,
  the opt-outs) and one multi-row INSERT per 1,000 SMS, never a query per member. The cursor moves in the same
  transaction as the SMS are written, up to the feed's safe horizon only (core.feed: every event at or below it
  has committed), so a change's SMS is written exactly once, a few seconds after its event commits. No per-source hook
  in the lower apps and no registry: they keep writing plain events.
- `sms_daily` (beat, 07:30 Asia/Shanghai): what no event tells — birthday greetings for the day, cards that arrived
  the day before, and on 1 November the members whose points expire on 31 December (the November list) — once per
  business date (the cursor row remembers the last date done); and the satisfaction surveys the service app sent
  (service.SurveySend rows with no SMS yet: service sits below partners, so partners reads them, as it reads the
  outbox), each marked when its SMS is written so none goes twice.

Each SMS: the active template of its kind in VIPCLUB_SMS_LANGUAGE (none active: no SMS), not for a member who opted
out unless the template is a service notice, `not_before` out of the 21:00–08:00 quiet hours (sms_rules)."""

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from core import actors
from core.errors import InvalidInput
from core.feed import safe_horizon
from core.models import OutboxEvent
from customers.models import Customer
from managers.models import MembershipCard
from points import selectors as points_selectors
from service.models import SurveySend
from tiers import selectors as tier_selectors

from . import sms_rules
from .models import SmsCursor, SmsKind, SmsOptOut, SmsTemplate

log = logging.getLogger(__name__)

SOURCE_TYPES = ("tier.changed", "tier.expiring", "gift_order.changed")
INSERT_BATCH = 1000


# -- templates and opt-outs (the admin's writes) ----------------------------------------------------------------------


def template_problems(*, kind: str, body: str) -> dict[str, list[str]]:
    """What is wrong with a template's text, by field (empty: fine)."""
    if not body.strip():
        return {"body": [gettext("The text is empty.")]}
    unknown = sms_rules.unknown_placeholders(body, kind)
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in sms_rules.PLACEHOLDERS.get(kind, sms_rules.COMMON))
        message = gettext("Unknown placeholder %(placeholder)s; this kind knows %(allowed)s.")
        return {"body": [message % {"placeholder": "{" + unknown[0] + "}", "allowed": allowed}]}
    return {}


def template_preview(*, kind: str, language: str, body: str) -> str:
    """The text as the sample member of `language` would get it."""
    return sms_rules.render(body, sms_rules.SAMPLE.get(language, sms_rules.SAMPLE["zh-hans"]))


@transaction.atomic
def template_save(*, template: SmsTemplate, actor, at: dt.datetime) -> SmsTemplate:
    """Create or change a template (its text checked: an unknown placeholder is refused, naming it)."""
    problems = template_problems(kind=template.kind, body=template.body)
    if problems:
        raise InvalidInput(problems["body"][0], fields=problems)
    created = template.pk is None
    template.updated_at = at
    template.save()
    actors.record(
        actor=actor,
        action="sms_template_created" if created else "sms_template_changed",
        target=template,
        at=at,
        kind=template.kind,
        language=template.language,
        active=template.active,
        service_notice=template.service_notice,
    )
    return template


@transaction.atomic
def opt_out_set(*, customer: Customer, opted_out: bool, note: str = "", actor, at: dt.datetime) -> bool:
    """Record that the member wants no marketing SMS (or wants them again); whether anything changed."""
    if opted_out:
        row, created = SmsOptOut.objects.get_or_create(
            customer=customer,
            defaults={"opted_out_at": at, "note": note, "recorded_by": actors.actor_label(actor, max_length=150)},
        )
        if created:
            actors.record(actor=actor, action="sms_opted_out", target=row, at=at, note=note)
        return created
    row = SmsOptOut.objects.filter(customer=customer).first()
    if row is None:
        return False
    actors.record(actor=actor, action="sms_opted_in", target=row, at=at, note=note)
    row.delete()
    return True


# -- the SMS of the outbox's events -----------------------------------------------------------------------------------


def _cursor_row() -> SmsCursor | None:
    SmsCursor.objects.get_or_create(pk=1)
    qs = SmsCursor.objects.filter(pk=1)
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    else:
        qs = qs.select_for_update()
    return qs.first()


def sms_from_events(*, at: dt.datetime, batch: int | None = None) -> int:
    """Turn the settled outbox events past the SMS cursor into `sms.requested` events; how many were written."""
    written = 0
    while True:
        n, more = _step(at=at, batch=batch or settings.VIPCLUB_SMS_BATCH)
        written += n
        if not more:
            return written


def _step(*, at: dt.datetime, batch: int) -> tuple[int, bool]:
    with transaction.atomic():
        state = _cursor_row()
        if state is None:
            return 0, False  # another worker is at it
        settled = safe_horizon()  # every event at or below it is committed (core.feed), read after the lock
        if settled <= state.cursor:
            return 0, False
        events = list(
            OutboxEvent.objects.filter(id__gt=state.cursor, id__lte=settled, type__in=SOURCE_TYPES)
            .order_by("id")
            .values("id", "type", "customer_id", "msisdn", "occurred_at", "data")[:batch]
        )
        full = len(events) == batch
        n = _request_for_events(events, at=at)
        SmsCursor.objects.filter(pk=1).update(cursor=events[-1]["id"] if full else settled)
        return n, full


class _Context:
    """What one batch renders with: the active templates, the tiers' names and ranks, read once."""

    def __init__(self):
        self.language = settings.VIPCLUB_SMS_LANGUAGE
        self.templates = {
            t.kind: t for t in SmsTemplate.objects.filter(language=self.language, active=True).only("kind", "body")
        }
        choices = tier_selectors.tier_choices()  # highest first
        self.rank = {code: len(choices) - i for i, (code, _zh, _en) in enumerate(choices)}
        en = self.language == "en"
        self.tier_name = {code: (name_en if en else name_zh) for code, name_zh, name_en in choices}

    def tier(self, code) -> str:
        return self.tier_name.get(code, code or "")


def _kind_of(event: dict, ctx: _Context) -> str | None:
    data = event["data"] or {}
    if event["type"] == "tier.expiring":
        return SmsKind.TIER_EXPIRING
    if event["type"] == "gift_order.changed":
        return SmsKind.GIFT_ARRIVED if data.get("status") == "arrived" else None
    old, new = data.get("from_tier"), data.get("to_tier")
    if new is None:  # left the club or closed: no SMS
        return None
    if ctx.rank.get(new, 0) > ctx.rank.get(old, 0):
        return SmsKind.TIER_UP
    if ctx.rank.get(new, 0) < ctx.rank.get(old, 0):
        return SmsKind.TIER_DOWN
    return None


def _values(event: dict, ctx: _Context, name: str) -> dict:
    data = event["data"] or {}
    if event["type"] == "gift_order.changed":
        gift = data.get("gift_en" if ctx.language == "en" else "gift_zh") or data.get("gift") or ""
        quantity = data.get("quantity") or 1
        return {
            "name": name,
            "tier": ctx.tier(data.get("tier")),
            "gift": gift if quantity == 1 else f"{gift} ×{quantity}",
        }
    if event["type"] == "tier.expiring":
        return {
            "name": name,
            "tier": ctx.tier(data.get("tier")),
            "valid_until": data.get("valid_until"),
            "score": data.get("score"),
            "needed": data.get("needed"),
        }
    return {
        "name": name,
        "tier": ctx.tier(data.get("to_tier")),
        "from_tier": ctx.tier(data.get("from_tier")),
        "valid_until": data.get("valid_until"),
    }


def _request_for_events(events: list[dict], *, at: dt.datetime) -> int:
    if not events:
        return 0
    ctx = _Context()
    wanted = [(e, _kind_of(e, ctx)) for e in events]
    wanted = [(e, kind) for e, kind in wanted if kind in ctx.templates and e["customer_id"]]
    if not wanted:
        return 0
    ids = {e["customer_id"] for e, _kind in wanted}
    names = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "name"))
    marketing = any(not ctx.templates[kind].service_notice for _e, kind in wanted)
    opted_out = (
        set(SmsOptOut.objects.filter(customer_id__in=ids).values_list("customer_id", flat=True)) if marketing else set()
    )
    rows = []
    for event, kind in wanted:
        template = ctx.templates[kind]
        cid = event["customer_id"]
        if cid not in names or (cid in opted_out and not template.service_notice):
            continue
        text = sms_rules.render(template.body, _values(event, ctx, names[cid]))
        rows.append(_sms_event(cid, event["msisdn"], kind, text, at=at, asked_at=max(event["occurred_at"], at)))
    return _write(rows)


def _sms_event(customer_id: int, msisdn: str, kind: str, text: str, *, at: dt.datetime, asked_at: dt.datetime):
    return OutboxEvent(
        type="sms.requested",
        customer_id=customer_id,
        msisdn=msisdn,
        occurred_at=at,
        created_at=at,
        data={"template": str(kind), "text": text, "not_before": sms_rules.not_before(asked_at).isoformat()},
    )


def _write(rows: list[OutboxEvent]) -> int:
    for i in range(0, len(rows), INSERT_BATCH):
        OutboxEvent.objects.bulk_create(rows[i : i + INSERT_BATCH])
    return len(rows)


# -- the daily SMS: birthdays, cards arrived, the November points list ------------------------------------------------


def _birthdays(day: dt.date) -> list[tuple[int, int]]:
    """(month, day) of the birthdays greeted on `day`: 29 February ones on 28 February of a common year."""
    pairs = [(day.month, day.day)]
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        pairs.append((2, 29))
    return pairs


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@transaction.atomic
def sms_daily(*, on: dt.date, at: dt.datetime) -> dict[str, int]:
    """The day's SMS that no event tells, once per business date `on` (a second call for the same or an earlier date
    writes nothing): birthday greetings to members born on that day, cards that arrived the day before, and on
    1 November the members whose points expire on 31 December. Batched: a query per kind and 1,000 members."""
    SmsCursor.objects.get_or_create(pk=1)
    state = SmsCursor.objects.select_for_update().get(pk=1)
    if state.daily_on is not None and state.daily_on >= on:
        return {}
    ctx = _Context()
    asked_at = max(at, dt.datetime.combine(on, dt.time.min, sms_rules.TZ))
    counts = {}
    members = Customer.objects.filter(tier_state__tier__isnull=False).exclude(status="closed")

    def send(kind: str, qs) -> None:
        template = ctx.templates.get(kind)
        if template is None:
            return
        if not template.service_notice:
            qs = qs.filter(sms_opt_out__isnull=True)
        rows = []
        for row in qs.values("id", "msisdn", "name", "tier_state__tier__code").iterator(chunk_size=5000):
            values = {"name": row["name"], "tier": ctx.tier(row["tier_state__tier__code"])}
            text = sms_rules.render(template.body, values)
            rows.append(_sms_event(row["id"], row["msisdn"], kind, text, at=at, asked_at=asked_at))
        counts[kind] = _write(rows)

    born = Q(pk__in=[])
    for month, day in _birthdays(on):
        born |= Q(birthday__month=month, birthday__day=day)
    send(SmsKind.BIRTHDAY, members.filter(born))
    arrived = MembershipCard.objects.filter(arrived_on=on - dt.timedelta(days=1)).values("customer_id")
    send(SmsKind.CARD_ARRIVED, members.filter(pk__in=arrived))
    if (on.month, on.day) == (11, 1) and SmsKind.POINTS_EXPIRING in ctx.templates:
        counts[SmsKind.POINTS_EXPIRING] = _points_expiring(on, at=at, asked_at=asked_at, ctx=ctx)
    counts[SmsKind.SURVEY] = _surveys(on, at=at, asked_at=asked_at, ctx=ctx)
    state.daily_on = on
    state.save(update_fields=["daily_on"])
    return {k: n for k, n in counts.items() if n}


def _points_expiring(on: dt.date, *, at: dt.datetime, asked_at: dt.datetime, ctx: _Context) -> int:
    template = ctx.templates[SmsKind.POINTS_EXPIRING]
    opted_out = set() if template.service_notice else set(SmsOptOut.objects.values_list("customer_id", flat=True))
    rows, n = [], 0
    for row in points_selectors.expiring_rows(year=on.year):
        if row["customer_id"] in opted_out:
            continue
        values = {"name": row["name"], "points": row["expiring_points"], "expires_on": row["expires_on"].isoformat()}
        rows.append(
            _sms_event(
                row["customer_id"],
                row["msisdn"],
                SmsKind.POINTS_EXPIRING,
                sms_rules.render(template.body, values),
                at=at,
                asked_at=asked_at,
            )
        )
        if len(rows) >= INSERT_BATCH:
            n += _write(rows)
            rows = []
    return n + _write(rows)


SURVEY_SMS_DAYS = 7  # a survey not told within a week (no active template) is not told late


def _surveys(on: dt.date, *, at: dt.datetime, asked_at: dt.datetime, ctx: _Context) -> int:
    """The `survey` SMS of the surveys sent up to `on` with no SMS yet (the last SURVEY_SMS_DAYS): one each, not to a
    member who opted out unless the template is a service notice; every one looked at is marked (`sms_at`), so none
    is told twice. No active template: they wait (for a week)."""
    template = ctx.templates.get(SmsKind.SURVEY)
    if template is None:
        return 0
    link = settings.VIPCLUB_SURVEY_LINK
    pending = SurveySend.objects.filter(
        sms_at__isnull=True, sent_on__lte=on, sent_on__gt=on - dt.timedelta(days=SURVEY_SMS_DAYS)
    )
    rows, seen, n = [], [], 0
    for send in pending.values(
        "id", "customer_id", "customer__msisdn", "customer__name", "tier__code", "customer__sms_opt_out"
    ).iterator(chunk_size=5000):
        seen.append(send["id"])
        if send["customer__sms_opt_out"] is None or template.service_notice:
            values = {
                "name": send["customer__name"],
                "tier": ctx.tier(send["tier__code"]),
                "link": link.format(id=send["id"]),
            }
            text = sms_rules.render(template.body, values)
            rows.append(
                _sms_event(
                    send["customer_id"], send["customer__msisdn"], SmsKind.SURVEY, text, at=at, asked_at=asked_at
                )
            )
        if len(seen) >= INSERT_BATCH:
            n += _write(rows)
            SurveySend.objects.filter(pk__in=seen).update(sms_at=at)
            rows, seen = [], []
    SurveySend.objects.filter(pk__in=seen).update(sms_at=at)
    return n + _write(rows)


def sms_requested_now(*, at: dt.datetime | None = None) -> int:
    """The beat task's call: the SMS of the settled events so far."""
    return sms_from_events(at=at or timezone.now())
