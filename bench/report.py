"""One table of every benchmark's ratios, from the figures the scripts wrote to bench/results/*.json.

    .venv/bin/python bench/report.py [--strict]

`make bench` runs every script of bench/ and then this one. Prints a Markdown table (job, time, baseline, ratio,
goal, pass) — the table of the README — and under it when and where each result was measured. A script that has
not run yet (no JSON) shows as such; a JSON whose shape this report does not know (a script changed) shows "?".
Then the scale rows: every `scale_<N>.json` of `bench/scale.py` (one per club size measured), each job's growth
from the smallest size to each larger one against the size ratio (issue 20: ≤ 1.1 × linear, i.e. ≤ 11 × for 10 ×
the customers; the API read's p99 ≤ 1.2 × the smallest size's).
With --strict the exit status is 1 when a goal failed; with --readme the table replaces the one between the
`<!-- bench-table -->` markers of the README. Reads files only: no database.
"""

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = (
    "rerate",
    "rerate_outbox",
    "bills_import",
    "daily",
    "points",
    "api",
    "dashboard",
    "load",
    "acceptance_drive",
    "webhooks",
)
SCRIPTS = {"rerate_outbox": "bench/rerate.py --outbox"}  # results not named after their script
HEADERS = ["job", "time", "baseline", "ratio", "goal", "pass"]


def s(seconds) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def verdict(passed) -> str:
    return "–" if passed is None else ("✔" if passed else "✘")


def rerate(d: dict) -> list[list]:
    runs, agg, ratios = d["runs"], d["aggregate"], d["ratios"]
    goals = {i: g for i, g in enumerate(d.get("goals", []))}
    steady, first, naive = runs["steady"], runs["first"], d["naive"]
    small = runs["steady_small"]

    def passed(i):
        return goals[i]["passed"] if i in goals else None

    per_customer = steady["seconds"] / steady["customers"]
    return [
        [
            "re-rating, steady month (production path) vs bare GROUP BY",
            s(steady["seconds"]),
            s(agg["seconds"]),
            f"{ratios['steady']['a_over_b']} ×",
            "≤ 3 ×",
            verdict(passed(0)),
        ],
        [
            "re-rating, first month (everybody joins) vs bare GROUP BY",
            s(first["seconds"]),
            s(agg["seconds"]),
            f"{ratios['first']['a_over_b']} ×",
            "info",
            "–",
        ],
        [
            "re-rating per customer vs naive ORM loop",
            f"{per_customer * 1e6:.1f} µs",
            f"{naive['ms_per_customer']:.2f} ms",
            f"{ratios['steady']['naive_over_a_per_customer']} × faster",
            "≥ 100 ×",
            verdict(passed(1)),
        ],
        [
            f"re-rating {steady['customers']:,} vs {small['customers']:,} customers",
            s(steady["seconds"]),
            s(small["seconds"]),
            f"{ratios['steady']['a_all_over_a_small']} ×",
            goals[2]["target"].replace("<=", "≤") + " ×" if 2 in goals else "info",
            verdict(passed(2)),
        ],
    ]


def bills_import(d: dict) -> list[list]:
    best, ratios = d["best"], d["ratios"]
    rows = d["data"]["rows"]
    return [
        [
            f"bill import, service (bills + points), {rows:,} bills vs raw COPY",
            s(best["service"]["seconds"]),
            s(best["copy"]["seconds"]),
            f"{ratios['service_over_copy']} ×",
            "≤ 3 ×",
            verdict(d["goal"]["passed"]),
        ],
        [
            "bill import, bills upsert alone vs raw COPY",
            s(best["upsert"]["seconds"]),
            s(best["copy"]["seconds"]),
            f"{ratios['upsert_over_copy']} ×",
            "info",
            "–",
        ],
        [
            "bill import, `import_bills` CSV command vs raw COPY",
            s(best["command"]["seconds"]),
            s(best["copy"]["seconds"]),
            f"{ratios['command_over_copy']} ×",
            "≤ 2 ×" if "command_goal" in d else "info",
            verdict(d["command_goal"]["passed"]) if "command_goal" in d else "–",
        ],
    ] + (
        [
            [
                f"bill import, a 10-bill push through the service vs a plain 10-row INSERT (median of "
                f"{d['small']['pushes']})",
                f"{d['small']['service_ms']} ms",
                f"{d['small']['insert_ms']} ms",
                f"{d['small']['ratio']} ×",
                "info",
                "–",
            ]
        ]
        if "small" in d
        else []
    )


