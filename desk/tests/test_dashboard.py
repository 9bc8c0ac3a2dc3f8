"""The account manager's desk (/dashboard/: the work queue, and its tabs): what each shows, quick contact logging
with htmx, scope, the supervisor's team view and reviews, languages, and a query count that does not grow with the
members. (The queue's order, counts, paging and undo: test_queue.py.)"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import CustomerFactory, RegionFactory, make_id_number
from customers.models import Customer
from managers.models import (
    AccountManager,
    Assignment,
    ContactLog,
    MembershipCard,
    Notification,
    Obligation,
    PlanStatus,
    ServicePlan,
    WorkLog,
)
from managers.tests.helpers import make_supervisor
from tiers.models import CustomerTier, Tier

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 6, 10)  # a Wednesday; the week ends on Sunday 14 June
PASSWORD = "Dash-board-pass-1"
# The queue's queries (session, user, roles, counts, the page, filters, calendar, compliance, the tabs' counts, the
# notifications), whatever the member count.
DASHBOARD_MAX_QUERIES = 16
CUSTOMER_LIST_MAX_QUERIES = 16


@pytest.fixture(autouse=True)
def on_today():
    with time_machine.travel(dt.datetime(2026, 6, 10, 9, 30, tzinfo=SHANGHAI), tick=False):
        yield


def make_manager(employee_no: str, *, supervisor=None, name=None, region=None) -> AccountManager:
    user = get_user_model().objects.create_user(username=employee_no.lower(), password=PASSWORD)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    return AccountManager.objects.create(
        user=user,
        employee_no=employee_no,
        name=name or f"经理{employee_no}",
        region=region or RegionFactory(),
        supervisor=supervisor,
    )


def make_member(manager: AccountManager, *, tier="gold", started_on=dt.date(2026, 1, 5), **fields) -> Customer:
    fields.setdefault("birthday", dt.date(1985, 1, 20))  # far from TODAY's week
    customer = CustomerFactory(region=manager.region, **fields)
    CustomerTier.objects.create(
        customer=customer, tier=Tier.objects.get(code=tier), source="score", since=dt.date(2026, 1, 1)
    )
    Assignment.objects.create(
        customer=customer, manager=manager, started_on=started_on, reason="new_member" if started_on else "reassigned"
    )
    return customer


def make_obligation(customer, manager, *, kind="periodic_contact", due=TODAY, status="open", **fields) -> Obligation:
    return Obligation.objects.create(
        customer=customer,
        manager=manager,
        kind=kind,
        period=fields.pop("period", due.isoformat()),
        opened_on=fields.pop("opened_on", due - dt.timedelta(days=20)),
        due_on=due,
        status=status,
        overdue_since=due + dt.timedelta(days=1) if status == "overdue" else None,
        **fields,
    )


def section(html: str, section_id: str) -> str:
    """The HTML of one <section id=…> of the page (sections do not nest)."""
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def without_urls(html: str) -> str:
    """The page without the msisdns inside its links and form targets (the visible text keeps them masked)."""
    return re.sub(r"/dashboard/(customers|contact)/\d{11}/", "", html)


def login(client, manager_or_user):
    user = getattr(manager_or_user, "user", manager_or_user)
    client.force_login(user)
    return client


@pytest.fixture
def manager():
    return make_manager("E100", name="王经理")


# --- the sections ------------------------------------------------------------------------------------------


def test_dashboard_sections_show_the_right_items(client, manager):
    # given: a manager with obligations in every state, birthdays, a new member, a card and notifications
    late = make_member(manager, name="逾期客户", msisdn="13900000001")
    today = make_member(manager, name="今天客户", msisdn="13900000002", tier="diamond")
    friday = make_member(manager, name="周五客户", msisdn="13900000003")
    next_week = make_member(manager, name="下周客户", msisdn="13900000004")
    done = make_member(manager, name="已办客户", msisdn="13900000005")
    make_obligation(late, manager, due=dt.date(2026, 6, 7), status="overdue")
    make_obligation(today, manager, kind="first_contact", due=TODAY)
    make_obligation(friday, manager, due=dt.date(2026, 6, 12))
    make_obligation(next_week, manager, due=dt.date(2026, 6, 16))
    make_obligation(
        done,
        manager,
        due=dt.date(2026, 6, 5),
        status="done",
        done_at=dt.datetime(2026, 6, 4, 10, tzinfo=SHANGHAI),
    )
    other = make_manager("E200", region=manager.region)
    stranger = make_member(other, name="别人客户", msisdn="13900000009")
    make_obligation(stranger, other, due=dt.date(2026, 6, 8), status="overdue")
    make_member(manager, name="寿星客户", msisdn="13900000006", birthday=dt.date(1985, 6, 13), tier="silver")
    make_member(manager, name="远寿星", msisdn="13900000007", birthday=dt.date(1985, 6, 25))
    newcomer = make_member(manager, name="新会员", msisdn="13900000008", started_on=dt.date(2026, 6, 2))
    MembershipCard.objects.create(customer=newcomer, tier=Tier.objects.get(code="gold"), state="at_maker")
    for kind, read_at in (("a", None), ("b", None), ("c", timezone.now())):
        Notification.objects.create(user=manager.user, kind=kind, text="x", day=TODAY, read_at=read_at)

    # when
    response = login(client, manager).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en")

    # then: the queue has the overdue item first (days late), then due today, then this week
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<li class="qi( late)?" id="ob-\d+".*?</li>', html, re.S)
    queue = re.findall(r'<li class="qi[^"]*" id="ob-\d+".*?<a class="who"[^>]*>([^<]+)</a>', html, re.S)
    assert queue == ["逾期客户", "今天客户", "周五客户"] and rows[0] == " late"
    first = html[html.index('id="section-0"') : html.index('id="section-1"')]
    assert "Periodic contact" in first and "3 days late" in first and 'href="tel:13900000001"' in first
    assert "First contact" in html[html.index('id="section-1"') : html.index('id="section-2"')]
    assert "Jun 12" in html[html.index('id="section-2"') :]
    for absent in ("下周客户", "已办客户", "别人客户"):
        assert absent not in html
    assert "compliance 33.3%" in html  # due up to today: done on time, overdue, open
    assert re.search(r'id="bell" href="/dashboard/notifications/">.*?<span class="badge"[^>]*>2</span>', html, re.S)
    # and the tabs: birthdays, cards, members by tier, each on its own page, numbers masked
    birthdays = section(client.get("/dashboard/birthdays/", HTTP_ACCEPT_LANGUAGE="en").content.decode(), "birthdays")
    assert "寿星客户" in birthdays and "Jun 13" in birthdays and "远寿星" not in birthdays
    assert "13900000006" not in without_urls(birthdays) and "139****0006" in birthdays
    cards = section(client.get("/dashboard/cards/", HTTP_ACCEPT_LANGUAGE="en").content.decode(), "cards")
    assert "新会员" in cards and "Sent to the card maker" in cards
    html = client.get("/dashboard/customers/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chart = section(html, "by-tier")
    assert '<svg class="tier-chart"' in chart
    assert 'data-tier="gold" data-members="6"' in chart
    assert 'data-tier="diamond" data-members="1"' in chart and 'data-tier="silver" data-members="1"' in chart
    assert "calendar-warning" not in html  # 2026 is in the working-day calendar
    assert "django_htmx/htmx-2.min.js" in html and "unpkg" not in html and "cdn" not in html.lower()


def test_a_29_february_birthday_is_in_the_birthday_list_on_28_february_of_a_common_year(client, manager):
    # given a member born on 29 February (her gift is due 25 February 2027, three days before 28 February)
    make_member(manager, name="闰日寿星", msisdn="13900000010", birthday=dt.date(1992, 2, 29))

    # when her manager opens the dashboard on Monday 22 February 2027, and on Tuesday 22 February 2028
    pages = []
    for day in (dt.datetime(2027, 2, 22, 9, tzinfo=SHANGHAI), dt.datetime(2028, 2, 22, 9, tzinfo=SHANGHAI)):
        with time_machine.travel(day, tick=False):
            pages.append(
                login(client, manager).get("/dashboard/birthdays/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
            )

    # then her birthday is listed on 28 February in the common year and on 29 February in the leap year
    common, leap = (section(html, "birthdays") for html in pages)
    assert "闰日寿星" in common and "Feb 28" in common
    assert "闰日寿星" in leap and "Feb 29" in leap


def test_dashboard_warns_when_next_years_calendar_is_missing(client, manager):
    # given: 21 November 2026; the chinesecalendar package does not know 2027 and staff have not loaded it
    with time_machine.travel(dt.datetime(2026, 11, 21, 9, tzinfo=SHANGHAI), tick=False):
        # when
        html = login(client, manager).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then
    assert "The working-day calendar for 2027 is not loaded; deadlines fall back to Monday–Friday." in html


# --- logging a contact -------------------------------------------------------------------------------------


def test_quick_log_closes_the_obligation_and_it_leaves_the_list(client, manager):
    # given: an overdue periodic contact
    customer = make_member(manager, name="张三", msisdn="13811112222")
    obligation = make_obligation(customer, manager, due=dt.date(2026, 6, 8), status="overdue")
    other = make_obligation(make_member(manager, name="李四"), manager, due=dt.date(2026, 6, 9), status="overdue")
    login(client, manager)
    assert f'id="ob-{obligation.pk}"' in client.get("/dashboard/").content.decode()

    # when: one tap on "reached", through htmx, with a note
    response = client.post(
        "/dashboard/queue/log/13811112222/",
        {"result": "call:reached", "note": "约了下周见面"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    # then: the obligation is done, the trail has the contact, and the re-rendered sections no longer list it
    assert response.status_code == 200
    obligation.refresh_from_db()
    assert obligation.status == "done"
    log = ContactLog.objects.get(customer=customer)
    assert (log.channel, log.outcome, log.note, log.source, log.logged_by) == (
        "call",
        "reached",
        "约了下周见面",
        "dashboard",
        manager.user,
    )
    assert obligation.done_by == log
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="queue"')  # the swap target, not a whole page
    assert "<html" not in html
    assert f'id="ob-{obligation.pk}"' not in html and f'id="ob-{other.pk}"' in html
    assert 'id="count-overdue" href="?"><span class="num">1</span>' in html  # the figures are refreshed too
    assert "Contact with 张三 logged; 1 obligation closed." in html
    # and a reload agrees
    assert f'id="ob-{obligation.pk}"' not in client.get("/dashboard/").content.decode()


def test_quick_log_without_htmx_redirects_back_to_the_dashboard(client, manager):
    # given
    customer = make_member(manager, msisdn="13811113333")
    obligation = make_obligation(customer, manager, kind="first_contact")
    # when: SMS sent, as a plain form post (the customer page's form)
    response = login(client, manager).post("/dashboard/contact/13811113333/", {"result": "sms:no_answer"})
    # then: a first contact by SMS is done, and a first call is opened
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    obligation.refresh_from_db()
    assert obligation.status == "done"
    assert Obligation.objects.filter(customer=customer, kind="first_call", status="open").exists()


def test_a_contact_that_closes_nothing_keeps_the_obligation_listed(client, manager):
    # given: a periodic contact needs a contact that reaches the member
    customer = make_member(manager, name="王五", msisdn="13811114444")
    obligation = make_obligation(customer, manager)
    # when: no answer
    response = login(client, manager).post(
        "/dashboard/queue/log/13811114444/",
        {"result": "call:no_answer"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # then: it stays due today, and the manager is told
    html = response.content.decode()
    assert f'id="ob-{obligation.pk}"' in html[html.index('id="section-1"') :]
    assert "it closes no open obligation" in html
    assert ContactLog.objects.filter(customer=customer, outcome="no_answer").count() == 1


def test_an_invalid_quick_log_changes_nothing_and_says_why(client, manager):
    make_member(manager, msisdn="13811115555")
    response = login(client, manager).post(
        "/dashboard/queue/log/13811115555/", {"result": "fax:sent"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "Select a valid choice. fax:sent is not one of the available choices." in response.content.decode()
    assert not ContactLog.objects.exists()


# --- scope and access --------------------------------------------------------------------------------------


def test_another_managers_customer_is_404_on_the_page_and_for_the_quick_log(client, manager):
    # given: a customer served by another manager
    other = make_manager("E300", region=manager.region)
    theirs = make_member(other, msisdn="13822223333")
    obligation = make_obligation(theirs, other, status="overdue", due=dt.date(2026, 6, 1))
    login(client, manager)
    # when / then
    assert client.get("/dashboard/customers/13822223333/").status_code == 404
    assert client.post("/dashboard/contact/13822223333/", {"result": "call:reached"}).status_code == 404
    response = client.post("/dashboard/queue/log/13822223333/", {"result": "call:reached"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert client.post("/dashboard/customers/13822223333/card/", {"action": "start"}).status_code == 404
    assert client.get("/dashboard/customers/13899999999/").status_code == 404  # nobody's
    obligation.refresh_from_db()
    assert obligation.status == "overdue" and not ContactLog.objects.exists()


def test_a_plain_user_gets_a_friendly_403(client, django_user_model):
    # given: a login that is neither a manager nor a supervisor
    user = django_user_model.objects.create_user(username="hall-clerk", password=PASSWORD)
    login(client, user)
    # when / then
    for url in ("/dashboard/", "/dashboard/customers/", "/dashboard/plans/", "/dashboard/team/"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403, url
        assert "This page is for account managers" in response.content.decode()
        assert "hall-clerk" in response.content.decode()
    assert client.post("/dashboard/contact/13800000000/", {"result": "call:reached"}).status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_manager_who_is_not_a_supervisor_gets_403_on_the_team_page(client, manager):
    assert login(client, manager).get("/dashboard/team/").status_code == 403


def test_the_home_page_sends_a_manager_to_the_dashboard(client, manager):
    response = login(client, manager).get("/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


# --- my customers ------------------------------------------------------------------------------------------


def test_my_customers_filters_searches_and_masks(client, manager):
    # given
    make_member(manager, name="张伟", msisdn="13855550001", tier="gold")
    make_member(manager, name="张敏", msisdn="13955550002", tier="diamond")
    make_member(
        manager, name="李娜", msisdn="13855550003", tier="silver", status="suspended", suspension_kind="arrears"
    )
    make_member(make_manager("E400", region=manager.region), name="张外人", msisdn="13855550004")
    login(client, manager)

    def names(**params):
        html = client.get("/dashboard/customers/", params, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        return {n for n in ("张伟", "张敏", "李娜", "张外人") if n in html}, html

    # when / then
    everyone, html = names()
    assert everyone == {"张伟", "张敏", "李娜"}
    assert "138****0001" in html and "13855550001" not in without_urls(html)
    assert names(q="138")[0] == {"张伟", "李娜"}
    assert names(q="张")[0] == {"张伟", "张敏"}
    assert names(tier="diamond")[0] == {"张敏"}
    assert names(status="suspended")[0] == {"李娜"}


def test_my_customers_are_paginated(client, manager):
    for i in range(30):
        make_member(manager, name=f"客户{i:02d}", msisdn=f"137000000{i:02d}")
    login(client, manager)
    first = client.get("/dashboard/customers/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    second = client.get("/dashboard/customers/", {"page": 2}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "30 customers" in first and "Page 1 of 2" in first and "page=2" in first
    assert first.count('class="cust-row') == 25 and second.count('class="cust-row') == 5


def test_customer_page_shows_tier_obligations_trail_card_and_gift(client, manager):
    # given: a gold member with an open birthday gift, a contact and a card at the maker
    customer = make_member(manager, name="赵六", msisdn="13866667777", birthday=dt.date(1980, 6, 16))
    gift = make_obligation(customer, manager, kind="birthday_gift", due=dt.date(2026, 6, 13))
    ContactLog.objects.create(
        customer=customer,
        manager=manager,
        channel="call",
        outcome="no_answer",
        note="晚上再打",
        occurred_at=dt.datetime(2026, 6, 9, 15, tzinfo=SHANGHAI),
    )
    card = MembershipCard.objects.create(customer=customer, tier=Tier.objects.get(code="gold"), state="at_maker")
    login(client, manager)

    # when
    html = client.get("/dashboard/customers/13866667777/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # then
    assert "Gold" in section(html, "tier") and "138****7777" in html
    assert "Birthday gift" in section(html, "open")
    assert "晚上再打" in section(html, "trail") and "No answer" in section(html, "trail")
    assert 'data-action="arrive"' in section(html, "card")
    assert f"/dashboard/customers/13866667777/gift/{gift.pk}/" in section(html, "gifts")

    # when: the card arrives, then the gift is confirmed
    client.post("/dashboard/customers/13866667777/card/", {"action": "arrive"})
    response = client.post(
        f"/dashboard/customers/13866667777/gift/{gift.pk}/",
        {
            f"g{gift.pk}-obligation": gift.pk,
            f"g{gift.pk}-choice": "书+花",
            f"g{gift.pk}-time_note": "周六上午",
            f"g{gift.pk}-address": "天河路 1 号",
        },
    )

    # then
    assert response.status_code == 302
    card.refresh_from_db()
    gift.refresh_from_db()
    assert card.state == "arrived" and card.arrived_on == TODAY
    assert gift.status == "done" and "书+花" in gift.note
    assert Obligation.objects.filter(customer=customer, kind="card_pickup_notice", status="open").exists()
    html = client.get("/dashboard/customers/13866667777/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-action="deliver"' in html and 'id="gifts"' not in html


def test_a_refused_card_step_is_a_message_not_an_error(client, manager):
    make_member(manager, msisdn="13866668888")
    login(client, manager)
    client.post("/dashboard/customers/13866668888/card/", {"action": "start"})
    response = client.post(
        "/dashboard/customers/13866668888/card/", {"action": "start"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "A card for this customer is already in progress." in response.content.decode()
    assert MembershipCard.objects.count() == 1


# --- the supervisor ----------------------------------------------------------------------------------------


@pytest.fixture
def supervisor(django_user_model):
    return make_supervisor("boss", password=PASSWORD, first_name="主管")


def team_row(html: str, employee_no: str) -> dict:
    row = html[html.index(f'<tr data-manager="{employee_no}">') :]
    row = row[: row.index("</tr>")]
    return {
        name: re.search(rf'class="n {name}[^"]*"[^>]*>([^<]*)<', row).group(1).strip()
        for name in ("members", "overdue", "due-today", "compliance")
    }


def test_supervisor_team_view_numbers(client, supervisor):
    # given: two managers of the supervisor, and one of somebody else
    first = make_manager("E501", supervisor=supervisor, name="一号")
    second = make_manager("E502", supervisor=supervisor, name="二号", region=first.region)
    outsider = make_manager("E999", name="外人", region=first.region)
    a, b, c = (make_member(first) for _ in range(3))
    make_obligation(a, first, due=dt.date(2026, 6, 3), status="overdue")
    make_obligation(b, first, due=dt.date(2026, 6, 8), status="overdue")
    make_obligation(c, first, due=TODAY)
    make_obligation(
        c,
        first,
        kind="first_contact",
        due=dt.date(2026, 6, 5),
        status="done",
        done_at=dt.datetime(2026, 6, 5, 18, tzinfo=SHANGHAI),
    )
    d = make_member(second)
    make_obligation(
        d, second, due=dt.date(2026, 6, 2), status="done", done_at=dt.datetime(2026, 6, 1, 9, tzinfo=SHANGHAI)
    )
    make_obligation(make_member(outsider), outsider, due=dt.date(2026, 6, 1), status="overdue")

    # when
    html = login(client, supervisor).get("/dashboard/team/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # then: due this month up to today: the first 4 (1 on time) → 25 %, the second 1 (on time) → 100 %
    assert team_row(html, "E501") == {"members": "3", "overdue": "2", "due-today": "1", "compliance": "25.0 %"}
    assert team_row(html, "E502") == {"members": "1", "overdue": "0", "due-today": "0", "compliance": "100.0 %"}
    assert "E999" not in html and "外人" not in html

    # when: the drill-down to the first manager
    detail = client.get("/dashboard/team/E501/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then: her overdue list (read-only: no quick buttons) and her customers
    assert detail.count('class="ob late"') == 2 and 'form class="quick"' not in detail
    assert "3 customers" in detail and a.name in detail
    assert client.get("/dashboard/team/E999/").status_code == 404
    # and a customer of her team can be read, not changed
    page = client.get(f"/dashboard/customers/{a.msisdn}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Read only: 一号 serves this member." in page and 'id="log-contact"' not in page
    assert client.post(f"/dashboard/contact/{a.msisdn}/", {"result": "call:reached"}).status_code == 403


def test_plan_submit_and_supervisor_approve(client, supervisor):
    # given
    manager = make_manager("E600", supervisor=supervisor, name="计划经理")
    login(client, manager)

    # when: the manager submits her weekly plan (any day of the week is the period)
    response = client.post(
        "/dashboard/plans/",
        {"form": "plan", "scope": "week", "period": "2026-06-11", "content": "拜访钻石卡会员 5 位", "submit": "1"},
    )

    # then
    assert response.status_code == 302
    plan = ServicePlan.objects.get(manager=manager)
    assert (plan.scope, plan.period_start, plan.status) == ("week", dt.date(2026, 6, 8), PlanStatus.SUBMITTED)

    # when: she also writes today's work log
    client.post("/dashboard/plans/", {"form": "worklog", "date": "2026-06-10", "content": "回访 12 位会员"})
    log = WorkLog.objects.get(manager=manager)

    # when: the supervisor sees both and tries to return the plan without a comment
    login(client, supervisor)
    team = client.get("/dashboard/team/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "拜访钻石卡会员 5 位" in section(team, "reviews") and "回访 12 位会员" in section(team, "reviews")
    client.post(f"/dashboard/team/plans/{plan.pk}/review/", {f"p{plan.pk}-decision": "return"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED  # a return needs a comment

    # when: she approves it with a comment, and reviews the log
    client.post(
        f"/dashboard/team/plans/{plan.pk}/review/", {f"p{plan.pk}-decision": "approve", f"p{plan.pk}-comment": "好"}
    )
    client.post(
        f"/dashboard/team/logs/{log.pk}/review/", {f"w{log.pk}-decision": "reviewed", f"w{log.pk}-comment": "辛苦"}
    )

    # then
    plan.refresh_from_db()
    log.refresh_from_db()
    assert (plan.status, plan.reviewed_by, plan.review_comment) == (PlanStatus.APPROVED, supervisor, "好")
    assert log.reviewed_by == supervisor and log.review_comment == "辛苦"
    page = login(client, manager).get("/dashboard/plans/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Approved" in page and "好" in page and "辛苦" in page
    # and another supervisor cannot review her plans
    stranger = make_supervisor("other-boss")
    make_manager("E601", supervisor=stranger)
    login(client, stranger)
    assert (
        client.post(f"/dashboard/team/plans/{plan.pk}/review/", {f"p{plan.pk}-decision": "approve"}).status_code == 404
    )


# --- languages ---------------------------------------------------------------------------------------------


def test_the_page_speaks_chinese(client, manager):
    # given
    customer = make_member(manager, name="陈七")
    make_obligation(customer, manager, due=dt.date(2026, 6, 8), status="overdue")
    login(client, manager)
    # when: the language switch sets Chinese
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/dashboard/"})
    html = client.get("/dashboard/").content.decode()
    # then
    assert '<html lang="zh-hans">' in html
    for text in (
        "工作队列",
        "逾期",
        "今日到期",
        "本周到期",
        "生日",
        "会员卡",
        "合规率",
        "定期联系",
        "已接通",
        "未接听",
        "已发短信",
        "逾期 2 天",
    ):
        assert text in html, text
    assert "6月10日" in html
    assert "Overdue" not in html and "Work queue" not in html


# --- query counts ------------------------------------------------------------------------------------------


def populate(manager: AccountManager, n: int, prefix: str) -> None:
    """n members of a manager, bulk-created: tiers, assignments, one obligation each in every state, some cards."""
    tiers = list(Tier.objects.filter(code__in=("diamond", "gold", "silver")).order_by("rank"))
    Customer.objects.bulk_create(
        Customer(
            msisdn=f"{prefix}{i:08d}",
            name=f"会员{prefix}{i}",
            id_number=make_id_number(i),
            birthday=dt.date(1980 + i % 20, 1 + i % 12, 1 + i % 28),
            join_date=dt.date(2015, 3, 1),
            brand="gotone",
            region=manager.region,
        )
        for i in range(n)
    )
    ids = list(Customer.objects.filter(msisdn__startswith=prefix).order_by("id").values_list("id", flat=True))
    CustomerTier.objects.bulk_create(
        CustomerTier(customer_id=cid, tier=tiers[i % 3], source="score", since=dt.date(2026, 1, 1))
        for i, cid in enumerate(ids)
    )
    Assignment.objects.bulk_create(
        Assignment(
            customer_id=cid,
            manager=manager,
            reason="new_member",
            started_on=dt.date(2026, 6, 1) if i % 10 == 0 else dt.date(2026, 1, 5),
        )
        for i, cid in enumerate(ids)
    )
    states = [
        ("overdue", dt.date(2026, 6, 5)),
        ("open", TODAY),
        ("open", dt.date(2026, 6, 12)),
        ("done", dt.date(2026, 6, 3)),
        ("open", dt.date(2026, 6, 30)),
    ]
    Obligation.objects.bulk_create(
        Obligation(
            customer_id=cid,
            manager=manager,
            kind="periodic_contact",
            period="2026-06",
            opened_on=dt.date(2026, 6, 1),
            due_on=states[i % 5][1],
            status=states[i % 5][0],
            done_at=dt.datetime(2026, 6, 2, 10, tzinfo=SHANGHAI) if states[i % 5][0] == "done" else None,
        )
        for i, cid in enumerate(ids)
    )
    MembershipCard.objects.bulk_create(
        MembershipCard(customer_id=cid, tier=tiers[0], state="at_maker") for cid in ids[::7]
    )


def test_dashboard_query_count_does_not_grow_with_the_members(client, django_assert_max_num_queries):
    # given: one manager with 10 members, another with 2,000
    small, large = make_manager("Q010"), make_manager("Q2000")
    populate(small, 10, "135")
    populate(large, 2000, "136")
    counts = {}
    for manager, members in ((small, 10), (large, 2000)):
        login(client, manager)
        # when
        with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES) as captured:
            response = client.get("/dashboard/")
        # then: the same bound, and in fact the same number of queries
        assert response.status_code == 200
        assert f'id="count-overdue" href="?"><span class="num">{members // 5}</span>' in response.content.decode()
        counts[members] = len(captured.captured_queries)
        with django_assert_max_num_queries(CUSTOMER_LIST_MAX_QUERIES) as listed:
            listing = client.get("/dashboard/customers/")
            assert f"{members} members in all." in listing.content.decode()
        counts[f"list {members}"] = len(listed.captured_queries)
    assert counts[10] == counts[2000], counts
    assert counts["list 10"] == counts["list 2000"], counts
    print(f"dashboard queries: {counts}")
