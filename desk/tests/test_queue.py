"""The manager's work queue (/dashboard/): one prioritised list with the true count of each section, paged and
filtered; one-tap outcomes and their 10-second undo; the tabs with their counts; the notifications inbox; and the
query counts of every desk page, the same at 10 and at 2,000 members."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from core.errors import RuleViolation
from core.models import ActionLog
from managers import services
from managers.factories import ObligationFactory, queue_backlog
from managers.models import ContactLog, MembershipCard, Notification, Obligation
from managers.tests.helpers import make_manager, make_member, make_supervisor
from retention import services as retention_services
from retention.tests.helpers import walk
from tiers.models import Tier

from .test_dashboard import populate

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 6, 10)  # a Wednesday; the week ends on Sunday 14 June
NOW = dt.datetime(2026, 6, 10, 9, 30, tzinfo=SHANGHAI)
RANK = {"diamond": 3, "gold": 2, "silver": 1}
PAGES = [
    "/dashboard/",
    "/dashboard/customers/",
    "/dashboard/retention/",
    "/dashboard/risk/",
    "/dashboard/birthdays/",
    "/dashboard/cards/",
    "/dashboard/plans/",
    "/dashboard/notifications/",
]
PAGE_MAX_QUERIES = 16  # measured: 12 to 16 per page (SQLite), the same at 10 and 2,000 members


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager():
    return make_manager("E700")


def login(client, who):
    client.force_login(getattr(who, "user", who))
    return client


def items(html: str) -> list[dict]:
    """The queue's items as the page shows them, in order."""
    return [
        {"id": int(m[1]), "kind": m[2], "section": int(m[3]), "days_late": int(m[4]), "due": m[5], "tier": m[6]}
        for m in re.finditer(
            r'<li class="qi[^"]*" id="ob-(\d+)" data-obligation="\d+" data-kind="(\w+)" data-section="(\d)" '
            r'data-days-late="(\d+)" data-due="([\d-]+)" data-tier="(\w+)"',
            html,
        )
    ]


def count(html: str, section: str) -> int:
    return int(re.search(rf'id="count-{section}"[^>]*><span class="num">(\d+)</span>', html)[1])


def every_page(client, params: str = "") -> list[dict]:
    """The items of every page of the queue, following the pager's "Next" links."""
    url, seen = f"/dashboard/?{params}", []
    while url:
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        seen += items(html)
        nxt = re.search(r'rel="next" href="([^"]+)"', html)
        url = "/dashboard/" + nxt[1].replace("&amp;", "&") if nxt else None
    return seen


# --- the queue: order, true counts, paging, filters ------------------------------------------------------