def daily(d: dict) -> list[list]:
    a, b = d["ordinary"], d["period_start"]
    return [
        [
            "`run_daily`, an ordinary day vs bare scan of the members",
            s(a["seconds"]),
            s(a["scan_seconds"]),
            f"{a['ratio']} ×",
            "≤ 2 ×",
            verdict(d["goal"]["passed"]),
        ],
        [
            "`run_daily`, a quarter's first day vs bare scan",
            s(b["seconds"]),
            s(b["scan_seconds"]),
            f"{b['ratio']} ×",
            "≤ 20 ×",
            verdict(b["ratio"] <= 20),
        ],
    ]


def month_earning(d: dict) -> list[list]:
    """A month of bills earned through the import path, extrapolated from the timed batches (issue 20: ≤ 30 s)."""
    imp, month = d["import"], d["ratios"].get("import_month_extrapolated_seconds")
    if month is None or "month_bills" not in d["data"]:
        return []
    return [
        [
            f"a month's earning ({d['data']['month_bills']:,} bills) through the import path, "
            f"extrapolated from {imp['bills']:,} bills",
            s(month),
            "–",
            "–",
            "≤ 30 s",
            verdict(month <= 30),
        ]
    ]


def points(d: dict) -> list[list]:
    r = d["ratios"]
    return [
        [
            "points earning, all bills vs bare aggregate",
            s(d["earn"]["seconds"]),
            s(d["aggregate"]["seconds"]),
            f"{r['earn_over_bare_aggregate']} ×",
            "info",
            "–",
        ],
        [
            "points earning vs bare insert of the same ledger rows",
            s(d["earn"]["seconds"]),
            s(d["bare_write"]["seconds"]),
            f"{r['earn_over_bare_write']} ×",
            "≤ 1.3 ×",
            verdict(r["earn_over_bare_write"] <= 1.3),
        ],
        *month_earning(d),
        [
            "points expiry vs bare UPDATE of the lots",
            s(d["expire"]["seconds"]),
            s(d["bare_expiry_update"]["seconds"]),
            f"{r['expire_over_bare_update']} ×",
            "info",
            "–",
        ],
        [
            "credit stars vs bare read of the last 6 bills",
            s(d["credit"]["seconds"]),
            s(d["credit_bare"]["seconds"]),
            f"{r['credit_over_bare_read']} ×",
            "info",
            "–",
        ],
    ]


def api(d: dict) -> list[list]:
    read, bare = d["best"]["read"], d["best"]["bare"]
    return [
        [
            "API `GET /customers/{msisdn}/` vs bare endpoint, gunicorn on loopback",
            f"{read['rps']:,.0f} req/s (p50 {read['p50_ms']:.1f} ms)",
            f"{bare['rps']:,.0f} req/s (p50 {bare['p50_ms']:.1f} ms)",
            f"{d['ratios']['bare_rps_over_read_rps']} × (read p99 {read['p99_ms']:.1f} ms, "
            f"{d['settings'].get('connections', 4)} connections)",
            "≤ 2 ×, p99 ≤ 25 ms",
            verdict(d["goal"]["passed"]),
        ],
    ]


def dashboard(d: dict) -> list[list]:
    small, large = d["settings"]["small"], d["settings"]["large"]
    return [
        [
            f"dashboard `{c['page']}` queries, {large:,} vs {small} members",
            f"{c['queries_large']} queries",
            f"{c['queries_small']} queries",
            f"{c['ratio']} ×",
            f"same, ≤ {c['bound']}",
            verdict(c["passed"]),
        ]
        for c in d["checks"]
    ]


