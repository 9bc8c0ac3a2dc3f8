"""The UI kit the admin and the pages share: names in the page's language, people's names in their own order, the
services' refusals in the user's language, and one server-rendered SVG chart helper (bars and lines: the numbers and
coordinates, drawn by the templates — no JavaScript, no CDN). It knows no app: callers pass their rows, texts and labels."""

from collections.abc import Mapping
from decimal import Decimal

from django.utils.translation import get_language

from .errors import DomainError, InvalidInput

# --------------------------------------------------------------------------------------------------
# Names and messages


def in_language(name_zh: str, name_en: str) -> str:
    """The Chinese or English name, in the language of the page."""
    return name_zh if (get_language() or "").startswith("zh") else name_en


def label(row) -> str:
    """A row's name in the page's language: a tier, a benefit, an offer (`name_zh`/`name_en`), or a dict with them
    (tiers.selectors.tier_state); "" for none."""
    if not row:
        return ""
    if isinstance(row, Mapping):
        return in_language(row["name_zh"], row["name_en"])
    return in_language(row.name_zh, row.name_en)


def _is_chinese(text: str) -> bool:
    """Whether the text holds a Chinese character (CJK ideographs, extension A, compatibility ideographs)."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def person_name(given: str, family: str) -> str:
    """A person's full name as people write it: a Chinese name family name first and without a space ("陈晓燕", not
    "晓燕 陈"), in every language of the page; any other name given name first ("Anna Berg"). "" for none."""
    given, family = (given or "").strip(), (family or "").strip()
    if _is_chinese(given + family):
        return f"{family}{given}"
    return " ".join(part for part in (given, family) if part)


def user_name(user) -> str:
    """A login's name (person_name of its first and last name), else its username; "" for none."""
    if user is None:
        return ""
    return person_name(getattr(user, "first_name", ""), getattr(user, "last_name", "")) or user.get_username()


def domain_message(exc: DomainError, texts: Mapping | None = None, field_texts: Mapping | None = None, **params) -> str:
    """A refusal of the services (which speak English) in the user's language: the page's text for its code
    (formatted with `params`), else its texts for the refused fields (InvalidInput), else the service's message."""
    text = (texts or {}).get(exc.code)
    if text is not None:
        try:
            return str(text) % params if params else str(text)
        except (KeyError, TypeError, ValueError):
            return exc.message
    if isinstance(exc, InvalidInput) and field_texts:
        named = [str(field_texts[f]) for f in exc.fields if f in field_texts]
        if named:
            return " ".join(named)
    return exc.message


def transition_message(exc: DomainError, texts: Mapping, states: type) -> str:
    """A refused state transition in the user's language: `texts` formatted with `allowed`, the labels of the
    states (a TextChoices class) the object could move to instead (the service's `allowed` field), or "—"."""
    allowed = ", ".join(str(states(s).label) for s in exc.fields.get("allowed", []) if s in states.values)
    return domain_message(exc, texts, allowed=allowed or "—")


# --------------------------------------------------------------------------------------------------
# Charts: bars (horizontal, stacked), columns (vertical, stacked, one per month) and lines (one per series over the
# months). Each returns the numbers and coordinates of one chart; the page's template draws it in SVG. A segment or
# a line has a CSS class: `series_css()` gives s0 … s5 (the templates' palette) and t-<code> (a tier's colour).

SERIES_CLASSES = 6
MONTHS = 12


def series_css(code: str, index: int) -> str:
    return f"s{index % SERIES_CLASSES} t-{code}"


def nice_top(top: Decimal) -> Decimal:
    """A round scale maximum at or above `top` (1, 2, 2.5, 5 × 10^n)."""
    if top <= 0:
        return Decimal(1)
    scale = Decimal(1)
    while scale * 10 < top:
        scale *= 10
    while scale / 10 >= top:
        scale /= 10
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if scale * factor >= top:
            return scale * factor
    return scale * 10


def _spread(targets: list[dict], gap: float = 13) -> list[dict]:
    """The targets' labels (`label_y`) at least `gap` apart, the lowest target (highest y) first."""
    previous = None
    for target in sorted(targets, key=lambda t: -t["y"]):
        target["label_y"] = min(target["y"] + 4, previous - gap) if previous is not None else target["y"] + 4
        previous = target["label_y"]
    return targets


def bar_chart(
    rows: list[dict],
    *,
    legend: list[tuple[str, str]] = (),
    bar_h: int = 24,
    gap: int = 10,
    label_w: int = 110,
    plot_w: int = 440,
    value_w: int = 70,
) -> dict:
    """Horizontal bars, one per row {"label", "code", "segments": [(n, css, title)]}, stacked left to right and
    scaled to the longest; `legend` is [(label, css)]."""
    top = max((sum(n for n, _css, _title in row["segments"]) for row in rows), default=0)
    bars = []
    for i, row in enumerate(rows):
        y = i * (bar_h + gap)
        x, segments = label_w, []
        for n, css, title in row["segments"]:
            w = round(plot_w * n / top, 1) if top else 0
            if n:
                segments.append({"x": x, "w": w, "n": n, "css": css, "title": title})
            x += w
        total = sum(n for n, _css, _title in row["segments"])
        bars.append(
            {
                "label": row["label"],
                "code": row["code"],
                "y": y,
                "text_y": y + bar_h // 2 + 5,
                "segments": segments,
                "total": total,
                "value_x": round(x + 6, 1),
            }
        )
    height = max(len(bars) * (bar_h + gap) - gap, 0)
    return {
        "width": label_w + plot_w + value_w,
        "height": height + (30 if legend else 0),
        "bar_h": bar_h,
        "label_w": label_w,
        "bars": bars,
        "total": sum(bar["total"] for bar in bars),
        "legend_y": height + 22,
        "legend": [{"label": text, "css": css, "x": label_w + j * 110} for j, (text, css) in enumerate(legend)],
    }


