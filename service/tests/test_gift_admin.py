"""The gifts' admin: the catalog (stock only added, never overwritten), orders moved by a list action or from their
page, a voucher extended with a reason; a supervisor sees her branch's orders only."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from customers.factories import RegionFactory
from managers.tests.helpers import make_manager, make_member, make_supervisor
from points.tests.helpers import assert_ledger_sound, balance
from service import gift_services
from service.factories import give_points, make_gift, place
from service.models import Gift, GiftOrder

pytestmark = pytest.mark.django_db


@pytest.fixture
def branch():
    gz = RegionFactory(code="GZ", name="广州", province="广东")
    sz = RegionFactory(code="SZ", name="深圳", province="广东")
    boss = make_supervisor("boss-gz")
    manager = make_manager("AM1", region=gz, supervisor=boss)
    member = make_member(tier="gold", region=gz, manager=manager, msisdn="13900000001")
    other = make_member(tier="gold", region=sz, manager=make_manager("AM9", region=sz), msisdn="13900000009")
    for m in (member, other):
        give_points(m, [(2026, 1000)], on=timezone.localdate())
    client = Client()
    client.force_login(boss)
    return boss, member, other, client


def test_the_catalog_adds_stock_without_overwriting_orders(admin_client):
    # given a gift with 10 in stock, of which an order took 3 meanwhile
    gift = make_gift(stock=10)
    Gift.objects.filter(pk=gift.pk).update(stock=7)
    url = reverse("admin:service_gift_change", args=[gift.pk])
    form = {
        "code": "film",
        "name_zh": "电影票两张",
        "name_en": "Two film tickets",
        "points": "350",
        "delivery": "both",
        "voucher_valid_days": "",
        "active": "on",
        "add_stock": "5",
    }
    # when staff (whose form still said 10) change the price and add 5
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:500]
    # then the stock is 7 + 5, the price changed
    gift.refresh_from_db()
    assert (gift.stock, gift.points) == (12, 350)


def test_a_supervisor_moves_her_branchs_orders_and_extends_a_voucher(branch):
    boss, member, other, client = branch
    gift = make_gift("voucher", voucher_valid_days=30)
    now = timezone.now() - dt.timedelta(hours=1)
    mine, theirs = place(member, gift, at=now), place(other, gift, at=now)
    changelist = reverse("admin:service_giftorder_changelist")
    # her list holds her branch's order only
    listed = {o.pk for o in client.get(changelist).context_data["cl"].result_list}
    assert listed == {mine.pk}
    # when she ships and then cancels it with the list's actions
    for action in ("ship", "cancel"):
        client.post(changelist, {"action": action, "_selected_action": [mine.pk]})
    # then the order is cancelled, her points and the stock are back
    assert GiftOrder.objects.get(pk=mine.pk).state == "cancelled"
    assert balance(member) == 1000 and Gift.objects.get(pk=gift.pk).stock == 9
    assert_ledger_sound()
    # the other branch's order is not hers to open or move
    assert client.get(reverse("admin:service_giftorder_change", args=[theirs.pk])).status_code in (302, 404)
    assert client.post(reverse("admin:service_giftorder_move", args=[theirs.pk]), {"to": "shipped"}).status_code == 404
    # a new voucher order: its page offers the move and the extension, in Chinese
    fresh = place(member, gift, at=now)
    with translation.override("zh-hans"):
        page = client.get(reverse("admin:service_giftorder_change", args=[fresh.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="gift-order-move"' in html and 'id="gift-order-voucher"' in html
    assert "变更礼品订单状态" in html and "延长兑换券" in html and "已下单" in html
    until = fresh.voucher_valid_until + dt.timedelta(days=7)
    response = client.post(
        reverse("admin:service_giftorder_voucher", args=[fresh.pk]),
        {"until": until.isoformat(), "reason": "投诉后延期7天"},
    )
    assert response.status_code == 302
    assert GiftOrder.objects.get(pk=fresh.pk).voucher_valid_until == until


def test_a_catalog_change_is_on_the_audit_trail(admin_client):
    # given a gift, when staff change its price in the admin
    gift = make_gift(points=300)
    form = {"code": "film", "name_zh": "电影票两张", "name_en": "Two film tickets", "points": "320"}
    form |= {"delivery": "both", "voucher_valid_days": "", "active": "on", "add_stock": "0"}
    assert admin_client.post(reverse("admin:service_gift_change", args=[gift.pk]), form).status_code == 302
    # then the audit trail shows the price before and after
    html = admin_client.get("/admin/audit/").content.decode()
    assert "300 → 320" in html


def test_a_list_action_moves_the_orders_it_can_and_names_each_one_it_cannot(branch):
    boss, member, _other, client = branch
    gift = make_gift("voucher", voucher_valid_days=30)
    now = timezone.now() - dt.timedelta(hours=1)
    placed, cancelled = place(member, gift, at=now), place(member, gift, at=now)
    gift_services.gift_order_transition(order=cancelled, to="cancelled", at=now, actor=boss)
    # when she ships both with the list's action
    with translation.override("en"):
        response = client.post(
            reverse("admin:service_giftorder_changelist"),
            {"action": "ship", "_selected_action": [placed.pk, cancelled.pk]},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="en",
        )
    # then the placed one is shipped, the cancelled one stays; she reads which one did not move and why
    assert GiftOrder.objects.get(pk=placed.pk).state == "shipped"
    assert GiftOrder.objects.get(pk=cancelled.pk).state == "cancelled"
    assert [str(m) for m in response.context["messages"]] == [
        f"#{cancelled.pk}: This gift order cannot move there now; allowed: —.",
        "1 gift orders moved to “Shipped to the hall”.",
    ]