def load_test(d: dict) -> list[list]:
    run, goals = d["run"], {g["goal"]: g for g in d["goals"]}
    p99_goal = next(g for name, g in goals.items() if name.startswith("p99"))
    sound = goals["ledgers reconcile after the run"]["passed"]
    minutes = run["seconds"] / 60
    return [
        [
            f"load test, partner mix (70 % reads), {minutes:g} min, gunicorn on loopback",
            f"{run['rate']:,.1f} req/s, p50 {run['p50_ms']:g} ms, p99 {run['p99_ms']:g} ms",
            f"{run['failures']} failed, peak {d['connections']['peak']} db connections",
            "–",
            "p99 ≤ 200 ms, 0 failed",
            verdict(p99_goal["passed"] and run["failures"] == 0),
        ],
        [
            "load test: ledgers after it (points = Σ ledger = Σ lots, benefits used = Σ ledger)",
            "sound" if sound else "broken",
            "",
            "–",
            "0 violations",
            verdict(sound),
        ],
    ]


def acceptance_drive(d: dict) -> list[list]:
    s = d["settings"]
    return [
        [
            f"rating acceptance drive, {s['customers']} customers × {s['months']} months, runserver + worker",
            f"{d['requests']:,} requests, {d['five_xx']} 5xx",
            f"peak {d['connections']['peak']} db connections",
            "–",
            "0 5xx, ≤ 20 connections",
            verdict(all(g["passed"] for g in d["goals"])),
        ]
    ]


def rerate_outbox(d: dict) -> list[list]:
    """`bench/rerate.py --outbox`: the steady month writing its `tier.changed` events vs the same run without."""
    o = d["outbox"]
    with_, without = o["runs"]["with"], o["runs"]["without"]
    return [
        [
            f"re-rating, steady month writing its {with_['events_written']:,} events vs the same run without",
            s(with_["seconds"]),
            s(without["seconds"]),
            f"{o['ratio']} ×",
            "≤ 1.3 ×",
            verdict(o["passed"]),
        ]
    ]


def webhooks(d: dict) -> list[list]:
    """`bench/webhooks.py`: events delivered to a receiver on loopback by N `deliver_webhooks` workers."""
    once = d["received"] == d["events"] == d["delivered"] and d["received_twice"] == 0
    return [
        [
            f"webhooks, {d['events']:,} events delivered by {d['workers']} workers to a receiver on loopback",
            f"{d['events_per_s']:,} events/s ({s(d['deliver_s'])})",
            f"fan-out {s(d['fan_out_s'])}",
            "–",
            "≥ 2,000 events/s, each once",
            verdict(d["events_per_s"] >= 2000 and once),
        ]
    ]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def measured_on(d: dict) -> str:
    m = d.get("machine", {})
    cores = m.get("cpus_usable", "?")
    when = m.get("date", "?")
    load = (m.get("loadavg_at_start") or ["?"])[0]
    return f"{when}, {cores} cores, load {load}"


SCALE_JOBS = (
    # label, path into the JSON, unit
    ("monthly rating run (dry, all customers)", ("rating", "seconds"), "s"),
    ("`run_daily`, an ordinary day", ("daily", "ordinary", "seconds"), "s"),
    ("`run_daily`, a quarter's first day", ("daily", "period_start", "seconds"), "s"),
    ("outbox, one `tier.changed` per member", ("outbox", "seconds"), "s"),
    ("a month of bills (one per customer) through the import service", ("import", "service_month_seconds"), "s"),
)


