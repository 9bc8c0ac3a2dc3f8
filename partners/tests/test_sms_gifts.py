"""The `gift arrived` SMS (DOMAIN §10, §11): a gift order that arrives at the hall becomes the member's SMS, once, in
her language's template, out of the quiet hours; other moves of the order send none."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.models import OutboxEvent
from managers.tests.helpers import make_manager, make_member
from partners import sms
from service import gift_services
from service.factories import give_points, make_gift, place

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def test_a_gift_arriving_at_22_00_is_one_sms_for_08_00_the_next_morning():
    # given a gold member's order of two film tickets, shipped to the hall
    member = make_member(tier="gold", manager=make_manager("AM1"), msisdn="13900000001", name="王芳")
    give_points(member, [(2026, 1000)], on=dt.date(2026, 11, 20))
    order = place(member, make_gift(points=300), at=local(2026, 11, 20, 10))
    order = gift_services.gift_order_transition(order=order, to="shipped", at=local(2026, 11, 20, 11), actor=None)
    # when it arrives at 22:00 and the SMS step runs, twice
    gift_services.gift_order_transition(order=order, to="arrived", at=local(2026, 11, 20, 22), actor=None)
    assert sms.sms_from_events(at=local(2026, 11, 20, 22, 0, 5)) == 1
    assert sms.sms_from_events(at=local(2026, 11, 20, 22, 1)) == 0
    # then one SMS: the seeded Chinese text with the gift's name, for 08:00 the next morning
    (event,) = OutboxEvent.objects.filter(type="sms.requested")
    assert event.customer_id == member.pk and event.data["template"] == "gift_arrived"
    assert event.data["text"] == "尊敬的王芳，您兑换的电影票两张已到，请及时领取。"
    assert dt.datetime.fromisoformat(event.data["not_before"]) == local(2026, 11, 21, 8, 0)
    # and collecting it sends nothing more
    gift_services.gift_order_transition(order=order, to="collected", at=local(2026, 11, 21, 9), actor=None)
    assert sms.sms_from_events(at=local(2026, 11, 21, 9, 0, 5)) == 0
