"""Member SMS, the pure part (DOMAIN §11): each kind's placeholders, rendering a template, the sample member of the
admin's preview, and the quiet hours (none is sent between 21:00 and 08:00 Asia/Shanghai: they wait for 08:00).
No ORM here."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

TZ = ZoneInfo("Asia/Shanghai")
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

COMMON = ("name", "tier")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "tier_up": (*COMMON, "from_tier", "valid_until"),
    "tier_down": (*COMMON, "from_tier", "valid_until"),
    "tier_expiring": (*COMMON, "valid_until", "score", "needed"),
    "points_expiring": (*COMMON, "points", "expires_on"),
    "card_arrived": COMMON,
    "gift_arrived": (*COMMON, "gift"),
    "birthday": COMMON,
    "survey": (*COMMON, "link"),
}
PLACEHOLDER_HELP = {
    "name": _("the member's name"),
    "tier": _("her tier (the new one for a tier change)"),
    "from_tier": _("the tier before the change"),
    "valid_until": _("the date the tier is valid until"),
    "score": _("the score so far"),
    "needed": _("the spend (yuan) still needed to keep the tier"),
    "points": _("the points expiring"),
    "expires_on": _("the date they expire"),
    "gift": _("the gift"),
    "link": _("the survey's link"),
}
# the preview's member, per language
SAMPLE = {
    "zh-hans": {
        "name": "王芳",
        "tier": "金卡",
        "from_tier": "银卡",
        "valid_until": "2027-05-31",
        "score": "1650",
        "needed": "350.00",
        "points": "1200",
        "expires_on": "2026-12-31",
        "gift": "电影票两张",
        "link": "https://vip.example.com/s/abc",
    },
    "en": {
        "name": "Wang Fang",
        "tier": "Gold",
        "from_tier": "Silver",
        "valid_until": "2027-05-31",
        "score": "1650",
        "needed": "350.00",
        "points": "1200",
        "expires_on": "2026-12-31",
        "gift": "two film tickets",
        "link": "https://vip.example.com/s/abc",
    },
}


def placeholders_in(body: str) -> list[str]:
    """The placeholders a text uses, in order of first use."""
    seen: list[str] = []
    for name in PLACEHOLDER.findall(body):
        if name not in seen:
            seen.append(name)
    return seen


def unknown_placeholders(body: str, kind: str) -> list[str]:
    """The placeholders of `body` that the kind does not fill ("{nmae}", "{}", "{name!r}")."""
    allowed = PLACEHOLDERS.get(kind, COMMON)
    return [name for name in placeholders_in(body) if name not in allowed]


def render(body: str, values: dict) -> str:
    """The text with each `{placeholder}` replaced by its value (missing values: empty). Only plain names are
    replaced: a value containing braces is never read as a placeholder."""
    return PLACEHOLDER.sub(lambda m: "" if (v := values.get(m.group(1))) is None else str(v), body)


def not_before(at: dt.datetime) -> dt.datetime:
    """The earliest time an SMS asked for at `at` may be sent, in Asia/Shanghai: `at` itself from 08:00 to 20:59:59,
    else 08:00 of the morning after (21:00–23:59 → the next day, 00:00–07:59 → the same day)."""
    local = at.astimezone(TZ)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return local
    day = local.date() + dt.timedelta(days=1) if local.time() >= QUIET_FROM else local.date()
    return dt.datetime.combine(day, QUIET_UNTIL, TZ)
