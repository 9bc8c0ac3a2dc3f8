"""A gift for points on the desk in a real browser (issue 19's gaps): the member's gift arrived at the hall; her manager,
on her phone (390×844, zh-hans), finds it on the tab "礼品" at the top, opens the order and records it handed over;
the order is collected and the obligation to tell her is done. Screenshot of the tab: docs/screenshots/
desk-gifts-zh-hans.png."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from managers.models import Obligation
from managers.tests.helpers import make_manager, make_member
from service import gift_services
from service.factories import give_points, make_gift, place
from service.models import GiftOrder

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
MANAGER_PASSWORD = "pw-Secret-123"  # managers.tests.helpers.make_manager's
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_a_manager_hands_over_an_arrived_gift_from_her_phone(live_server, browser):
    # given a gold member whose film tickets arrived at the hall an hour ago, and another order of hers on its way
    manager = make_manager("E720")
    member = make_member(tier="gold", manager=manager, msisdn="13900000720", name="王芳")
    today = timezone.localdate()
    give_points(member, [(today.year, 5000)], on=today)
    now = timezone.now()
    order = place(member, make_gift("film", points=300), at=now - dt.timedelta(days=3))
    for i, state in enumerate(("shipped", "arrived")):
        order = gift_services.gift_order_transition(
            order=order, to=state, at=now - dt.timedelta(hours=2 - i), actor=None
        )
    place(member, make_gift("tea", name_zh="明前龙井", name_en="Longjing tea", points=800), at=now)

    context = browser.new_context(
        viewport=PHONE,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}/accounts/login/")
        phone.fill("input[name=username]", manager.user.username)
        phone.fill("input[name=password]", MANAGER_PASSWORD)
        phone.click("form.login button[type=submit]")
        phone.wait_for_load_state()
        # when she opens the tab 礼品: the gift at the hall comes first, with its step; the tea is ordered
        phone.locator("nav.tabs a[data-tab=gifts]").click()
        expect(phone.locator("html")).to_have_attribute("lang", "zh-hans")
        rows = phone.locator("#desk-gifts li[data-gift-order]")
        expect(rows).to_have_count(2)
        first = rows.first
        expect(first).to_have_attribute("data-gift-order", str(order.pk))
        expect(first).to_contain_text("电影票两张")
        expect(first.locator("button[data-move=collected]")).to_have_text("已交给会员")
        expect(phone.locator("#desk-gifts")).to_contain_text("已到营业厅：通知会员并交给她")
        # nothing is wider than the phone, and the button is big enough for a thumb
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert first.locator("button[data-move=collected]").bounding_box()["height"] >= 44
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "desk-gifts-zh-hans.png"))
        phone.screenshot(path="/tmp/i19gaps-desk-gifts.png")
        # she opens the order and taps 已交给会员
        first.locator("a.who").click()
        expect(phone.locator("#gift-order-state")).to_have_text("已到营业厅")
        phone.locator("#gift-order-move button[data-move=collected]").click()
        # then the order is collected, said on the page, and she no longer owes the news
        expect(phone.locator("#gift-order-state")).to_have_text("已领取")
        expect(phone.locator("body")).to_contain_text(f"王芳 的礼品订单 #{order.pk}：已领取。")
        expect(phone.locator("#gift-order-steps")).to_contain_text("系统")
        expect(phone.locator("#gift-order-steps")).not_to_contain_text("system")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path="/tmp/i19gaps-desk-gift-order.png")
    finally:
        context.close()
    order = GiftOrder.objects.get(pk=order.pk)
    assert order.state == "collected" and order.steps.latest("at", "id").actor == manager.user
    assert Obligation.objects.get(kind="gift_arrived", period=f"gift{order.pk}").status == "done"
