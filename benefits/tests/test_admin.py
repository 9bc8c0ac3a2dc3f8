"""The benefits admin (catalog and entitlements with history, read-only ledger, usage report with its SVG chart),
the customer-page inlines and the dashboard partial."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib import admin
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone, translation

from benefits import selectors, services
from benefits.customer_page import BenefitAccountInline, BenefitEntryInline
from benefits.models import Benefit, TierEntitlement
from customers.models import Customer

from .helpers import ON, member

pytestmark = pytest.mark.django_db


def redeem(customer, code, on=ON, **kwargs):
    return services.benefit_redeem(
        customer=customer, benefit=Benefit.objects.get(code=code), reference="r", on=on, at=timezone.now(), **kwargs
    )


def test_the_catalog_shows_each_tiers_entitlement_and_links_the_usage_report(admin_client):
    html = admin_client.get("/admin/benefits/benefit/").content.decode()
    assert "lounge_airport" in html and "Diamond 12 · Gold 6" in html
    assert "Diamond 72h ×3 · Gold 72h ×3 · Silver 48h ×3" in html
    assert "/admin/benefits/benefit/usage/" in html
    benefit = Benefit.objects.get(code="birthday_gift")
    page = admin_client.get(f"/admin/benefits/benefit/{benefit.pk}/change/")
    assert page.status_code == 200 and b"entitlements-TOTAL_FORMS" in page.content


def test_staff_edit_an_entitlement_and_the_change_is_in_its_history(admin_client):
    gold = TierEntitlement.objects.get(tier__code="gold", benefit__code="lounge_airport")
    url = f"/admin/benefits/tierentitlement/{gold.pk}/change/"
    form = {
        "tier": gold.tier_id,
        "benefit": gold.benefit_id,
        "quantity": 8,
        "money_cap": "",
        "hours": "",
        "per_month_limit": "",
        "percent": "",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    gold.refresh_from_db()
    assert gold.quantity == 8
    # the seeded state (recorded after migrate) and the edit, made by the admin, quantity before → after
    initial, edit = gold.history.order_by("history_id")
    assert initial.history_change_reason == "initial state" and edit.history_user.username == "admin"
    assert [(c.field, c.new) for c in edit.diff_against(initial).changes] == [("quantity", 8)]
    assert admin_client.get(f"{url.removesuffix('change/')}history/").status_code == 200
    # an entitlement the benefit's unit cannot use is refused with the field named
    response = admin_client.post(url, {**form, "quantity": ""})
    assert response.status_code == 200
    assert "A count benefit needs a quantity per period" in response.content.decode()


def test_the_next_grants_follow_an_edited_entitlement():
    # given a gold member granted 6 national lounges; staff raise gold to 8
    customer = member("gold")
    services.benefit_grants_run(on=ON)
    TierEntitlement.objects.filter(tier__code="gold", benefit__code="lounge_airport").update(quantity=8)
    # when the grants run again, then the year's grant is 8
    services.benefit_grants_run(on=ON)
    row = next(r for r in selectors.customer_benefits(customer=customer, on=ON) if r["benefit"] == "lounge_airport")
    assert (row["granted"], row["remaining"]) == (8, 8)


def test_accounts_and_the_ledger_are_read_only(admin_client):
    customer = member("gold")
    redemption = redeem(customer, "lounge_airport")
    assert admin_client.get("/admin/benefits/benefitentry/add/").status_code == 403
    assert admin_client.get("/admin/benefits/benefitaccount/add/").status_code == 403
    page = admin_client.get(f"/admin/benefits/benefitentry/{redemption.entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/benefits/benefitentry/{redemption.entry.pk}/delete/").status_code == 403
    listing = admin_client.get(f"/admin/benefits/benefitentry/?q={customer.msisdn}").content.decode()
    assert customer.masked_msisdn in listing  # found by the full number, shown masked
    assert admin_client.get(f"/admin/benefits/benefitaccount/?q={customer.msisdn}").status_code == 200


def test_the_usage_report_charts_redemptions_per_month_and_tier(admin_client):
    # given redemptions by a diamond and two gold members in March and May, one of them reversed
    diamond, gold, gold2 = member("diamond"), member("gold"), member("gold")
    redeem(diamond, "lounge_airport")
    redeem(gold, "lounge_airport")
    redeem(gold2, "lounge_airport", on=dt.date(2026, 5, 3))
    undone = redeem(gold2, "lounge_airport", on=dt.date(2026, 5, 4))
    services.benefit_redemption_reverse(redemption_id=undone.entry.pk, at=timezone.now())
    redeem(gold, "birthday_gift", amount=Decimal("80"))
    lounge = Benefit.objects.get(code="lounge_airport")
    # when staff open the report for the national lounge
    html = admin_client.get(f"/admin/benefits/benefit/usage/?year=2026&benefit={lounge.pk}").content.decode()
    # then a server-rendered SVG: 2 in March (one diamond, one gold), 1 in May
    assert "<svg" in html and "<script" not in html.split('id="usage-chart"')[1].split("</figure>")[0]
    assert 'data-month="03" data-total="2"' in html
    assert 'data-month="05" data-total="1"' in html
    assert 'data-month="04" data-total="0"' in html
    assert "3 redemptions in 2026" in html
    table = html.split('id="usage-table"')[1]
    row = re.search(
        r'<td>2026-03</td><td>Airport lounge</td><td>1</td><td>1</td><td>—</td><td>—</td><td><a href="([^"]+)">2</a></td>',
        table,
    )
    assert row
    # the total links to the two redemptions behind it
    drill = admin_client.get(row.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200 and drill.context["cl"].result_count == 2
    # and the CSV holds a row per month, benefit and tier
    body = admin_client.get(f"/admin/benefits/benefit/usage/?year=2026&benefit={lounge.pk}&format=csv")
    lines = body.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "month,benefit,tier,redemptions,used"
    assert "2026-03,lounge_airport,diamond,1,1" in lines and "2026-05,lounge_airport,gold,1,1" in lines
    # all benefits: the birthday gift shows its yuan
    html = admin_client.get("/admin/benefits/benefit/usage/?year=2026").content.decode()
    assert "1 (¥80.00)" in html and "4 redemptions in 2026" in html
    # a bad year falls back to this year instead of failing
    assert admin_client.get("/admin/benefits/benefit/usage/?year=abc").status_code == 200


def test_the_usage_report_needs_a_staff_login(client):
    assert client.get("/admin/benefits/benefit/usage/").status_code == 302


@time_machine.travel(dt.datetime(2026, 6, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_the_customer_page_inlines_show_balances_and_the_recent_ledger(admin_user):
    # given a member with a grant and a redemption this year, and a redemption two years ago
    customer = member("gold")
    redeem(customer, "lounge_train_province", on=dt.date(2024, 5, 1))
    today_result = redeem(customer, "lounge_train_province", on=dt.date(2026, 6, 15))
    request = RequestFactory().get("/")
    request.user = admin_user
    entries = BenefitEntryInline(Customer, admin.site).get_queryset(request).filter(customer=customer)
    assert list(entries.values_list("kind", "occurred_on")) == [
        ("redeem", dt.date(2026, 6, 15)),
        ("grant", dt.date(2026, 6, 15)),
    ]
    inline = BenefitEntryInline(Customer, admin.site)
    assert inline.change_col(today_result.entry) == "-1"
    assert f"customer__id__exact={customer.pk}" in inline.full(today_result.entry)
    accounts = BenefitAccountInline(Customer, admin.site).get_queryset(request).filter(customer=customer)
    assert [(a.benefit.code, a.granted, a.used) for a in accounts] == [("lounge_train_province", 8, 1)]
    assert not inline.has_add_permission(request) and not inline.has_change_permission(request)


def test_the_dashboard_partial_shows_what_is_left(django_assert_num_queries):
    customer = member("gold")
    redeem(customer, "lounge_airport", quantity=2)
    redeem(customer, "birthday_gift", amount=Decimal("30"))
    with django_assert_num_queries(4):  # tier, entitlements, accounts, catalog: whatever the number of benefits
        rows = selectors.customer_benefits(customer=customer, on=ON)
    html = render_to_string("benefits/_customer_benefits.html", {"benefits": rows})
    text = " ".join(html.split())
    assert 'Airport lounge</span> <span class="chip"> 4 of 6 left' in text
    assert "¥70.00 of ¥100.00 left" in text
    assert "3 of 3 left this month (72 h each)" in text
    assert "¥150.00 per event" in text
    assert "unlimited" in text and "100%" in text
    with translation.override("zh-hans"):
        assert "机场贵宾厅" in render_to_string("benefits/_customer_benefits.html", {"benefits": rows})
    outsider = render_to_string("benefits/_customer_benefits.html", {"benefits": []})
    assert "not a member" in outsider