def test_the_queue_counts_150_overdue_truly_and_paging_reaches_the_150th(client, manager, clock):
    # given: 150 overdue items (over the old silent cap of 100), 3 due today, 4 later this week
    queue_backlog(manager, on=TODAY, overdue=150, today=3, week=4)

    # when
    html = login(client, manager).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # then: the header says the true counts, the tab too
    assert (count(html, "overdue"), count(html, "today"), count(html, "week")) == (150, 3, 4)
    assert re.search(r'data-tab="queue" aria-current="page">Queue<span class="tab-count has"[^>]*>157</span>', html)
    assert "1–10 of 157" in html
    # and the pages together hold every item once, the 150th overdue one on page 15
    seen = every_page(client)
    assert len(seen) == 157 and len({i["id"] for i in seen}) == 157
    assert [i["section"] for i in seen] == [0] * 150 + [1] * 3 + [2] * 4
    last = client.get("/dashboard/?page=15", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "141–150 of 157" in last and len([i for i in items(last) if i["section"] == 0]) == 10
    assert "150" in re.search(r'<li class="qhead" id="section-0">.*?</li>', last, re.S)[0]
    # a page past the end shows the last one; a page that is not a number the first
    assert "151–157 of 157" in client.get("/dashboard/?page=99").content.decode()
    assert "1–10 of 157" in client.get("/dashboard/?page=x").content.decode()


def test_the_queue_is_ordered_by_days_late_then_tier_then_kind(client, manager, clock):
    # given
    queue_backlog(manager, on=TODAY, overdue=45, today=6, week=3)
    # when
    seen = every_page(login(client, manager))
    # then: overdue first, the most days late first (later this week: the earliest due first); within a day the
    # highest tier first, then kind
    overdue = [i for i in seen if i["section"] == 0]
    assert [i["days_late"] for i in overdue] == sorted((i["days_late"] for i in overdue), reverse=True)
    keys = [(i["section"], -i["days_late"], i["due"], -RANK[i["tier"]], i["kind"]) for i in seen]
    assert keys == sorted(keys)
    today = [i for i in seen if i["section"] == 1]
    assert [i["tier"] for i in today] == ["diamond", "diamond", "gold", "gold", "silver", "silver"]
    assert all(i["days_late"] == 0 for i in seen if i["section"] > 0)


def test_each_item_shows_days_late_a_call_button_with_the_number_and_the_six_outcomes(client, manager, clock):
    # given
    customer = make_member(manager=manager, name="陈晓燕", msisdn="13911112222", tier="diamond")
    ObligationFactory(customer=customer, manager=manager, due_on=dt.date(2026, 6, 7), status="overdue")
    # when
    html = login(client, manager).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then: the number unmasked (she serves her own members) on a tel: link
    assert 'href="tel:13911112222"' in html and ">13911112222</span>" in html
    assert "3 days late" in html and "Periodic contact" in html and "Diamond" in html
    for value in (
        "call:reached",
        "call:no_answer",
        "call:powered_off",
        "sms:no_answer",
        "wechat:reached",
        "visit:reached",
    ):
        assert f'name="result" value="{value}"' in html, value


def test_the_filters_by_kind_and_tier_keep_true_counts(client, manager, clock):
    # given: 100 overdue, tiers in turn, kinds in blocks of 45
    queue_backlog(manager, on=TODAY, overdue=100)
    login(client, manager)
    # when: diamond members only
    html = client.get("/dashboard/?tier=diamond", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then
    assert count(html, "overdue") == 34 and {i["tier"] for i in items(html)} == {"diamond"}
    # when: routine calls of gold members
    seen = every_page(client, "kind=routine_call&tier=gold")
    assert len(seen) == 15 and {(i["kind"], i["tier"]) for i in seen} == {("routine_call", "gold")}
    html = client.get("/dashboard/?kind=routine_call&tier=gold", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert count(html, "overdue") == len(seen)
    # the pager keeps the filters; an unknown filter value is ignored, not a 500
    assert client.get("/dashboard/?kind=fax&tier=ruby").status_code == 200
    assert count(client.get("/dashboard/?kind=fax").content.decode(), "overdue") == 100


def test_a_supervisor_goes_to_her_team_and_a_plain_user_gets_403(client, django_user_model):
    boss = make_supervisor("boss")
    make_manager("E701", supervisor=boss)
    assert login(client, boss).get("/dashboard/")["Location"] == "/dashboard/team/"
    login(client, django_user_model.objects.create_user(username="nobody"))
    for url in ("/dashboard/", "/dashboard/retention/", "/dashboard/notifications/"):
        assert client.get(url).status_code == 403, url


# --- one tap and its undo ----------------------------------------------------------------------------------


def a_late_member(manager, msisdn="13922223333"):
    customer = make_member(manager=manager, name="李娜", msisdn=msisdn)
    late = ObligationFactory(
        customer=customer,
        manager=manager,
        due_on=dt.date(2026, 6, 5),
        status="overdue",
        overdue_since=dt.date(2026, 6, 6),
        opened_on=dt.date(2026, 6, 1),
    )
    routine = ObligationFactory(
        customer=customer, manager=manager, kind="routine_call", due_on=TODAY, opened_on=dt.date(2026, 6, 1)
    )
    return customer, late, routine


def test_a_tap_closes_the_item_and_undo_within_10_seconds_reopens_it_as_it_was(client, manager, clock):
    # given: an overdue periodic contact and a routine call due today
    customer, late, routine = a_late_member(manager)
    login(client, manager)

    # when: one tap on "reached" (htmx)
    response = client.post(
        f"/dashboard/queue/log/{customer.msisdn}/",
        {"result": "call:reached", "page": "1"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    # then: both closed, gone from the queue, the counts updated, and an undo offered for 10 seconds
    html = response.content.decode()
    assert response.status_code == 200
    assert "Contact with 李娜 logged; 2 obligations closed." in html
    assert f'id="ob-{late.pk}"' not in html and count(html, "overdue") == 0 and count(html, "today") == 0
    log = ContactLog.objects.get(customer=customer)
    assert f'hx-post="/dashboard/queue/undo/{log.pk}/"' in html and 'data-undo-left="10' in html
    late.refresh_from_db()
    assert late.status == "done" and late.done_by == log

    # when: "undo" 9 seconds later
    clock.shift(9)
    response = client.post(f"/dashboard/queue/undo/{log.pk}/", {"page": "1"}, HTTP_HX_REQUEST="true")

    # then: both are open again exactly as they were, the log is gone, an audit row says who undid what
    html = response.content.decode()
    assert response.status_code == 200 and "obligations are open again" in html
    late.refresh_from_db()
    routine.refresh_from_db()
    assert (late.status, late.done_at, late.done_by, late.overdue_since) == ("overdue", None, None, dt.date(2026, 6, 6))
    assert (routine.status, routine.done_at, routine.done_by) == ("open", None, None)
    assert f'id="ob-{late.pk}"' in html and f'id="ob-{routine.pk}"' in html and count(html, "overdue") == 1
    assert not ContactLog.objects.filter(customer=customer).exists()
    audit = ActionLog.objects.get(action="contact_undone")
    assert audit.actor == manager.user.username and audit.details["reopened"] == sorted([late.pk, routine.pk])


def test_undo_after_10_seconds_is_refused_with_a_clear_message(client, manager, clock):
    # given
    customer, late, _routine = a_late_member(manager)
    login(client, manager).post(f"/dashboard/queue/log/{customer.msisdn}/", {"result": "call:reached"})
    log = ContactLog.objects.get(customer=customer)
    # when: 11 seconds later
    clock.shift(11)
    response = client.post(f"/dashboard/queue/undo/{log.pk}/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    # then: 409 with the reason, nothing reopened, the log stays
    assert response.status_code == 409
    assert "Too late to undo: a contact can be undone for 10 seconds only." in response.content.decode()
    late.refresh_from_db()
    assert late.status == "done" and ContactLog.objects.filter(pk=log.pk).exists()
    # and the page no longer offers the undo
    assert "queue/undo" not in client.get(f"/dashboard/?undo={log.pk}").content.decode()


def test_only_the_author_may_undo(client, manager, clock):
    # given: a contact logged by the manager
    customer, late, _routine = a_late_member(manager)
    log, _closed = services.contact_log(
        customer=customer, channel="call", outcome="reached", occurred_at=NOW, actor=manager.user
    )
    # when another user (her supervisor, or a colleague) tries within the window: refused
    boss = make_supervisor("boss2")
    with pytest.raises(RuleViolation) as refused:
        services.contact_log_undo(actor=boss, log=log, at=NOW)
    assert refused.value.code == "undo_not_author"
    colleague = make_manager("E702", region=manager.region)
    assert login(client, colleague).post(f"/dashboard/queue/undo/{log.pk}/").status_code == 404  # not her member
    # then nothing changed
    late.refresh_from_db()
    assert late.status == "done"
    # a contact logged by the API (no author) cannot be undone from the desk either
    api_log, _ = services.contact_log(customer=customer, channel="sms", outcome="no_answer", occurred_at=NOW)
    with pytest.raises(RuleViolation):
        services.contact_log_undo(actor=manager.user, log=api_log, at=NOW)


def test_undo_removes_the_first_call_an_sms_first_contact_opened(manager, clock):
    # given: a new member whose first contact is done by SMS (it opens a first call)
    customer = make_member(manager=manager, msisdn="13933334444")
    first = ObligationFactory(customer=customer, manager=manager, kind="first_contact", due_on=TODAY, opened_on=TODAY)
    log, closed = services.contact_log(
        customer=customer, channel="sms", outcome="no_answer", occurred_at=NOW, actor=manager.user
    )
    assert closed == [first.pk] and Obligation.objects.filter(customer=customer, kind="first_call").exists()
    # when
    services.contact_log_undo(actor=manager.user, log=log, at=NOW + dt.timedelta(seconds=3))
    # then: the first contact is open again and the first call is gone
    first.refresh_from_db()
    assert first.status == "open" and not Obligation.objects.filter(customer=customer, kind="first_call").exists()


def test_a_tap_without_javascript_redirects_back_with_the_undo(client, manager, clock):
    customer, _late, _routine = a_late_member(manager)
    response = login(client, manager).post(
        f"/dashboard/queue/log/{customer.msisdn}/", {"result": "visit:reached", "page": "1", "tier": "gold"}
    )
    log = ContactLog.objects.get(customer=customer)
    assert response.status_code == 302 and response["Location"] == f"/dashboard/?tier=gold&undo={log.pk}"
    assert (log.channel, log.outcome) == ("visit", "reached")
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="/dashboard/queue/undo/{log.pk}/"' in page
    # odd ids are no contact, not an error
    assert client.post(f"/dashboard/queue/undo/{10**30}/").status_code == 404
    assert client.get(f"/dashboard/?undo={10**30}").status_code == 200
    assert client.post(f"/dashboard/notifications/{10**30}/read/").status_code == 404
    # a bad outcome is a 400 naming the problem, nothing logged
    bad = client.post(f"/dashboard/queue/log/{customer.msisdn}/", {"result": "fax:sent"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "fax:sent" in bad.content.decode()
    assert ContactLog.objects.filter(customer=customer).count() == 1


# --- tabs ---------------------------------------------------------------------------------------------------


def test_the_tabs_show_their_counts_and_each_is_its_own_page(client, manager, clock):
    # given: 2 overdue, a retention case, a birthday, a card
    queue_backlog(manager, on=TODAY, overdue=2)
    birthday = make_member(manager=manager, name="寿星", birthday=dt.date(1990, 6, 12))
    MembershipCard.objects.create(customer=birthday, tier=Tier.objects.get(code="gold"), state="at_maker")
    case, _ = retention_services.closure_request(customer=birthday, reason="tariff", at=NOW)
    walk(case, "open")
    login(client, manager)
    # when
    html = client.get("/dashboard/retention/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then
    tabs = {
        m[1]: int(m[2])
        for m in re.finditer(r'data-tab="(\w+)"[^>]*>[^<]+<span class="tab-count[^"]*"[^>]*>(\d+)', html)
    }
    assert tabs == {"queue": 3, "customers": 3, "retention": 1, "risk": 0, "birthdays": 1, "cards": 1}
    assert 'data-tab="retention" aria-current="page"' in html and "寿星" in html and 'name="to"' in html
    assert re.search(r'id="retention-cases-h">.*?<span class="count has">1</span>', html, re.S)
    assert "寿星" in client.get("/dashboard/birthdays/").content.decode()
    assert "Sent to the card maker" in client.get("/dashboard/cards/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for url in PAGES:
        assert client.get(url).status_code == 200, url


# --- notifications ------------------------------------------------------------------------------------------


def test_the_inbox_lists_opens_and_marks_read(client, manager, clock):
    # given: the digest, a notice with a link, and one read already
    digest = Notification.objects.create(user=manager.user, kind="daily_digest", text="3 overdue", day=TODAY)
    notice = Notification.objects.create(
        user=manager.user, kind="case_opened", text="张三 asks to leave", link="/dashboard/retention/", day=TODAY
    )
    Notification.objects.create(
        user=manager.user, kind="x", text="old news", day=dt.date(2026, 6, 1), read_at=timezone.now()
    )
    other = Notification.objects.create(user=make_manager("E703").user, kind="daily_digest", text="theirs", day=TODAY)
    login(client, manager)
    # when: any desk page
    html = client.get("/dashboard/cards/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then: the bell badge says 2 and links to the inbox
    assert re.search(r'<a class="bell has" id="bell" href="/dashboard/notifications/">.*?>2</span></a>', html, re.S)
    inbox = client.get("/dashboard/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "3 overdue" in inbox and "张三 asks to leave" in inbox and "old news" in inbox and "theirs" not in inbox
    assert inbox.index("张三 asks to leave") < inbox.index("old news")  # unread first
    # when: she opens the notice: read, and she follows its link
    response = client.post(f"/dashboard/notifications/{notice.pk}/open/")
    assert response["Location"] == "/dashboard/retention/"
    notice.refresh_from_db()
    assert notice.read_at is not None
    # the digest leads to the queue
    assert client.post(f"/dashboard/notifications/{digest.pk}/open/")["Location"] == "/dashboard/"
    # somebody else's is a 404
    assert client.post(f"/dashboard/notifications/{other.pk}/read/").status_code == 404
    # mark all read
    Notification.objects.create(user=manager.user, kind="y", text="one more", day=TODAY)
    page = client.post("/dashboard/notifications/read-all/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "1 notification marked read." in page.content.decode()
    assert not Notification.objects.filter(user=manager.user, read_at__isnull=True).exists()
    assert ActionLog.objects.filter(action="notifications_read_all").count() == 1


def test_a_supervisor_has_the_inbox_too(client):
    boss = make_supervisor("boss3")
    make_manager("E704", supervisor=boss)
    Notification.objects.create(user=boss, kind="supervisor_digest", text="5 overdue in your team", day=TODAY)
    login(client, boss)
    team = client.get("/dashboard/team/").content.decode()
    assert 'id="bell" href="/dashboard/notifications/"' in team
    assert "5 overdue in your team" in client.get("/dashboard/notifications/").content.decode()
    digest = Notification.objects.get(user=boss)
    assert client.post(f"/dashboard/notifications/{digest.pk}/open/")["Location"] == "/dashboard/team/"


# --- languages ----------------------------------------------------------------------------------------------


def test_the_queue_speaks_chinese(client, manager, clock):
    customer = make_member(manager=manager, name="陈七")
    ObligationFactory(customer=customer, manager=manager, due_on=dt.date(2026, 6, 8), status="overdue")
    html = login(client, manager).get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in (
        "工作队列",
        "逾期",
        "今日到期",
        "本周到期",
        "已接通",
        "未接听",
        "关机",
        "已发短信",
        "微信",
        "上门",
        "逾期 2 天",
    ):
        assert text in html, text
    assert "Overdue" not in html and "Work queue" not in html


# --- query counts -------------------------------------------------------------------------------------------


def test_every_desk_page_reads_in_the_same_number_of_queries_at_10_and_2000_members(
    client, clock, django_assert_max_num_queries
):
    # given: one manager with 10 members, another with 2,000 (obligations in every state, cards, notifications)
    small, large = make_manager("Q010"), make_manager("Q2000")
    populate(small, 10, "135")
    populate(large, 2000, "136")
    counts = {}
    for manager, members in ((small, 10), (large, 2000)):
        Notification.objects.create(user=manager.user, kind="daily_digest", text="x", day=TODAY)
        login(client, manager)
        for url in PAGES:
            # when
            with django_assert_max_num_queries(PAGE_MAX_QUERIES) as captured:
                response = client.get(url)
            # then
            assert response.status_code == 200, url
            counts[(url, members)] = len(captured.captured_queries)
    # and her supervisor's view of each (the team, one manager): the same too
    boss = make_supervisor("boss5")
    for manager in (small, large):
        manager.supervisor = boss
        manager.save()
    login(client, boss)
    for manager, members in ((small, 10), (large, 2000)):
        url = f"/dashboard/team/{manager.employee_no}/"
        with django_assert_max_num_queries(PAGE_MAX_QUERIES) as captured:
            html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        counts[("/dashboard/team/<employee_no>/", members)] = len(captured.captured_queries)
        # the overdue list stops at 100, its count does not
        assert re.search(rf'id="overdue-h">Overdue <span class="count[^"]*">{members // 5}</span>', html)
        assert ("The first 100 are shown." in html) == (members // 5 > 100)
    for url in [*PAGES, "/dashboard/team/<employee_no>/"]:
        assert counts[(url, 10)] == counts[(url, 2000)], (url, counts)
    print("desk page queries:", {url: counts[(url, 10)] for url in [*PAGES, "/dashboard/team/<employee_no>/"]})


def test_notices_of_single_events_reach_the_inbox(client, manager, clock):
    # given: a plan her supervisor returns, a member who asks to leave, new members assigned by the pipeline
    boss = make_supervisor("boss4")
    manager.supervisor = boss
    manager.save()
    plan = services.service_plan_save(
        manager=manager, scope="week", period_start=dt.date(2026, 6, 8), content="拜访", submit=True
    )
    services.service_plan_review(plan=plan, approve=False, at=NOW, comment="多写几位钻石卡会员", actor=boss)
    leaving = make_member(manager=manager, name="周芳")
    retention_services.closure_request(customer=leaving, reason="换了别家", at=NOW)
    make_member(tier="gold", region=manager.region, name="新来的")  # a member nobody serves yet
    services.assignments_for_new_members(on=TODAY)
    # when
    inbox = login(client, manager).get("/dashboard/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then (in the club's language, as the digests)
    assert "多写几位钻石卡会员" in inbox and "周芳" in inbox and "换了别家" in inbox
    kinds = set(Notification.objects.filter(user=manager.user).values_list("kind", flat=True))
    assert kinds == {
        f"plan_returned:{plan.pk}",
        f"case_opened:{leaving.retention_cases.get().pk}",
        "members_new_member:2026-06-10",
    }
    # opening the case notice leads to the retention tab
    notice = Notification.objects.get(user=manager.user, kind__startswith="case_opened")
    assert client.post(f"/dashboard/notifications/{notice.pk}/open/")["Location"].startswith("/dashboard/retention/")
