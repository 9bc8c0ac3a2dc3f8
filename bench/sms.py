"""Benchmark of the member SMS step and the tier-expiring step (issue 18 items 4 and 6) on a few thousand members.

    [DATABASE_URL=postgres://…/<db>] .venv/bin/python bench/sms.py [--members 5000]

Everything happens in ONE transaction that is rolled back at the end: the database is left as it was (it is migrated
first). In it: the SMS cursor moved past the outbox events already there (not this benchmark's; after `make bench`
millions); --members gold members by score (msisdn 177…), valid until 30 days after the business date, each with 11
bills in the window of the run that re-rates them; a `tier.changed` upgrade event for each. Measured:
  (s) the SMS step over the upgrade events (partners.sms.sms_from_events): seconds and queries;
  (e) the daily tier.expiring step (tiers.services.tier_expiring_emit, one INSERT … SELECT): seconds and queries;
  (x) the SMS step over the tier.expiring events;
and the same three for a tenth of the members, to show the query counts do not grow with them.
Figures go to bench/results/sms.json.
"""

import argparse
import datetime as dt
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_facts, setup_django, write_results  # noqa: E402

ON = dt.date(2027, 5, 1)
VALID_UNTIL = dt.date(2027, 5, 31)


class Rollback(Exception):
    pass


def measure(n: int, offset: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from core.models import OutboxEvent
    from customers.models import BillingMonth, Customer, MonthlyBill, Region
    from partners import sms
    from tiers import services
    from tiers.models import CustomerTier, Tier

    at = timezone.make_aware(dt.datetime(2027, 5, 1, 6, 0))
    region, _ = Region.objects.get_or_create(code="BENCHSMS", defaults={"name": "bench", "province": "bench"})
    for i in range(28):
        month = dt.date(2025 + (i // 12), 1 + i % 12, 1)
        if month <= dt.date(2027, 4, 1):
            BillingMonth.objects.update_or_create(month=month, defaults={"closed_at": at})
    customers = Customer.objects.bulk_create(
        Customer(
            msisdn=f"177{offset + i:08d}",
            name=f"会员{i}",
            id_number=f"11010119800101{(offset + i) % 10000:04d}",
            join_date=dt.date(2012, 1, 1),
            brand="gotone",
            region=region,
        )
        for i in range(n)
    )
    gold = Tier.objects.get(code="gold")
    CustomerTier.objects.bulk_create(
        CustomerTier(customer=c, tier=gold, source="score", valid_until=VALID_UNTIL, since=dt.date(2026, 6, 1))
        for c in customers
    )
    months = [dt.date(2026, 6 + i, 1) if i < 7 else dt.date(2027, i - 6, 1) for i in range(11)]
    MonthlyBill.objects.bulk_create(
        (MonthlyBill(customer=c, month=m, amount=Decimal("150.50"), paid=True) for c in customers for m in months),
        batch_size=5000,
    )
    OutboxEvent.objects.bulk_create(
        (
            OutboxEvent(
                type="tier.changed",
                customer_id=c.pk,
                msisdn=c.msisdn,
                occurred_at=at,
                data={"from_tier": "silver", "to_tier": "gold", "reason": "score", "valid_until": "2027-05-31"},
            )
            for c in customers
        ),
        batch_size=5000,
    )
    figures = {"members": n}
    for key, step in (
        ("sms_tier_up", lambda: sms.sms_from_events(at=at)),
        ("tier_expiring", lambda: services.tier_expiring_emit(on=ON, at=at)),
        ("sms_tier_expiring", lambda: sms.sms_from_events(at=at)),
    ):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            written = step()
            seconds = time.perf_counter() - started
        figures[key] = {"written": written, "seconds": round(seconds, 3), "queries": len(queries)}
        if "-v" in sys.argv:
            print(key, [q["sql"][:60] for q in queries.captured_queries])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("-v", action="store_true", help="print the statements")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    results = {}
    for n, offset in ((args.members // 10, 90_000_000), (args.members, 80_000_000)):
        try:
            with transaction.atomic():
                from django.db.models import Max

                from core.models import OutboxEvent
                from partners.models import SmsCursor

                # The events already in the outbox are not this benchmark's (after `make bench` millions): the SMS
                # cursor starts past them, inside the transaction that is rolled back.
                last = OutboxEvent.objects.aggregate(m=Max("id"))["m"] or 0
                SmsCursor.objects.update_or_create(pk=1, defaults={"cursor": last})
                results[n] = measure(n, offset)
                raise Rollback
        except Rollback:
            pass
    for n, f in results.items():
        print(
            f"{n:>6,} members on {connection.vendor}: "
            + "; ".join(
                f"{k} {v['written']:,} in {v['seconds']:.2f} s, {v['queries']} queries"
                for k, v in f.items()
                if isinstance(v, dict)
            )
        )
    machine = machine_facts() if connection.vendor == "postgresql" else {}
    write_results("sms", {"machine": machine, "vendor": connection.vendor, "runs": list(results.values())})


if __name__ == "__main__":
    main()
