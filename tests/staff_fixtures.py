"""A small club for the staff cockpit's tests: branch GZ (supervised by `gz-boss`) and branch SZ, each with members,
points, obligations and a pending override, so that a supervisor's numbers can be told from the club's."""

import datetime as dt

from django.contrib.auth import get_user_model

from customers.models import Region
from managers.factories import ObligationFactory
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.factories import PointsLotFactory
from tests.retention_fixtures import a_year_of_churn
from tiers.models import Tier, TierOverride

TODAY = dt.date(2026, 12, 4)
PASSWORD = "Staff-pass-123"


def a_branch(region, manager, *, members: int, points: int, overdue: int) -> list:
    """`members` gold members of `region` served by `manager`, each with `points` expiring at the end of this
    year and as many expiring in 2028, and `overdue` overdue obligations."""
    people = [make_member(tier="gold", region=region, manager=manager) for _ in range(members)]
    for person in people:
        PointsLotFactory(customer=person, year=2023, original=points, expires_on=dt.date(2026, 12, 31))
        PointsLotFactory(customer=person, year=2025, original=points, expires_on=dt.date(2028, 12, 31))
    for person in people[:overdue]:
        ObligationFactory(
            customer=person,
            manager=manager,
            due_on=dt.date(2026, 12, 1),
            status="overdue",
            overdue_since=dt.date(2026, 12, 2),
        )
    return people


def a_club(*, sz_members: int = 3):
    """GZ: the churn fixture's members plus 2 gold members with 100 points each; SZ: `sz_members` gold members with
    1000 points each, 2 overdue obligations, a pending override. Returns (club admin, GZ supervisor)."""
    a_year_of_churn()
    gz, sz = Region.objects.get(code="GZ"), Region.objects.get(code="SZ")
    boss = make_supervisor("gz-boss", password=PASSWORD)
    gz_manager = make_manager("E100", region=gz, supervisor=boss)
    sz_manager = make_manager("E200", region=sz)
    a_branch(gz, gz_manager, members=2, points=100, overdue=1)
    sz_people = a_branch(sz, sz_manager, members=sz_members, points=1000, overdue=2)
    admin = get_user_model().objects.create_superuser(username="club-admin", password=PASSWORD)
    TierOverride.objects.create(
        customer=sz_people[0],
        tier=Tier.objects.get(code="diamond"),
        reason="key account",
        starts_on=TODAY,
        ends_on=dt.date(2027, 12, 31),
        created_by=admin,
    )
    return admin, boss