def _dig(d: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def scale_results() -> list[dict]:
    found = []
    for path in RESULTS.glob("scale_*.json"):
        data = json.loads(path.read_text())
        if isinstance(data.get("customers"), int):
            found.append(data)
    return sorted(found, key=lambda d: d["customers"])


def scale_ratio_rows(results: list[dict]) -> list[list]:
    """At every measured size: the rating run against its bare GROUP BY (≤ 3 ×) and the month's import through
    the service against a raw COPY of the same bills (info: the ≤ 3 × goal is the 100k push's)."""
    rows = []
    for d in results:
        size = f"{d['customers']:,} customers"
        rating = d.get("rating", {})
        if "ratio" in rating:
            rows.append(
                [
                    f"scale: monthly rating run (dry) vs bare GROUP BY at {size}",
                    s(rating["seconds"]),
                    s(rating["bare_seconds"]),
                    f"{rating['ratio']} ×",
                    "≤ 3 ×",
                    verdict(rating["ratio"] <= 3),
                ]
            )
        month = d.get("import")
        if month:
            part = (
                f"{month['service']['bills']:,} of the month's {month['month_bills']:,} bills (partial)"
                if month.get("partial")
                else f"{month['service']['bills']:,} bills"
            )
            rows.append(
                [
                    f"scale: a month's import, {part} in pushes of {month['batch']:,}, service vs raw COPY at {size}",
                    s(month["service"]["seconds"]),
                    s(month["copy"]["seconds"]),
                    f"{month['ratio']} ×",
                    "info",
                    "–",
                ]
            )
    return rows


def scale_rows(results: list[dict]) -> list[list]:
    """Growth rows between the smallest measured size and each larger one (none with fewer than two sizes)."""
    rows = scale_ratio_rows(results)
    if len(results) < 2:
        return rows
    base = results[0]
    for big in results[1:]:
        n = big["customers"] / base["customers"]
        sizes = f"{base['customers']:,} → {big['customers']:,}"
        for label, path, _unit in SCALE_JOBS:
            x, y = _dig(base, path), _dig(big, path)
            if x is None or y is None:
                continue
            growth = y / x if x else float("inf")
            rows.append(
                [
                    f"scale: {label}, {sizes} customers ({n:.0f} ×)",
                    s(y),
                    s(x),
                    f"{growth:.2f} ×",
                    f"≤ {1.1 * n:.0f} ×",
                    verdict(growth <= 1.1 * n),
                ]
            )
        a, b = _dig(base, ("api", "p99_ms")), _dig(big, ("api", "p99_ms"))
        if a and b:
            rows.append(
                [
                    f"scale: API read p99 at 8 connections, {sizes} customers",
                    f"{b:.1f} ms ({_dig(big, ('api', 'rps'))} req/s)",
                    f"{a:.1f} ms ({_dig(base, ('api', 'rps'))} req/s)",
                    f"{b / a:.2f} ×",
                    "≤ 1.2 ×",
                    verdict(b / a <= 1.2),
                ]
            )
    return rows


def report() -> tuple[str, bool]:
    builders = {
        "rerate": rerate,
        "rerate_outbox": rerate_outbox,
        "webhooks": webhooks,
        "bills_import": bills_import,
        "daily": daily,
        "points": points,
        "api": api,
        "dashboard": dashboard,
        "load": load_test,
        "acceptance_drive": acceptance_drive,
    }
    rows, notes, failed = [], [], False
    for name in ORDER:
        data = load(name)
        if data is None:
            script = SCRIPTS.get(name, f"bench/{name}.py")
            rows.append([f"`{script}`: not run (no bench/results/{name}.json)", "", "", "", "", ""])
            continue
        try:
            built = builders[name](data)
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            rows.append(
                [
                    f"`bench/{name}.py`: results of an unknown shape ({type(exc).__name__}: {exc})",
                    "?",
                    "?",
                    "?",
                    "?",
                    "?",
                ]
            )
            continue
        rows += built
        failed |= any(r[5] == "✘" for r in built)
        notes.append(f"`{name}`: {measured_on(data)}")
    scales = scale_results()
    built = scale_rows(scales)
    rows += built
    failed |= any(r[5] == "✘" for r in built)
    if len(scales) == 1:
        rows.append(
            [f"scale: only {scales[0]['customers']:,} customers measured (`bench/scale.py` at another size)"] + [""] * 5
        )
    notes += [f"`scale` {d['customers']:,}: {measured_on(d)}" for d in scales]
    widths = [max(len(str(r[i])) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADERS), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]
    if notes:
        out += ["", "Measured: " + "; ".join(notes) + "."]
    return "\n".join(out), failed


README = RESULTS.parent.parent / "README.md"
MARK = "<!-- bench-table -->"


def readme_write(text: str, path: Path = README) -> None:
    """Replace what stands between the README's two markers with the table."""
    content = path.read_text()
    head, sep, rest = content.partition(MARK)
    _old, sep2, tail = rest.partition(MARK)
    if not sep or not sep2:
        raise SystemExit(f"{path.name}: two {MARK} markers are needed around the benchmark table")
    path.write_text(f"{head}{MARK}\n{text}\n{MARK}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal failed")
    parser.add_argument("--readme", action="store_true", help="write the table into the README between its markers")
    args = parser.parse_args(argv)
    text, failed = report()
    print(text)
    if args.readme:
        readme_write(text)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
