"""Member SMS (DOMAIN §11): templates rendered into `sms.requested` events, quiet hours, opt-out, the admin's preview."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from core.models import ActionLog, OutboxEvent
from core.outbox import emit
from core.tests.helpers import client_with
from customers.models import Customer
from managers.models import MembershipCard
from partners import sms, sms_rules
from partners.models import SmsCursor, SmsOptOut, SmsTemplate
from points.factories import PointsAccountFactory, PointsLotFactory
from tiers import rules
from tiers.models import Tier
from tiers.tests.helpers import make_customer

SH = ZoneInfo("Asia/Shanghai")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def requested():
    return list(OutboxEvent.objects.filter(type="sms.requested").order_by("id"))


def tier_changed(customer: Customer, old, new, *, at: dt.datetime, valid_until="2027-11-30"):
    return emit(
        type="tier.changed",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=at,
        data={"from_tier": old, "to_tier": new, "reason": "score", "valid_until": valid_until, "run": 1},
    )


# -- quiet hours ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked, expected",
    [
        (local(2026, 12, 4, 20, 59), local(2026, 12, 4, 20, 59)),  # still allowed
        (local(2026, 12, 4, 21, 0), local(2026, 12, 5, 8, 0)),  # quiet from 21:00: next morning
        (local(2026, 12, 4, 22, 30), local(2026, 12, 5, 8, 0)),
        (local(2026, 12, 31, 23, 59), local(2027, 1, 1, 8, 0)),  # across the year
        (local(2026, 12, 5, 7, 59), local(2026, 12, 5, 8, 0)),  # before 08:00: the same morning
        (local(2026, 12, 5, 8, 0), local(2026, 12, 5, 8, 0)),  # 08:00 is allowed
        (dt.datetime(2026, 12, 4, 14, 30, tzinfo=dt.UTC), local(2026, 12, 5, 8, 0)),  # 22:30 in Shanghai
    ],
)
def test_not_before_keeps_out_of_the_quiet_hours(asked, expected):
    assert sms_rules.not_before(asked) == expected
    assert sms_rules.not_before(asked).utcoffset() == dt.timedelta(hours=8)


# -- templates: validation and preview ------------------------------------------------------------------------------


@translation.override("en")
def test_an_unknown_placeholder_is_named_and_a_known_one_renders():
    assert sms_rules.unknown_placeholders("{name} 还需 {neded} 元", "tier_expiring") == ["neded"]
    problems = sms.template_problems(kind="tier_expiring", body="{name} 还需 {neded} 元")
    assert "{neded}" in problems["body"][0] and "{needed}" in problems["body"][0]
    assert sms.template_problems(kind="birthday", body="{name}，生日快乐 {points}")["body"][0].startswith(
        "Unknown placeholder {points}"
    )
    assert sms.template_problems(kind="tier_expiring", body="{name} 还需 {needed} 元") == {}
    with translation.override("zh-hans"):
        assert "未知的占位符 {neded}" in sms.template_problems(kind="tier_expiring", body="{neded}")["body"][0]
    # a value with braces is not read as a placeholder
    assert sms_rules.render("{name}：{tier}", {"name": "{tier}", "tier": "金卡"}) == "{tier}：金卡"


@pytest.mark.django_db
def test_the_seeded_templates_cover_every_kind_in_both_languages_and_are_valid():
    rows = list(SmsTemplate.objects.all())
    assert {(t.kind, t.language) for t in rows} == {
        (k, lang) for k in sms_rules.PLACEHOLDERS for lang in ("zh-hans", "en")
    }
    assert all(sms.template_problems(kind=t.kind, body=t.body) == {} for t in rows)
    # marketing: birthday and survey; the rest are service notices
    assert {t.kind for t in rows if not t.service_notice} == {"birthday", "survey"}


@pytest.mark.django_db
def test_staff_preview_a_template_against_the_sample_member_and_an_unknown_placeholder_is_refused(admin_client):
    template = SmsTemplate.objects.get(kind="tier_expiring", language="zh-hans")
    url = reverse("admin:partners_smstemplate_change", args=[template.pk])
    # given the change page: the placeholders and the saved text for the sample member
    page = admin_client.get(url).content.decode()
    assert "{needed}" in page and "王芳" in page and "350.00" in page
    # when staff preview an edited text, then they see it filled in, nothing saved
    preview = admin_client.post(
        reverse("admin:partners_smstemplate_preview"),
        {"kind": "tier_expiring", "language": "zh-hans", "body": "{name}您好，还差{needed}元保级"},
    ).content.decode()
    assert "王芳您好，还差350.00元保级" in preview
    assert SmsTemplate.objects.get(pk=template.pk).body == template.body
    # and a preview with a misspelt placeholder names it
    bad = admin_client.post(
        reverse("admin:partners_smstemplate_preview"),
        {"kind": "tier_expiring", "language": "zh-hans", "body": "{name}还差{neded}元"},
    ).content.decode()
    assert "{neded}" in bad
    # when staff save the misspelt text, then the form refuses it, naming the placeholder
    form = {"kind": "tier_expiring", "language": "zh-hans", "body": "{name}还差{neded}元", "active": "on"}
    response = admin_client.post(url, form)
    assert response.status_code == 200 and "Unknown placeholder {neded}" in response.content.decode()
    # and a good text is saved (with an audit row)
    form["body"] = "{name}还差{needed}元"
    assert admin_client.post(url, form).status_code == 302
    assert SmsTemplate.objects.get(pk=template.pk).body == "{name}还差{needed}元"


# -- sms.requested from the outbox's events ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tier_up_at_22_30_becomes_one_sms_for_08_00_the_next_morning():
    # given a member upgraded to gold at 22:30, and one who left the club
    member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    Customer.objects.filter(pk=member.pk).update(name="王芳")
    leaver = make_customer()
    tier_changed(member, "silver", "gold", at=local(2026, 12, 4, 22, 30))
    tier_changed(leaver, "silver", None, at=local(2026, 12, 4, 22, 30))
    # when the SMS step runs (at 22:30:05), and again
    assert sms.sms_from_events(at=local(2026, 12, 4, 22, 30, 5)) == 1
    assert sms.sms_from_events(at=local(2026, 12, 4, 22, 31)) == 0
    # then one sms.requested: the tier-up text in Chinese, for 08:00 the next day
    (event,) = requested()
    assert event.customer_id == member.pk and event.msisdn == member.msisdn
    assert event.data["template"] == "tier_up"
    assert event.data["text"] == "尊敬的王芳，恭喜您升级为全球通金卡会员，有效期至2027-11-30。感谢您的支持！"
    assert dt.datetime.fromisoformat(event.data["not_before"]) == local(2026, 12, 5, 8, 0)
    assert event.as_message()["data"]["msisdn"] == member.msisdn


@pytest.mark.django_db
def test_tier_down_and_tier_expiring_get_their_texts_in_the_day_at_once():
    member = make_customer(current=rules.TierState("silver", "score", dt.date(2027, 11, 30)))
    tier_changed(member, "gold", "silver", at=local(2026, 12, 4, 10, 0))
    emit(
        type="tier.expiring",
        customer_id=member.pk,
        msisdn=member.msisdn,
        occurred_at=local(2026, 12, 4, 10, 0),
        data={"tier": "silver", "valid_until": "2027-01-03", "score": "820", "needed": "180.00"},
    )
    sms.sms_from_events(at=local(2026, 12, 4, 10, 0, 5))
    down, expiring = requested()
    assert down.data["template"] == "tier_down" and "银卡" in down.data["text"]
    assert expiring.data["template"] == "tier_expiring"
    assert (
        "2027-01-03" in expiring.data["text"] and "820" in expiring.data["text"] and "180.00" in expiring.data["text"]
    )
    assert dt.datetime.fromisoformat(expiring.data["not_before"]) == local(2026, 12, 4, 10, 0, 5)


@pytest.mark.django_db
def test_an_opted_out_member_gets_service_notices_but_no_marketing_sms(settings):
    # given two members born on 4 December, one of them opted out; both upgraded
    at = local(2026, 12, 4, 7, 30)
    opted, other = (
        make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30))),
        make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30))),
    )
    Customer.objects.filter(pk__in=[opted.pk, other.pk]).update(birthday=dt.date(1980, 12, 4))
    sms.opt_out_set(customer=opted, opted_out=True, note="asked on the hotline", actor=None, at=at)
    for c in (opted, other):
        tier_changed(c, "silver", "gold", at=at)
    # when the daily SMS and the event step run
    assert sms.sms_daily(on=dt.date(2026, 12, 4), at=at) == {"birthday": 1}
    sms.sms_from_events(at=at)
    # then the birthday greeting (marketing) went to the other member only; the tier-up notice to both
    got = {(e.customer_id, e.data["template"]) for e in requested()}
    assert got == {(other.pk, "birthday"), (opted.pk, "tier_up"), (other.pk, "tier_up")}
    # and the greeting waits for 08:00
    birthday = next(e for e in requested() if e.data["template"] == "birthday")
    assert dt.datetime.fromisoformat(birthday.data["not_before"]) == local(2026, 12, 4, 8, 0)
    # when the tier-up template is made marketing, then the opted-out member gets no tier-up SMS any more
    SmsTemplate.objects.filter(kind="tier_up").update(service_notice=False)
    tier_changed(opted, "gold", "diamond", at=at)
    tier_changed(other, "gold", "diamond", at=at)
    assert sms.sms_from_events(at=at) == 1
    assert requested()[-1].customer_id == other.pk
    # and the daily SMS run once per date
    assert sms.sms_daily(on=dt.date(2026, 12, 4), at=at) == {}
    # and opting in again is recorded and takes effect
    assert sms.opt_out_set(customer=opted, opted_out=False, actor=None, at=at) is True
    assert not SmsOptOut.objects.exists()


@pytest.mark.django_db
def test_a_card_that_arrived_yesterday_is_told_this_morning():
    member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    MembershipCard.objects.create(
        customer=member, tier=Tier.objects.get(code="gold"), state="arrived", arrived_on=dt.date(2026, 12, 3)
    )
    assert sms.sms_daily(on=dt.date(2026, 12, 4), at=local(2026, 12, 4, 7, 30)) == {"card_arrived": 1}
    (event,) = requested()
    assert event.data["template"] == "card_arrived" and "金卡" in event.data["text"]


@pytest.mark.django_db
def test_an_inactive_template_sends_nothing():
    member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    SmsTemplate.objects.filter(kind="tier_up").update(active=False)
    tier_changed(member, "silver", "gold", at=local(2026, 12, 4, 10))
    assert sms.sms_from_events(at=local(2026, 12, 4, 10)) == 0
    assert SmsCursor.objects.get().cursor > 0  # looked at, and not looked at again


@pytest.mark.django_db
def test_the_sms_step_takes_the_same_queries_however_many_members_changed():
    at = local(2026, 12, 4, 10)
    sms.sms_from_events(at=at)  # the step's progress row exists
    counts = []
    for n in (5, 60):
        # given n upgraded members
        for _ in range(n):
            member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
            tier_changed(member, "silver", "gold", at=at)
        # when the step runs
        with CaptureQueriesContext(connection) as queries:
            assert sms.sms_from_events(at=at) == n
        counts.append(len(queries))
    # then the same handful of queries for 5 and for 60 (no query per member)
    assert counts[0] == counts[1] <= 16


@pytest.mark.django_db
def test_sms_requested_events_appear_on_the_feed(django_user_model):
    member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    tier_changed(member, "silver", "gold", at=local(2026, 12, 4, 10))
    sms.sms_from_events(at=local(2026, 12, 4, 10))
    client = client_with(django_user_model, "sms-platform", ["pii"])
    page = client.get("/api/v1/feed/", {"type": "sms.requested"}).json()
    (event,) = page["results"]
    assert event["type"] == "sms.requested" and event["data"]["msisdn"] == member.msisdn
    assert set(event["data"]) == {"msisdn", "template", "text", "not_before"}
    assert timezone.now()  # (the feed serves committed events only: the test's transaction is its own)


@pytest.mark.django_db
def test_the_step_goes_through_the_events_in_chunks_skipping_other_types_and_none_twice():
    at = local(2026, 12, 4, 10)
    members = [make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30))) for _ in range(5)]
    for i, member in enumerate(members):
        tier_changed(member, "silver", "gold", at=at)
        emit(type="points.changed", customer_id=member.pk, msisdn=member.msisdn, occurred_at=at, data={"delta": i})
    assert sms.sms_from_events(at=at, batch=2) == 5
    assert sorted(e.customer_id for e in requested()) == sorted(m.pk for m in members)
    assert sms.sms_from_events(at=at, batch=2) == 0


@pytest.mark.django_db
def test_on_1_november_members_with_points_expiring_on_31_december_are_told():
    # given a member with 1,200 points expiring on 31 December 2026 (and 300 later), and one with none expiring
    member = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    Customer.objects.filter(pk=member.pk).update(name="王芳")
    PointsAccountFactory(customer=member, balance=1500)
    PointsLotFactory(customer=member, original=1200, expires_on=dt.date(2026, 12, 31), year=2023)
    PointsLotFactory(customer=member, original=300, expires_on=dt.date(2028, 12, 31))
    other = make_customer(current=rules.TierState("gold", "score", dt.date(2027, 11, 30)))
    PointsLotFactory(customer=other, original=50, expires_on=dt.date(2028, 12, 31))
    # when the daily SMS run on 31 October and on 1 November
    assert sms.sms_daily(on=dt.date(2026, 10, 31), at=local(2026, 10, 31, 7, 30)) == {}
    assert sms.sms_daily(on=dt.date(2026, 11, 1), at=local(2026, 11, 1, 7, 30)) == {"points_expiring": 1}
    # then one SMS, with her expiring points and the date
    (event,) = requested()
    assert event.customer_id == member.pk
    assert event.data["text"] == "尊敬的王芳，您有1200积分将于2026-12-31清零，请及时兑换。"


def test_a_29_february_birthday_is_greeted_on_28_february_of_a_common_year():
    assert sms._birthdays(dt.date(2027, 2, 28)) == [(2, 28), (2, 29)]
    assert sms._birthdays(dt.date(2028, 2, 28)) == [(2, 28)]
    assert sms._birthdays(dt.date(2028, 2, 29)) == [(2, 29)]


@pytest.mark.django_db
def test_staff_record_an_opt_out_in_the_admin_with_an_audit_row(admin_client):
    member = make_customer()
    response = admin_client.post(
        reverse("admin:partners_smsoptout_add"), {"customer": member.pk, "note": "asked at the hall"}
    )
    assert response.status_code == 302
    row = SmsOptOut.objects.get(customer=member)
    assert row.note == "asked at the hall" and row.recorded_by == "admin"
    assert ActionLog.objects.filter(action="sms_opted_out", object_id=str(row.pk)).exists()
    # and deleting it opts her in again (audited)
    admin_client.post(reverse("admin:partners_smsoptout_delete", args=[row.pk]), {"post": "yes"})
    assert not SmsOptOut.objects.exists()
    assert ActionLog.objects.filter(action="sms_opted_in").exists()
