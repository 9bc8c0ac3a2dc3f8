"""bench/report.py: the scale rows (growth between club sizes against the size ratio) and the README rewrite."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def report(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    return module


def scale(tmp_path, customers, rating, ordinary, period_start, outbox, p99):
    data = {
        "benchmark": "scale",
        "customers": customers,
        "machine": {"date": "2026-12-05T01:00:00+08:00", "cpus_usable": 2, "loadavg_at_start": [3.0]},
        "rating": {"seconds": rating, "bare_seconds": rating / 2.5, "ratio": 2.5},
        "daily": {"ordinary": {"seconds": ordinary}, "period_start": {"seconds": period_start}},
        "outbox": {"seconds": outbox},
        "api": {"rps": 100.0, "p50_ms": 10.0, "p99_ms": p99},
    }
    (tmp_path / f"scale_{customers}.json").write_text(json.dumps(data))


def test_growth_rows_judged_against_the_size_ratio(report, tmp_path):
    scale(tmp_path, 1_000_000, rating=10.0, ordinary=1.0, period_start=20.0, outbox=5.0, p99=20.0)
    scale(tmp_path, 10_000_000, rating=105.0, ordinary=12.0, period_start=150.0, outbox=40.0, p99=26.0)
    text, failed = report.report()
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if "scale:" in line}
    rating = lines["scale: monthly rating run (dry, all customers), 1,000,000 → 10,000,000 customers (10 ×)"]
    assert "10.50 ×" in rating and "≤ 11 ×" in rating and "✔" in rating
    ordinary = lines["scale: `run_daily`, an ordinary day, 1,000,000 → 10,000,000 customers (10 ×)"]
    assert "12.00 ×" in ordinary and "✘" in ordinary
    assert "≤ 3 ×" in lines["scale: monthly rating run (dry) vs bare GROUP BY at 10,000,000 customers"]
    api = lines["scale: API read p99 at 8 connections, 1,000,000 → 10,000,000 customers"]
    assert "1.30 ×" in api and "✘" in api
    assert failed


def test_one_size_says_another_is_needed(report, tmp_path):
    scale(tmp_path, 1_000_000, rating=10.0, ordinary=1.0, period_start=20.0, outbox=5.0, p99=20.0)
    text, _failed = report.report()
    assert "scale: only 1,000,000 customers measured" in text


def test_readme_table_replaced_between_markers(report, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench-table -->\nold table\n<!-- bench-table -->\nafter\n")
    report.readme_write("| new |", readme)
    assert readme.read_text() == "intro\n<!-- bench-table -->\n| new |\n<!-- bench-table -->\nafter\n"
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="markers"):
        report.readme_write("| new |", readme)


def points_result(tmp_path, *, earn, bare_write, month_seconds):
    data = {
        "benchmark": "points",
        "machine": {"date": "2026-12-05T01:00:00+08:00", "cpus_usable": 2, "loadavg_at_start": [3.0]},
        "data": {"customers": 1_000_000, "bills": 12_000_000, "month_bills": 1_000_000},
        "aggregate": {"seconds": 10.0},
        "bare_write": {"seconds": bare_write},
        "earn": {"seconds": earn},
        "expire": {"seconds": 5.0},
        "bare_expiry_update": {"seconds": 4.0},
        "credit": {"seconds": 2.0},
        "credit_bare": {"seconds": 1.0},
        "import": {"seconds": 3.0, "bills": 30_000},
        "ratios": {
            "earn_over_bare_aggregate": round(earn / 10.0, 1),
            "earn_over_bare_write": round(earn / bare_write, 2),
            "import_month_extrapolated_seconds": month_seconds,
            "expire_over_bare_update": 1.25,
            "credit_over_bare_read": 2.0,
        },
    }
    (tmp_path / "points.json").write_text(json.dumps(data))


def test_points_rows_judge_the_earning_and_a_months_earning(report, tmp_path):
    points_result(tmp_path, earn=120.0, bare_write=100.0, month_seconds=100.0)
    text, failed = report.report()
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    earning = lines["points earning vs bare insert of the same ledger rows"]
    assert "1.2 ×" in earning and "≤ 1.3 ×" in earning and "✔" in earning
    month = lines["a month's earning (1,000,000 bills) through the import path, extrapolated from 30,000 bills"]
    assert "100.00 s" in month and "≤ 30 s" in month and "✘" in month
    assert failed
