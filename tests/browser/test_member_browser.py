"""Issue 16, the member page in a real browser (Chromium 1366×900, en and zh-hans) as club admins of the demo club:
find a member by the last 4 digits, redeem a lounge visit from her page (remaining drops by one, the timeline shows it with
the actor), adjust points by more than the four-eyes threshold, approve it from the inbox as a second user, create
an override by msisdn, approve it, and see the tier change with a "why" that agrees. Screenshots of the member page
go to docs/screenshots/member-<language>.png."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from benefits.models import BenefitAccount
from core.permissions import CLUB_ADMINS_GROUP
from points.models import PointsAccount, PointsEntry, PointsPolicy
from tiers.models import CustomerTier

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

expect = pytest.importorskip("playwright.sync_api").expect
PASSWORD = "Browser-pass-1"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1366, "height": 900}


@pytest.fixture
def demo_club(settings, tmp_path):
    """The demo club (80 customers as of today: the live server runs on the real clock) and two club admins."""
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", customers=80, seed=3, stdout=io.StringIO())
    PointsPolicy.objects.update_or_create(code="default", defaults={"adjust_approval_above": 1000})
    admins = Group.objects.get(name=CLUB_ADMINS_GROUP)
    for name in ("alice", "bob"):
        user = get_user_model().objects.create_user(username=name, password=PASSWORD, is_staff=True, first_name=name)
        user.groups.add(admins)
    year = str(timezone.localdate().year)
    lounge = (
        BenefitAccount.objects.filter(
            benefit__code="lounge_airport",
            period_key=year,
            customer__status="active",
            customer__tier_state__tier__code="gold",
            customer__assignments__ended_on__isnull=True,
        )
        .exclude(used__gte=models_f("granted"))
        .select_related("customer")
        .order_by("customer_id")
        .first()
    )
    assert lounge is not None, "the demo club has a gold member with lounge visits left"
    return lounge.customer


def models_f(name):
    from django.db.models import F

    return F(name)


def login(browser, live_server, username, language):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN" if language == "zh-hans" else "en-US")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/member/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    return context, page


def remaining(page) -> int:
    return int(page.locator('#member-benefits tr[data-benefit="lounge_airport"] td.remaining').inner_text())


def act(page, key, **fields):
    page.click(f"#action-{key} summary")
    for name, value in fields.items():
        selector = f"#id_{key}-{name}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, str(value))
    page.click(f"#action-{key} [type=submit]")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_club_admin_works_from_the_member_page(live_server, browser, demo_club, language):
    member = demo_club
    # given alice, a club admin, finds the member by the last 4 digits of her number
    context, page = login(browser, live_server, "alice", language)
    page.fill("#id_msisdn", member.msisdn[-4:])
    page.click("#member-find [type=submit]")
    if page.locator("#member-matches").count():  # several members end so: she picks hers
        page.click(f'#member-matches a[href$="/{member.msisdn}/"]')
    expect(page.locator("#member-header")).to_contain_text(member.name)
    before = remaining(page)
    # when she redeems a lounge visit with a reason
    act(page, "redeem_benefit", benefit="lounge_airport", quantity="1", reason="T2 lounge desk")
    # then one visit is gone, and the timeline shows the use with her name
    expect(page.locator('#member-benefits tr[data-benefit="lounge_airport"] td.remaining')).to_have_text(
        str(before - 1)
    )
    first = page.locator("#timeline tbody tr").first
    expect(first).to_contain_text("T2 lounge desk")
    expect(first).to_contain_text("alice")
    # when she adjusts the points by 5000 (over the threshold of 1000)
    balance = PointsAccount.objects.filter(customer=member).values_list("balance", flat=True).first() or 0
    act(page, "adjust_points", points="5000", reason="complaint settled")
    expect(page.locator(".messagelist li.success")).to_contain_text("5000")
    assert not PointsEntry.objects.filter(customer=member, kind="adjust").exists()
    # and asks for an override to diamond, by msisdn from her page
    today = timezone.localdate()
    act(
        page,
        "override",
        tier="diamond",
        starts_on=today.isoformat(),
        ends_on=today.replace(month=12, day=31).isoformat(),
        reason="group key account",
    )
    expect(page.locator(".messagelist li.success")).to_contain_text("#")
    assert "object (" not in page.content()
    context.close()

    # when bob, a second club admin, opens the inbox from the header count and approves both
    context, page = login(browser, live_server, "bob", language)
    expect(page.locator("#approvals-link .approvals-count")).to_have_text("2")
    page.click("#approvals-link")
    page.locator("tr.req-points button[value=approve]").click()
    page.locator("tr.req-override button[value=approve]").click()
    expect(page.locator("#approvals-table tbody tr")).to_have_count(1)  # "nothing waits"
    # then the points are applied once, by bob
    assert PointsEntry.objects.filter(customer=member, kind="adjust").count() == 1
    assert PointsAccount.objects.get(customer=member).balance == balance + 5000
    # and her page shows diamond by the override at once, with a "why" that agrees
    page.goto(f"{live_server.url}/admin/member/{member.msisdn}/")
    assert CustomerTier.objects.get(customer=member).tier.code == "diamond"
    expect(page.locator("#member-tier")).to_contain_text("钻石" if language == "zh-hans" else "Diamond")
    why_now = page.locator("#why .why-now")
    expect(why_now).to_contain_text("钻石" if language == "zh-hans" else "Diamond")
    expect(why_now).to_contain_text("group key account")
    html = page.content()
    assert "object (" not in html
    if language == "zh-hans":
        assert not re.search(r">\s*(Timeline|Actions|Benefits now|Why this tier)\s*<", html)
    # the page fits 1366 px: nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"member-{language}.png"))
    context.close()
