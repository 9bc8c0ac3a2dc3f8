"""Cross-app fixtures of the retention tests (they go through the customer lifecycle of retention.services)."""

import datetime as dt

from django.utils import timezone

from customers.factories import RegionFactory
from retention import services
from retention.tests.helpers import club_time, member


def a_year_of_churn(manager=None):
    """The hand-computed fixture of the KPI tests, in branch GZ (branch SZ exists, with no members):
    - members since 1 December 2025: 2 diamond, 4 gold, 4 silver (none at the end of November);
    - 1 January 2026: a new silver member;
    - January: a gold member closes (voluntary, 15th), a silver one (arrears after a suspension, 20th);
    - February: a diamond member closes (voluntary, 3rd);
    - month-end snapshots of November 2025 to February 2026, taken on 5 March 2026."""
    gz = RegionFactory(code="GZ")
    RegionFactory(code="SZ", name="深圳")
    since = dt.date(2025, 12, 1)
    people = {
        code: [member(tier=code, region=gz, manager=manager, since=since) for _ in range(n)]
        for code, n in (("diamond", 2), ("gold", 4), ("silver", 4))
    }
    member(tier="silver", region=gz, manager=manager, since=dt.date(2026, 1, 1))
    services.closure_request(customer=people["gold"][0], at=club_time(dt.date(2026, 1, 10)))
    services.customer_lifecycle(
        customer=people["gold"][0], action="close", kind="voluntary", at=club_time(dt.date(2026, 1, 15))
    )
    services.customer_lifecycle(
        customer=people["silver"][0], action="suspend", kind="arrears", at=club_time(dt.date(2026, 1, 5))
    )
    services.customer_lifecycle(
        customer=people["silver"][0], action="close", kind="arrears", at=club_time(dt.date(2026, 1, 20))
    )
    services.closure_request(customer=people["diamond"][0], at=club_time(dt.date(2026, 2, 1)))
    services.customer_lifecycle(
        customer=people["diamond"][0], action="close", kind="voluntary", at=club_time(dt.date(2026, 2, 3))
    )
    for month in (dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)):
        services.snapshot_month(month=month, on=dt.date(2026, 3, 5), at=timezone.now())
    return people
