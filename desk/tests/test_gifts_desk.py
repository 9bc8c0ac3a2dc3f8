"""Gift orders on the manager's desk (issue 19's gaps): the tab "Gifts" lists her members' orders that need her — at
the hall, mailed, a voucher's deadline near, ordered — with their counts; the obligation that tells her a gift
arrived sits in her queue and leads to the order; from the phone she records the gift handed over (or received by
mail) through the order's state machine; a colleague's member's order is neither shown nor movable."""

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation

from core.models import ActionLog
from managers.models import Notification, Obligation
from managers.tests.helpers import make_manager, make_member, make_supervisor
from service import gift_services
from service.factories import give_points, make_gift, place
from service.models import GiftOrder

pytestmark = pytest.mark.django_db


def move(order, *states, at):
    for i, state in enumerate(states, start=1):
        order = gift_services.gift_order_transition(order=order, to=state, at=at + dt.timedelta(minutes=i), actor=None)
    return order


# a Wednesday morning in the club's zone, a working day: the arrival is due today, in her queue
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(autouse=True)
def club_morning():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def desk():
    """王芳 (AM1's member) with five orders in every desk state and a collected one; 李娜 (AM2's, same branch
    supervisor) with an order at the hall."""
    now = timezone.now()
    today = timezone.localdate()
    boss = make_supervisor("boss-gz")
    am1 = make_manager("AM1", supervisor=boss)
    am2 = make_manager("AM2", supervisor=boss, region=am1.region)
    wang = make_member(tier="gold", manager=am1, msisdn="13900000001", name="王芳")
    li = make_member(tier="gold", manager=am2, msisdn="13900000002", name="李娜")
    for member in (wang, li):
        give_points(member, [(today.year, 20_000)], on=today)
    earlier = now - dt.timedelta(days=20)
    film = make_gift("film", points=300, stock=50)
    orders = {
        "arrived": move(place(wang, film, at=earlier), "shipped", "arrived", at=now - dt.timedelta(hours=2)),
        "mailed": move(place(wang, film, at=earlier, delivery="mail"), "mailed", at=now - dt.timedelta(hours=3)),
        # a voucher valid 30 days, ordered 20 days ago: 10 days left
        "voucher": move(
            place(
                wang, make_gift("spa", name_zh="SPA体验券", name_en="Spa voucher", voucher_valid_days=30), at=earlier
            ),
            "shipped",
            "arrived",
            "collected",
            at=earlier,
        ),
        "placed": place(wang, film, at=now - dt.timedelta(hours=1)),
        "collected": move(place(wang, film, at=earlier), "shipped", "arrived", "collected", at=earlier),
        "colleague": move(place(li, film, at=earlier), "shipped", "arrived", at=now - dt.timedelta(hours=2)),
    }
    return {"boss": boss, "am1": am1, "am2": am2, "wang": wang, "li": li, "orders": orders}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, url: str, lang: str = "en") -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_her_gifts_tab_lists_what_needs_her_in_sections_and_not_a_colleagues(desk):
    orders = desk["orders"]
    html = page(login(desk["am1"].user), "/dashboard/gifts/")
    # the tab is there, current
    assert re.search(r'data-tab="gifts" aria-current="page"', html)
    # her four orders that need her, in their sections' order: at the hall, mailed, voucher near, ordered
    shown = [int(n) for n in re.findall(r'data-gift-order="(\d+)"', html)]
    assert shown == [orders[k].pk for k in ("arrived", "mailed", "voucher", "placed")]
    words = text(html)
    assert "1 at the hall · 1 mailed · 1 vouchers near their deadline · 1 ordered" in words
    assert words.index("At the hall: hand it over and tell her") < words.index("Mailed: confirm she received it")
    assert words.index("Voucher deadline near") < words.index("Ordered 1")
    assert "voucher: 10 days left" in words and "Spa voucher" in words
    # the collected order (no voucher) and her colleague's member's order are not there
    assert f'data-gift-order="{orders["collected"].pk}"' not in html
    assert f'data-gift-order="{orders["colleague"].pk}"' not in html and "李娜" not in html
    # and a gift at the hall offers "Handed over", a mailed one "She received it", an ordered one nothing
    assert re.search(rf'id="gift-order-{orders["arrived"].pk}".*?data-move="collected"', html, re.S)
    assert re.search(rf'id="gift-order-{orders["mailed"].pk}".*?data-move="received"', html, re.S)
    placed = html[html.index(f'id="gift-order-{orders["placed"].pk}"') :]
    assert "data-move" not in placed[: placed.index("</li>")]
    # in Chinese
    zh = text(page(login(desk["am1"].user), "/dashboard/gifts/", "zh-hans"))
    assert "需要您处理的礼品订单" in zh and "已到营业厅：通知会员并交给她" in zh and "券还剩 10 天" in zh
    assert "电影票两张" in zh and "SPA体验券" in zh and "已交给会员" in zh and "Handed over" not in zh


