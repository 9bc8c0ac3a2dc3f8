"""`retention.case_opened {case}` and `retention.case_closed {case, state}` outbound events (DOMAIN §11)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.models import OutboxEvent
from managers.tests.helpers import make_manager
from retention import services
from retention.tests.helpers import member, walk

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 9, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def events():
    return [
        (e.type, e.msisdn, e.data) for e in OutboxEvent.objects.filter(type__startswith="retention.").order_by("id")
    ]


def test_a_case_tells_when_it_opens_and_when_it_ends_by_transition_or_by_the_closure():
    # given two members of a manager, each with a closure request (a second request joins the open case)
    manager = make_manager("E100")
    kept, gone = member(manager=manager), member(manager=manager)
    first, _ = services.closure_request(customer=kept, channel="hotline", at=AT)
    services.closure_request(customer=kept, channel="hall", at=AT)
    second, _ = services.closure_request(customer=gone, channel="hotline", at=AT)
    # when the first is retained through the desk and the second closed by the system of record
    walk(first, "retained")
    services.customer_lifecycle(customer=gone, action="close", kind="voluntary", at=AT, source="event:x-9")
    # then each case told its opening once and its end once
    assert events() == [
        ("retention.case_opened", kept.msisdn, {"case": first.pk}),
        ("retention.case_opened", gone.msisdn, {"case": second.pk}),
        ("retention.case_closed", kept.msisdn, {"case": first.pk, "state": "retained"}),
        ("retention.case_closed", gone.msisdn, {"case": second.pk, "state": "churned"}),
    ]
    assert OutboxEvent.objects.filter(type="retention.case_opened").first().occurred_at == AT
