"""Server-side SVG charts of the retention reports: the numbers and coordinates, drawn by the templates (no
JavaScript, no CDN). Rates are Decimals; a missing rate (no members) leaves a gap in its line."""

from decimal import Decimal

WIDTH, HEIGHT, LEFT, TOP, BOTTOM, RIGHT = 680, 220, 48, 14, 26, 70
SERIES_CLASSES = 6  # s0 … s5 in the templates' styles; t-<tier code> (and t-all) win where a colour is defined


def css(code: str, index: int) -> str:
    return f"s{index % SERIES_CLASSES} t-{code}"


def _step(top: Decimal) -> Decimal:
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


def ytd_chart(rows: list[dict], series: list[tuple[str, str]]) -> dict:
    """Year-to-date churn rate per month for each series (code, label), its yearly target as a dashed line, and a
    marker on every month in breach. `rows` are the churn report's rows."""
    values = [r["ytd_rate"] for r in rows if r["ytd_rate"] is not None] + [r["target"] for r in rows if r["target"]]
    top = _step(max(values, default=Decimal(0)) * Decimal("1.1"))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step_x = plot_w / 12

    def x(month_index: int) -> float:
        return round(LEFT + step_x * (month_index + 0.5), 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_h - float(value / top) * plot_h, 1)

    lines, targets = [], {}
    for i, (code, label) in enumerate(series):
        mine = [r for r in rows if r["series"] == code]
        points, segments, current = [], [], []
        for r in mine:
            m = r["month"].month - 1
            if r["ytd_rate"] is None:
                if current:
                    segments.append(current)
                current = []
                continue
            point = {"x": x(m), "y": y(r["ytd_rate"]), "rate": r["ytd_rate"], "breach": r["breach"],
                     "month": f"{r['month']:%Y-%m}"}  # fmt: skip
            points.append(point)
            current.append(point)
        if current:
            segments.append(current)
        lines.append({"code": code, "label": label, "css": css(code, i), "points": points,
                      "paths": [" ".join(f"{p['x']},{p['y']}" for p in seg) for seg in segments]})  # fmt: skip
        target = next((r["target"] for r in mine if r["target"] is not None), None)
        if target is not None:
            targets.setdefault(target, []).append(label)
    ticks = [{"value": top * k / 4, "y": y(top * k / 4)} for k in range(5)]
    return {
        "width": WIDTH, "height": HEIGHT + 22 * ((len(series) + 3) // 4), "left": LEFT, "right": WIDTH - RIGHT,
        "base": TOP + plot_h, "lines": lines, "ticks": ticks,
        "targets": _spread([{"value": t, "y": y(t), "labels": ", ".join(labels)} for t, labels in sorted(targets.items())]),
        "months": [{"x": x(m), "label": f"{m + 1:02d}"} for m in range(12)], "label_y": TOP + plot_h + 16,
        "legend": [{"label": line["label"], "css": line["css"], "x": LEFT + (i % 4) * 150,
                    "y": HEIGHT + 12 + 22 * (i // 4)} for i, line in enumerate(lines)],
        "breaches": sum(1 for line in lines for p in line["points"] if p["breach"]),
    }  # fmt: skip


def churned_chart(rows: list[dict], code: str = "all") -> dict:
    """Closures per month of one series, voluntary and arrears stacked."""
    mine = [r for r in rows if r["series"] == code]
    top = max((r["churned"] for r in mine), default=0)
    scale = _step(Decimal(top)) if top else Decimal(1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / 12 * 0.6
    bars = []
    for r in mine:
        m = r["month"].month - 1
        x = round(LEFT + plot_w / 12 * m + (plot_w / 12 - bar_w) / 2, 1)
        h_vol = round(float(r["voluntary"] / scale) * plot_h, 1)
        h_arr = round(float(r["arrears"] / scale) * plot_h, 1)
        base = TOP + plot_h
        bars.append({"x": x, "month": f"{r['month']:%Y-%m}", "voluntary": r["voluntary"], "arrears": r["arrears"],
                     "total": r["churned"], "vol_y": round(base - h_vol, 1), "vol_h": h_vol,
                     "arr_y": round(base - h_vol - h_arr, 1), "arr_h": h_arr,
                     "text_x": round(x + bar_w / 2, 1), "text_y": round(base - h_vol - h_arr - 4, 1),
                     "label": f"{m + 1:02d}"})  # fmt: skip
    return {"width": WIDTH, "height": HEIGHT + 24, "left": LEFT, "right": WIDTH - RIGHT, "base": TOP + plot_h,
            "bar_w": round(bar_w, 1), "bars": bars, "top": scale, "label_y": TOP + plot_h + 16,
            "legend_y": HEIGHT + 16, "total": sum(b["total"] for b in bars)}  # fmt: skip


def tier_bars(report: dict, labels: list[str]) -> dict:
    """Members per branch as horizontal bars stacked by tier (the tier report)."""
    bar_h, gap, label_w, plot_w = 24, 10, 110, 440
    codes = [t.code for t in report["tiers"]]
    top = max((row["total"] for row in report["rows"]), default=0)
    bars = []
    for i, row in enumerate(report["rows"]):
        y = i * (bar_h + gap)
        x, segments = label_w, []
        for j, n in enumerate(row["cells"]):
            w = round(plot_w * n / top, 1) if top else 0
            if n:
                segments.append({"x": x, "w": w, "n": n, "css": css(codes[j], j), "tier": labels[j]})
            x += w
        bars.append({"label": row["region"].name, "code": row["region"].code, "y": y, "text_y": y + bar_h // 2 + 5,
                     "segments": segments, "total": row["total"], "value_x": x + 6})  # fmt: skip
    height = max(len(bars) * (bar_h + gap) - gap, 0)
    return {"width": label_w + plot_w + 70, "height": height + 30, "bar_h": bar_h, "label_w": label_w,
            "bars": bars, "legend_y": height + 22,
            "legend": [{"label": label, "css": css(codes[j], j), "x": label_w + j * 110}
                       for j, label in enumerate(labels)]}  # fmt: skip
