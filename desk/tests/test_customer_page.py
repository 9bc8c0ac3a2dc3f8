"""The manager's customer page (/dashboard/customers/<msisdn>/): the open retention case with its steps, offers and
buttons, the birthday-gift status, why this tier and the tier history, benefits, the contact timeline (paged), and a
query count that does not grow with the history."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine

from managers.models import ContactLog, Obligation
from managers.tests.helpers import make_manager
from retention import services as retention_services
from retention.models import RetentionCase
from retention.tests.helpers import member, walk
from tiers.models import Tier, TierChange

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 12, 4)
# session, user, roles, customer, assignment, tier, obligations, card, case + steps + offers, gift, tier history
# (count + page), latest run, contacts (count + page), benefits, points, …: whatever the history's length.
CUSTOMER_PAGE_MAX_QUERIES = 45


@pytest.fixture(autouse=True)
def on_today():
    with time_machine.travel(dt.datetime(2026, 12, 4, 9, 30, tzinfo=SHANGHAI), tick=False):
        yield


@pytest.fixture
def manager():
    return make_manager("E700")


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def page(client, customer, **params) -> str:
    response = client.get(f"/dashboard/customers/{customer.msisdn}/", params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def a_case(customer, to: str = "open") -> RetentionCase:
    case, _ = retention_services.closure_request(
        customer=customer, reason="套餐太贵", reason_category="tariff", at=at(dt.date(2026, 12, 1)), source="hotline"
    )
    return walk(case, to)


# --- the retention case ------------------------------------------------------------------------------------


def test_a_member_with_an_open_case_shows_the_case_and_can_move_it(client, manager):
    # given: a member of the manager who asked to leave; the case was contacted
    customer = member(manager=manager, name="陈晓燕")
    case = a_case(customer, "contacted")
    client.force_login(manager.user)

    # when
    html = section(page(client, customer), "case")

    # then: the case, its reason, its steps, the offers of the catalog and the next steps
    assert f'data-case="{case.pk}"' in html and 'data-state="contacted"' in html
    assert "Tariff" in html and "套餐太贵" in html
    assert "Closure request: case opened" in html and "Contacted" in html  # the steps
    assert '<option value="data_bonus">' in html  # an offer to choose
    assert 'name="to" value="offer_made"' in html and 'value="churned"' not in html
    assert f'action="/dashboard/retention/cases/{case.pk}/move/"' in html

    # when: she makes an offer from the customer page
    response = client.post(
        f"/dashboard/retention/cases/{case.pk}/move/",
        {"to": "offer_made", "offer": "data_bonus", "next": f"/dashboard/customers/{customer.msisdn}/"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    # then: back on the customer page, the case shows the offer and the next steps
    assert response.status_code == 302 and response["Location"] == f"/dashboard/customers/{customer.msisdn}/#case"
    case.refresh_from_db()
    assert case.state == "offer_made" and case.offer.code == "data_bonus"
    html = section(page(client, customer), "case")
    assert 'data-state="offer_made"' in html and "Offer made" in html
    assert 'name="to" value="retained"' in html


def test_a_member_without_an_open_case_has_no_case_panel_and_a_closed_case_is_listed_as_history(client, manager):
    customer = member(manager=manager)
    client.force_login(manager.user)
    assert 'id="case"' not in page(client, customer)
    a_case(customer, "retained")
    html = page(client, customer)
    assert 'id="case"' in html and "Retained" in section(html, "case") and 'name="to"' not in section(html, "case")


def test_a_supervisor_reads_the_case_without_buttons(client, django_user_model):
    from managers.tests.helpers import make_supervisor

    boss = make_supervisor("boss-e701")
    manager = make_manager("E701", supervisor=boss)
    customer = member(manager=manager)
    a_case(customer, "contacted")
    client.force_login(boss)
    html = section(page(client, customer), "case")
    assert 'data-state="contacted"' in html and 'name="to"' not in html


def test_a_move_to_another_site_is_not_followed(client, manager):
    customer = member(manager=manager)
    case = a_case(customer)
    client.force_login(manager.user)
    response = client.post(
        f"/dashboard/retention/cases/{case.pk}/move/", {"to": "contacted", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/dashboard/retention/#retention-cases"


# --- the birthday gift ---------------------------------------------------------------------------------------


def test_the_birthday_gift_status_reads_confirmed_open_or_when_it_comes(client, manager):
    # given: one member whose gift was confirmed, one with a gift to confirm, one whose birthday is months away
    confirmed = member(manager=manager, birthday=dt.date(1980, 11, 20))
    Obligation.objects.create(
        customer=confirmed,
        manager=manager,
        kind="birthday_gift",
        period="2026",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 13),
        status="done",
        done_at=at(dt.date(2026, 11, 10)),
        note="gift: 鲜花; time: 周六上午; address: 天河路 1 号",
    )
    to_confirm = member(manager=manager, birthday=dt.date(1985, 12, 20))
    Obligation.objects.create(
        customer=to_confirm,
        manager=manager,
        kind="birthday_gift",
        period="2026",
        opened_on=dt.date(2026, 12, 1),
        due_on=dt.date(2026, 12, 13),
    )
    later = member(manager=manager, birthday=dt.date(1990, 5, 2))
    client.force_login(manager.user)

    # then
    html = section(page(client, confirmed), "birthday")
    assert "Confirmed on 2026-11-10" in html and "鲜花" in html
    html = section(page(client, to_confirm), "birthday")
    assert "To confirm by Dec 13" in html and 'name="g' in html
    html = section(page(client, later), "birthday")
    assert "Next birthday May 2" in html and "gifts" not in html


# --- the tier ----------------------------------------------------------------------------------------------


def history(customer, n: int) -> None:
    """n changes of her tier, a month apart, newest last (gold and silver in turn)."""
    tiers = {t.code: t for t in Tier.objects.all()}
    TierChange.objects.bulk_create(
        TierChange(
            customer=customer,
            from_tier=tiers["silver" if i % 2 else "gold"],
            to_tier=tiers["gold" if i % 2 else "silver"],
            transition="upgraded" if i % 2 else "downgraded",
            reason="score",
            score=1000 + i,
            effective_on=dt.date(2020, 1, 1) + dt.timedelta(days=31 * i),
        )
        for i in range(n)
    )


def contacts(customer, manager, n: int) -> None:
    ContactLog.objects.bulk_create(
        ContactLog(
            customer=customer,
            manager=manager,
            channel="call",
            outcome="reached",
            note=f"通话 {i}",
            occurred_at=at(dt.date(2026, 1, 1)) + dt.timedelta(hours=i),
        )
        for i in range(n)
    )


def test_the_tier_history_and_the_contact_timeline_are_paged_newest_first(client, manager):
    customer = member(manager=manager)
    history(customer, 14)
    contacts(customer, manager, 23)
    client.force_login(manager.user)

    html = page(client, customer)
    tiers = section(html, "tier-history")
    assert tiers.count('class="th-row"') == 8 and "1013" in tiers and "1000" not in tiers
    assert 'href="?th=2#tier-history"' in tiers
    timeline = section(html, "trail")
    assert timeline.count('class="contact"') == 10 and "通话 22" in timeline and "通话 12" not in timeline
    assert '<span class="count">23</span>' in timeline

    html = page(client, customer, tp=3)
    timeline = section(html, "trail")
    assert timeline.count('class="contact"') == 3 and "通话 0" in timeline
    html = page(client, customer, th=2)
    assert "1000" in section(html, "tier-history") and "<details open" in html


def test_why_this_tier_says_nothing_was_rated_before_a_run(client, manager):
    customer = member(manager=manager)
    client.force_login(manager.user)
    assert "No rating run has been applied yet." in section(page(client, customer), "why-tier")


def test_the_query_count_does_not_grow_with_the_history(client, manager, django_assert_max_num_queries):
    counts = {}
    for n in (2, 200):
        customer = member(manager=manager)
        a_case(customer, "declined")
        history(customer, n)
        contacts(customer, manager, n)
        client.force_login(manager.user)
        with django_assert_max_num_queries(CUSTOMER_PAGE_MAX_QUERIES) as captured:
            html = page(client, customer)
        assert f'<span class="count">{n}</span>' in section(html, "trail")
        counts[n] = len(captured.captured_queries)
    assert counts[2] == counts[200], counts
    print(f"customer page queries: {counts}")


# --- names and labels --------------------------------------------------------------------------------------


def test_a_chinese_name_is_family_name_first_in_every_language():
    from core.ui import person_name

    assert person_name("晓燕", "陈") == "陈晓燕"
    assert person_name("婉婷", "欧阳") == "欧阳婉婷"
    assert person_name("Anna", "Berg") == "Anna Berg"
    assert person_name("王丽", "") == "王丽" and person_name("", "") == ""


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_managers_name_reads_family_name_first_on_the_desk_and_in_the_admin(client, manager, language):
    # given: a manager whose login has the given name 晓燕 and the family name 陈, who is staff too
    user = manager.user
    user.first_name, user.last_name, user.is_staff = "晓燕", "陈", True
    user.save()
    client.force_login(user)
    # then: "陈晓燕", never "晓燕 陈", on her desk and in the admin
    for url in ("/dashboard/customers/", "/admin/"):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert "陈晓燕" in html and "晓燕 陈" not in html, url


def test_every_input_of_the_case_and_the_card_has_a_label_and_the_card_name_shows_once(client, manager):
    # given: a member whose case was declined (the next step may be a home visit) and whose card data is collected
    customer = member(manager=manager, name="黄婉婷")
    a_case(customer, "declined")
    client.force_login(manager.user)
    client.post(f"/dashboard/customers/{customer.msisdn}/card/", {"action": "start"})
    client.post(f"/dashboard/customers/{customer.msisdn}/card/", {"action": "collect", "card_name": "黄婉婷"})

    # when
    html = client.get(f"/dashboard/customers/{customer.msisdn}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    # then: the home-visit date has its label, and so has every other field of the page
    case = section(html, "case")
    assert re.search(r'<label class="field">上门拜访日期<input type="date" name="visit_on"></label>', case), case
    for field in re.finditer(r"<(input|select|textarea)\b[^>]*>", html):
        tag = field.group(0)
        if 'type="hidden"' in tag:
            continue
        opened = html.rfind("<label", 0, field.start())
        assert opened > html.rfind("</label>", 0, field.start()), f"no label around {tag}"
    # the card being collected shows 卡面姓名 once: the form's field, not also the card's facts
    assert section(html, "card").count("卡面姓名") == 1


def test_an_overdue_customer_reads_days_late_in_the_list(client, manager):
    # given: one member with an item 3 days overdue, one with an item due next week
    late = member(manager=manager, name="逾期者")
    Obligation.objects.create(
        customer=late,
        manager=manager,
        kind="periodic_contact",
        period="2026-11",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 12, 1),
        status="overdue",
        overdue_since=dt.date(2026, 12, 2),
    )
    later = member(manager=manager, name="按时者")
    Obligation.objects.create(
        customer=later,
        manager=manager,
        kind="periodic_contact",
        period="2026-12",
        opened_on=dt.date(2026, 12, 1),
        due_on=dt.date(2026, 12, 10),
    )
    client.force_login(manager.user)
    # when
    html = client.get("/dashboard/customers/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    # then
    row = html[html.index("逾期者") : html.index("</a>", html.index("逾期者"))]
    assert "逾期 3 天" in row and "下次到期" not in row
    row = html[html.index("按时者") : html.index("</a>", html.index("按时者"))]
    assert "下次到期 12月10日" in row