def test_the_arrival_is_in_her_queue_and_she_hands_the_gift_over_from_the_phone(desk):
    client = login(desk["am1"].user)
    order = desk["orders"]["arrived"]
    # given the gift arrived: her queue holds "tell her", leading to the order; so does the notification
    queue = page(client, "/dashboard/")
    item = queue[queue.index('data-kind="gift_arrived"') :]
    item = item[: item.index("</li>")]
    assert f'href="/dashboard/gifts/{order.pk}/"' in item and "王芳" in item
    assert "Gift arrived: tell her" in text(item) and "电影票两张" in text(item)
    note = Notification.objects.get(user=desk["am1"].user, kind=f"gift:{order.pk}:arrived")
    assert client.post(f"/dashboard/notifications/{note.pk}/open/")["Location"] == f"/dashboard/gifts/{order.pk}/"
    # the order's page: the gift, the member, the step she may record
    detail = page(client, f"/dashboard/gifts/{order.pk}/")
    assert "Arrived at the hall" in text(detail) and 'data-move="collected"' in detail
    # when she taps "Handed over" on her list
    response = client.post(
        f"/dashboard/gifts/{order.pk}/move/",
        {"to": "collected", "next": "/dashboard/gifts/"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/gifts/"
    # then the order is collected, by her, audited; the obligation is done; the list says so and drops it
    order.refresh_from_db()
    assert order.state == "collected" and order.collected_at is not None
    step = order.steps.latest("at", "id")
    assert (step.to_state, step.actor) == ("collected", desk["am1"].user)
    audit = ActionLog.objects.filter(action="gift_order_moved", object_id=str(order.pk)).latest("id")
    assert (audit.actor, audit.details["to_state"]) == (desk["am1"].user.username, "collected")
    assert Obligation.objects.get(kind="gift_arrived", period=f"gift{order.pk}").status == "done"
    after = page(client, "/dashboard/gifts/")
    assert f"Gift order #{order.pk} of 王芳: Collected." in text(after)
    assert f'data-gift-order="{order.pk}"' not in after


def test_a_mailed_gift_is_confirmed_and_a_step_the_desk_does_not_record_is_refused(desk):
    client = login(desk["am1"].user)
    mailed, placed = desk["orders"]["mailed"], desk["orders"]["placed"]
    with translation.override("en"):
        # a step the state machine refuses (a mailed gift is not "handed over" at the hall): said, nothing changes
        response = client.post(f"/dashboard/gifts/{mailed.pk}/move/", {"to": "collected"}, follow=True)
        assert "cannot move there now; allowed: Received by mail" in text(response.content.decode())
        assert GiftOrder.objects.get(pk=mailed.pk).state == "mailed"
        # a step that is not the desk's (cancelling returns points: staff do it in the admin): refused
        response = client.post(f"/dashboard/gifts/{placed.pk}/move/", {"to": "cancelled"}, follow=True)
        assert "The desk records only a gift handed over or received by mail." in text(response.content.decode())
        assert GiftOrder.objects.get(pk=placed.pk).state == "placed"
        # she confirms the mailed gift received, from its page
        response = client.post(f"/dashboard/gifts/{mailed.pk}/move/", {"to": "received"})
        assert response["Location"] == f"/dashboard/gifts/{mailed.pk}/"
    assert GiftOrder.objects.get(pk=mailed.pk).state == "received"
    # a GET does not move anything
    assert client.get(f"/dashboard/gifts/{placed.pk}/move/").status_code == 405


def test_a_colleagues_members_order_is_not_found_and_not_moved(desk):
    theirs = desk["orders"]["colleague"]
    client = login(desk["am1"].user)
    # her colleague's member's order: 404 on its page and on the step, and it stays where it was
    assert client.get(f"/dashboard/gifts/{theirs.pk}/").status_code == 404
    assert client.post(f"/dashboard/gifts/{theirs.pk}/move/", {"to": "collected"}).status_code == 404
    assert client.get(f"/dashboard/gifts/{2**63}/").status_code == 404
    assert GiftOrder.objects.get(pk=theirs.pk).state == "arrived"
    # her colleague sees and moves it
    assert 'data-move="collected"' in page(login(desk["am2"].user), f"/dashboard/gifts/{theirs.pk}/")
    # somebody without a desk role gets the desk's 403 page, on the list and on the step
    from django.contrib.auth import get_user_model

    nobody = login(get_user_model().objects.create_user(username="clerk"))
    assert nobody.get("/dashboard/gifts/").status_code == 403
    assert nobody.post(f"/dashboard/gifts/{theirs.pk}/move/", {"to": "collected"}).status_code == 403


def test_the_customer_page_lists_her_orders_and_the_supervisor_sees_her_branches(desk):
    wang, orders = desk["wang"], desk["orders"]
    # her manager: the panel lists her latest 5 of 5 orders with the step on the one at the hall
    html = page(login(desk["am1"].user), f"/dashboard/customers/{wang.msisdn}/")
    panel = html[html.index('id="gift-orders"') :]
    panel = panel[: panel.index("</section>")]
    assert len(re.findall(r'data-gift-order="\d+"', panel)) == 5
    assert 'data-move="collected"' in panel and f'value="/dashboard/customers/{wang.msisdn}/#gift-orders"' in panel
    # and the open obligation of the arrival links to the order
    assert f'href="/dashboard/gifts/{orders["arrived"].pk}/"' in html[html.index('id="open"') :]
    # the supervisor: both managers' members' orders on the list, read-only member pages without the step
    boss = login(desk["boss"])
    listing = page(boss, "/dashboard/gifts/")
    assert f'data-gift-order="{orders["colleague"].pk}"' in listing and "李娜" in listing
    member_page = page(boss, f"/dashboard/customers/{wang.msisdn}/")
    panel = member_page[member_page.index('id="gift-orders"') :]
    assert "data-move" not in panel[: panel.index("</section>")]


def test_a_supervisor_reaches_complaints_and_gifts_from_her_tabs(desk):
    # a supervisor who manages nobody: her tabs are her team, complaints and gifts; the open page is the current tab
    boss = login(desk["boss"])
    html = page(boss, "/dashboard/gifts/", lang="zh-hans")
    tabs = html[html.index('<nav class="tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    assert re.findall(r'data-tab="(\w+)"', tabs) == ["team", "complaints", "gifts"]
    assert re.search(r'data-tab="gifts" aria-current="page">礼品<', tabs)
    tabs = page(boss, "/dashboard/complaints/")
    assert re.search(r'data-tab="complaints" aria-current="page">Complaints<', tabs)
    # her managers keep their own row of tabs, complaints and gifts once
    mine = page(login(desk["am1"].user), "/dashboard/gifts/")
    mine = mine[mine.index('<nav class="tabs"') :]
    assert re.findall(r'data-tab="(\w+)"', mine).count("gifts") == 1
