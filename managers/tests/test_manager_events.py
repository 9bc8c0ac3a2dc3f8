"""`manager.assigned {manager}` outbound events (DOMAIN §11): one per new assignment, written with it."""

import datetime as dt

import pytest

from core.models import OutboxEvent
from customers.factories import RegionFactory
from managers import services
from managers.tests.helpers import make_manager, make_member

pytestmark = pytest.mark.django_db
D = dt.date


def events():
    return sorted(
        (e.customer_id, e.msisdn, e.data["manager"]) for e in OutboxEvent.objects.filter(type="manager.assigned")
    )


def test_new_members_and_reassigned_customers_each_get_one_event_naming_the_manager():
    # given two managers of a branch, one serving a member already, and three new members
    region = RegionFactory()
    first, second = make_manager("A1", region=region), make_manager("B1", region=region)
    served = make_member(region=region, manager=first)
    new = [make_member(region=region) for _ in range(3)]
    # when the new members are assigned (twice the same day: the second assigns nobody)
    services.assignments_for_new_members(on=D(2026, 10, 12))
    services.assignments_for_new_members(on=D(2026, 10, 12))
    # then each new member has one event naming her manager by employee number
    assigned = {c.pk: services.active_manager_of(c).employee_no for c in new}
    assert events() == sorted((c.pk, c.msisdn, assigned[c.pk]) for c in new)
    # and when two customers move to B1 (one of them has B1 already: she does not move)
    mover = next(c for c in new if assigned[c.pk] == "B1")
    OutboxEvent.objects.all().delete()
    assert services.customers_reassign(customer_ids=[served.pk, mover.pk], manager=second, on=D(2026, 11, 20)) == 1
    assert events() == [(served.pk, served.msisdn, "B1")]