def column_chart(
    columns: list[dict],
    *,
    legend: list[tuple[str, str]] = (),
    width: int = 680,
    height: int = 220,
    left: int = 48,
    top: int = 14,
    bottom: int = 26,
    right: int = 70,
    nice: bool = True,
) -> dict:
    """Vertical bars, one per month {"month": index 0–11, "key", "segments": [(n, css, title)]}, stacked bottom up
    on a round scale (`nice`) or scaled to the tallest; `legend` is [(label, css)]."""
    totals = [sum(n for n, _css, _title in c["segments"]) for c in columns]
    tallest = max(totals, default=0)
    scale = nice_top(Decimal(tallest)) if nice or not tallest else tallest
    plot_w, plot_h = width - left - right, height - top - bottom
    bar_w = plot_w / MONTHS * 0.6
    base = top + plot_h
    bars = []
    for column, total in zip(columns, totals, strict=True):
        m = column["month"]
        x = round(left + plot_w / MONTHS * m + (plot_w / MONTHS - bar_w) / 2, 1)
        y, segments = base, []
        for n, css, title in column["segments"]:
            h = round(float(n / scale) * plot_h, 1)
            y = round(y - h, 1)
            if n:
                segments.append({"y": y, "h": h, "n": n, "css": css, "title": title})
        bars.append(
            {
                "x": x,
                "key": column["key"],
                "label": f"{m + 1:02d}",
                "total": total,
                "segments": segments,
                "text_x": round(x + bar_w / 2, 1),
                "text_y": round(y - 4, 1),
            }
        )
    return {
        "width": width,
        "height": height + 24,
        "left": left,
        "right": width - right,
        "base": base,
        "bar_w": round(bar_w, 1),
        "bars": bars,
        "top": scale,
        "label_y": base + 16,
        "legend_y": height + 16,
        "legend": [{"label": text, "css": css, "x": left + j * 120} for j, (text, css) in enumerate(legend)],
        "total": sum(totals),
    }


def line_chart(
    lines: list[dict],
    *,
    targets: dict | None = None,
    width: int = 680,
    height: int = 220,
    left: int = 48,
    top: int = 14,
    bottom: int = 26,
    right: int = 70,
) -> dict:
    """One line per series {"code", "label", "points": [(month index 0–11, value or None, extra)]} over the months
    on a round scale; a missing value leaves a gap. `targets` {value: [labels]} are dashed lines labelled on the
    right. Each point keeps its `extra` dict (what the template shows with it)."""
    targets = targets or {}
    values = [v for line in lines for _m, v, _extra in line["points"] if v is not None] + list(targets)
    scale = nice_top(max(values, default=Decimal(0)) * Decimal("1.1"))
    plot_w, plot_h = width - left - right, height - top - bottom
    step_x = plot_w / MONTHS

    def x(month: int) -> float:
        return round(left + step_x * (month + 0.5), 1)

    def y(value: Decimal) -> float:
        return round(top + plot_h - float(value / scale) * plot_h, 1)

    drawn = []
    for i, line in enumerate(lines):
        points, segments, current = [], [], []
        for month, value, extra in line["points"]:
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            point = {**extra, "x": x(month), "y": y(value)}
            points.append(point)
            current.append(point)
        if current:
            segments.append(current)
        drawn.append(
            {
                "code": line["code"],
                "label": line["label"],
                "css": series_css(line["code"], i),
                "points": points,
                "paths": [" ".join(f"{p['x']},{p['y']}" for p in seg) for seg in segments],
            }
        )
    ticks = [{"value": scale * k / 4, "y": y(scale * k / 4)} for k in range(5)]
    return {
        "width": width,
        "height": height + 22 * ((len(lines) + 3) // 4),
        "left": left,
        "right": width - right,
        "base": top + plot_h,
        "lines": drawn,
        "ticks": ticks,
        "targets": _spread(
            [{"value": t, "y": y(t), "labels": ", ".join(labels)} for t, labels in sorted(targets.items())]
        ),
        "months": [{"x": x(m), "label": f"{m + 1:02d}"} for m in range(MONTHS)],
        "label_y": top + plot_h + 16,
        "legend": [
            {"label": line["label"], "css": line["css"], "x": left + (i % 4) * 150, "y": height + 12 + 22 * (i // 4)}
            for i, line in enumerate(drawn)
        ],
    }
