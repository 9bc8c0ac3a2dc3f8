"""Helpers of the data commands: the demo club (`seed_demo`) and CSV imports (`import_customers`, `import_bills`).

The demo club is built in two steps: `demo_club_build` is pure (no database, deterministic given its seed)
and `demo_club_load` writes it through the customers services in a few set-based batches.
"""

import csv
import datetime as dt
import math
import random
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as UserGroup
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from core import dates
from core.errors import InvalidInput
from customers import rules
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import BillingMonth, Customer
from customers.serializers import validate_rows
from managers import services as manager_services
from managers.daily import daily_run
from managers.models import Assignment
from retention import rules as retention_rules
from retention import services as retention_services
from retention.models import ReasonCategory, RetentionOffer
from tiers.models import CustomerTier, RatingRun

from . import workflows
from .events import EventSerializer, event_ingest
from .roles import ACCOUNT_MANAGERS, SUPERVISORS

CLUB_ZONE = ZoneInfo("Asia/Shanghai")


def club_today() -> dt.date:
    return dt.datetime.now(CLUB_ZONE).date()


def at_club_time(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CLUB_ZONE)


def billing_closed_at(month: dt.date, as_of: dt.date) -> dt.datetime:
    """When billing closed `month`: 06:00 on the 2nd of the next month, never after the start of `as_of`."""
    usual = at_club_time(dates.add_months(month, 1) + dt.timedelta(days=1), 6)
    return min(usual, at_club_time(as_of))


# --------------------------------------------------------------------------------------------------------------
# Reference data of the demo club
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoRegion:
    code: str
    name: str
    province: str
    area_code: str  # landline area code
    districts: tuple[str, ...]  # ID-number area codes (行政区划代码) of the city's districts
    weight: float  # share of the customers


DEMO_REGIONS = (
    DemoRegion("GZ", "广州", "广东", "020", ("440103", "440104", "440105", "440106", "440111", "440112"), 0.24),
    DemoRegion("SZ", "深圳", "广东", "0755", ("440303", "440304", "440305", "440306", "440307"), 0.22),
    DemoRegion("FS", "佛山", "广东", "0757", ("440604", "440605", "440606"), 0.12),
    DemoRegion("HZ", "杭州", "浙江", "0571", ("330102", "330105", "330106", "330108"), 0.18),
    DemoRegion("NB", "宁波", "浙江", "0574", ("330203", "330205", "330212"), 0.10),
    DemoRegion("CD", "成都", "四川", "028", ("510104", "510105", "510107", "510108"), 0.14),
)
# Birthplaces of customers who moved to the city (长沙, 南昌, 南宁, 武汉, 郑州, 福州, 贵阳, 合肥).
MIGRANT_DISTRICTS = ("430102", "360102", "450103", "420106", "410105", "350102", "520102", "340104")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆"
    "范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "司徒")
MALE_GIVEN = (
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 旭 宁 龙 林 峰 亮 "
    "建国 志强 海涛 文博 子轩 浩然 宇航 俊杰 家豪 明辉 建华 国平 志明 永强 晓东 立新 振华 天宇 博文 嘉诚"
).split()
FEMALE_GIVEN = (
    "芳 娜 敏 静 丽 艳 娟 霞 玲 婷 雪 琳 颖 倩 洁 慧 燕 晶 萍 红 "
    "秀英 桂英 欣怡 梓涵 诗涵 雨萱 思琪 佳怡 静怡 晓燕 丽华 美玲 婉婷 雅琴 春梅 海燕 淑珍 紫萱 可馨 晓丽"
).split()

MSISDN_PREFIXES = "134 135 136 137 138 139 150 151 152 157 158 159 182 183 184 187 188 198".split()
# Tariff plans by brand: (plan code, monthly fee in yuan). 288/388/588 are the VIP plans (plan floor).
PLANS = {
    "gotone": (("58", 58), ("88", 88), ("128", 128), ("158", 158), ("188", 188), ("238", 238)),
    "mzone": (("18", 18), ("28", 28), ("38", 38), ("58", 58)),
    "easyown": (("8", 8), ("18", 18), ("28", 28)),
}
VIP_PLANS = (("288", 288), ("388", 388), ("588", 588))
OTHER_PRODUCT_PLANS = {"data_card": ("DC30", 30), "secondary": ("FK10", 10), "iot": ("IOT5", 5)}
# Median monthly spend (yuan) and the spread (sigma of its logarithm) per brand; other products spend little.
SPEND = {"gotone": (75, 0.66), "mzone": (45, 0.55), "easyown": (35, 0.5)}
OTHER_PRODUCT_SPEND = {"data_card": (30, 0.4), "secondary": (18, 0.4), "iot": (6, 0.3)}

DEMO_GROUPS = (
    # (code, name, class, region code)
    ("GRP-GZ-001", "广州珠江城建集团有限公司", "A", "GZ"),
    ("GRP-SZ-001", "深圳南山科创投资有限公司", "B", "SZ"),
    ("GRP-HZ-001", "杭州西湖文旅集团有限公司", "C", "HZ"),
    ("GRP-FS-001", "佛山顺德家电制造有限公司", "D", "FS"),
    ("GRP-SZ-002", "深圳前湾港航物流集团", "A", "SZ"),
    ("GRP-CD-001", "成都天府软件园发展有限公司", "B", "CD"),
    ("GRP-NB-001", "宁波甬江医疗器械有限公司", "C", "NB"),
    ("GRP-GZ-002", "广州天河律师事务所", "D", "GZ"),
)
SUSPENSION_KINDS = (("arrears", 0.5), ("requested", 0.25), ("forced", 0.1), ("high_amount", 0.1), ("half", 0.05))

DEMO_USERS = (
    # (username, role shown in the logins table, is_staff, is_superuser, name)
    ("admin", "superuser (admin site)", True, True, ("管理员", "")),
    ("supervisor", "branch supervisor (staff)", True, False, ("主管", "周")),
    ("manager1", "account manager, 广州 GZ", False, False, ("晓燕", "陈")),
    ("manager2", "account manager, 深圳 SZ", False, False, ("志明", "林")),
    ("manager3", "account manager, 佛山 FS", False, False, ("婉婷", "黄")),
    ("manager4", "account manager, 杭州 HZ", False, False, ("建华", "吴")),
    ("manager5", "account manager, 宁波 NB", False, False, ("丽娟", "徐")),
    ("manager6", "account manager, 成都 CD", False, False, ("俊杰", "何")),
)
# Each demo manager serves one branch, in the order of DEMO_REGIONS, supervised by `supervisor`.
DEMO_MANAGER_CAPACITY = 400
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


# --------------------------------------------------------------------------------------------------------------
# The demo club, built without the database
# --------------------------------------------------------------------------------------------------------------


@dataclass
class DemoGroup:
    code: str
    name: str
    group_class: str
    key_persons: list[tuple[str, str]] = field(default_factory=list)  # (msisdn, role)
    set_at: dt.datetime | None = None


@dataclass
class DemoClub:
    as_of: dt.date
    months: list[dt.date]  # the billing months of the bills, oldest first; all closed
    customers: list[dict]  # rows for customers_bulk_upsert
    bills: dict[str, list[tuple[dt.date, Decimal, bool]]]  # msisdn -> (month, amount, paid)
    groups: list[DemoGroup]
    suspensions: list[tuple[str, str, dt.datetime]]  # (msisdn, kind, at)

    @property
    def bill_count(self) -> int:
        return sum(len(b) for b in self.bills.values())


def _id_number(district: str, birthday: dt.date, sequence: int) -> str:
    first17 = f"{district}{birthday:%Y%m%d}{sequence:03d}"
    return first17 + rules.id_number_check_digit(first17)


def _name(rng: random.Random, male: bool) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
    return surname + rng.choice(MALE_GIVEN if male else FEMALE_GIVEN)


def _msisdns(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    result = []
    while len(result) < count:
        msisdn = rng.choice(MSISDN_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if msisdn not in seen:
            seen.add(msisdn)
            result.append(msisdn)
    return result


def _plan(rng: random.Random, brand: str, product_type: str, level: float) -> tuple[str, int]:
    """A plan whose fee fits the customer's usual spend; a few gotone customers are on a VIP plan."""
    if product_type != "primary":
        return OTHER_PRODUCT_PLANS[product_type]
    if brand == "gotone" and rng.random() < (0.3 if level > 220 else 0.03):
        return rng.choices(VIP_PLANS, weights=[50, 35, 15])[0]
    fitting = [p for p in PLANS[brand] if p[1] <= level * rng.uniform(0.5, 0.95)]
    return fitting[-1] if fitting else PLANS[brand][0]


def _season(month: dt.date) -> float:
    # Spring Festival roaming and calls in January/February, summer travel in July/August.
    return {1: 1.12, 2: 1.15, 7: 1.05, 8: 1.06}.get(month.month, 1.0)


def demo_club_build(*, customers: int, as_of: dt.date, seed: int = 1) -> DemoClub:
    """The whole demo club as plain data, deterministic given (customers, as_of, seed)."""
    rng = random.Random(seed)
    this_month = as_of.replace(day=1)
    months = [dates.add_months(this_month, -n) for n in range(24, 0, -1)]
    regions = list(DEMO_REGIONS)
    rows: list[dict] = []
    bills: dict[str, list[tuple[dt.date, Decimal, bool]]] = {}
    id_sequences: dict[tuple[str, dt.date], int] = {}

    for msisdn in _msisdns(rng, customers):
        region = rng.choices(regions, weights=[r.weight for r in regions])[0]
        male = rng.random() < 0.52
        age_days = int(rng.triangular(20, 72, 40) * 365.25)
        birthday = as_of - dt.timedelta(days=age_days)
        district = rng.choice(MIGRANT_DISTRICTS) if rng.random() < 0.2 else rng.choice(region.districts)
        # 3-digit sequence: odd for men, even for women; unique per (district, birthday).
        key = (district, birthday)
        id_sequences[key] = id_sequences.get(key, rng.randrange(0, 40)) + 1
        sequence = (id_sequences[key] * 2 + (1 if male else 0)) % 1000
        # Tenure 1-20 years (not before the 18th birthday); a few customers joined within the last year.
        adult_days = (as_of - dates.years_before(birthday, -18)).days
        if rng.random() < 0.03:
            tenure_days = rng.randrange(30, 365)
        else:
            tenure_days = rng.randrange(365, max(366, min(20 * 365, adult_days)))
        join_date = as_of - dt.timedelta(days=tenure_days)
        brand = rng.choices(["gotone", "mzone", "easyown"], weights=[75, 15, 10])[0]
        product_type = rng.choices(["primary", "data_card", "secondary", "iot"], weights=[88, 5, 5, 2])[0]
        median, sigma = SPEND[brand] if product_type == "primary" else OTHER_PRODUCT_SPEND[product_type]
        level = median * math.exp(rng.gauss(0, sigma))
        plan_code, plan_fee = _plan(rng, brand, product_type, level)
        days_on_plan = (as_of - join_date).days
        plan_started_on = join_date + dt.timedelta(days=rng.randrange(max(days_on_plan, 1)))
        if rng.random() < 0.6:
            plan_started_on = join_date
        landline = ""
        if rng.random() < 0.35:
            landline = f"{region.area_code}-{rng.choice('2345678')}{rng.randrange(10**7):07d}"
        rows.append(
            {
                "msisdn": msisdn,
                "name": _name(rng, male),
                "id_number": _id_number(district, birthday, sequence),
                "birthday": birthday,
                "join_date": join_date,
                "brand": brand,
                "product_type": product_type,
                "plan_code": plan_code,
                "plan_started_on": plan_started_on,
                "region": region.code,
                "landline": landline,
            }
        )
        # Spend: most customers steady, some falling (churn risk), some rising.
        trend = rng.choices([1.0, 0.86, 1.1], weights=[90, 6, 4])[0]
        plan_month = plan_started_on.replace(day=1)
        customer_bills = []
        for index, month in enumerate(months):
            if month < join_date.replace(day=1) or rng.random() < 0.005:  # before joining, or no bill that month
                continue
            amount = level * _season(month) * math.exp(rng.gauss(0, 0.22))
            if index >= len(months) - 6:
                amount *= trend ** (index - len(months) + 7)
            if month >= plan_month:
                amount = max(amount, plan_fee + rng.uniform(0, 3))  # the plan's fee is the minimum
            paid = rng.random() < (0.88 if index == len(months) - 1 else 0.985)
            customer_bills.append((month, Decimal(f"{amount:.2f}"), paid))
        bills[msisdn] = customer_bills

    groups = _demo_groups(rng, rows, as_of)
    key_people = {m for g in groups for m, _ in g.key_persons}
    suspensions = _demo_suspensions(rng, rows, key_people, as_of)
    for msisdn, kind, _ in suspensions:
        if kind == "arrears":  # the last bills are unpaid
            bills[msisdn] = [(m, a, False if m >= months[-3] else p) for m, a, p in bills[msisdn]]
    return DemoClub(as_of=as_of, months=months, customers=rows, bills=bills, groups=groups, suspensions=suspensions)


def _demo_groups(rng: random.Random, rows: list[dict], as_of: dt.date) -> list[DemoGroup]:
    count = min(len(DEMO_GROUPS), max(1, len(rows) // 25))
    eligible = [r for r in rows if r["product_type"] == "primary" and r["join_date"] <= as_of - dt.timedelta(days=365)]
    taken: set[str] = set()
    groups = []
    for code, name, group_class, region_code in DEMO_GROUPS[:count]:
        roles = ["top_decision_maker", "contact"]
        roles += rng.sample(["comms_middle_manager", "division_cadre", "influencer"], k=rng.randint(0, 2))
        local = [r for r in eligible if r["region"] == region_code and r["msisdn"] not in taken]
        pool = local if len(local) >= len(roles) else [r for r in eligible if r["msisdn"] not in taken]
        if len(pool) < len(roles):
            break
        people = rng.sample(pool, k=len(roles))
        taken.update(r["msisdn"] for r in people)
        set_on = as_of - dt.timedelta(days=rng.randrange(40, 400))
        groups.append(
            DemoGroup(
                code=code,
                name=name,
                group_class=group_class,
                key_persons=[(r["msisdn"], role) for r, role in zip(people, roles, strict=True)],
                set_at=at_club_time(set_on, 10, rng.randrange(60)),
            )
        )
    return groups


def _demo_suspensions(
    rng: random.Random, rows: list[dict], key_people: set[str], as_of: dt.date
) -> list[tuple[str, str, dt.datetime]]:
    count = max(1, round(len(rows) * 0.015))
    pool = [r["msisdn"] for r in rows if r["msisdn"] not in key_people]
    kinds, weights = zip(*SUSPENSION_KINDS, strict=True)
    result = []
    for msisdn in rng.sample(pool, k=min(count, len(pool))):
        day = as_of - dt.timedelta(days=rng.randrange(1, 60))
        result.append((msisdn, rng.choices(kinds, weights=weights)[0], at_club_time(day, rng.randrange(8, 20))))
    return result


# --------------------------------------------------------------------------------------------------------------
# Loading the demo club
# --------------------------------------------------------------------------------------------------------------


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def billing_months_close(months: list[dt.date], *, as_of: dt.date) -> None:
    """Mark the billing months closed as billing would have (a month already closed keeps its closure)."""
    existing = {b.month: b for b in BillingMonth.objects.filter(month__in=months)}
    BillingMonth.objects.bulk_create(
        [BillingMonth(month=m, closed_at=billing_closed_at(m, as_of)) for m in months if m not in existing]
    )
    not_closed = [b for b in existing.values() if b.closed_at is None]
    for billing_month in not_closed:
        billing_month.closed_at = billing_closed_at(billing_month.month, as_of)
    BillingMonth.objects.bulk_update(not_closed, ["closed_at"])


def demo_event(*, event_id: str, type: str, msisdn: str, at: dt.datetime, data: dict) -> dict:
    """A lifecycle event of the demo, through what the events API does (validation, event_ingest and its workflows:
    a suspension freezes the points, as in production). Raises when a rule refuses it."""
    serializer = EventSerializer(
        data={"event_id": event_id, "type": type, "msisdn": msisdn, "occurred_at": at.isoformat(), "data": data}
    )
    serializer.is_valid(raise_exception=True)
    outcome = event_ingest(event=dict(serializer.validated_data))
    if outcome.status_code != 201:
        raise RuntimeError(f"The demo's {type} event of {msisdn} was refused: {outcome.body}")
    return outcome.body


@dataclass
class DemoLogin:
    username: str
    password: str
    role: str


@transaction.atomic
def demo_club_load(club: DemoClub, *, log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Write the club through the customers services, in batches. Returns counts for the summary."""
    for region in DEMO_REGIONS:
        customer_services.region_upsert(code=region.code, name=region.name, province=region.province)

    for chunk in _chunks(club.customers, 5000):
        customer_services.customers_bulk_upsert(rows=chunk)
    ids: dict[str, int] = {}
    for chunk in _chunks([r["msisdn"] for r in club.customers], 5000):
        ids.update(customer_selectors.customer_ids_by_msisdn(chunk))
    log(f"  {len(club.customers)} customers in {len(DEMO_REGIONS)} regions")

    bill_rows = [
        {"customer_id": ids[msisdn], "month": month, "amount": amount, "paid": paid}
        for msisdn, customer_bills in club.bills.items()
        for month, amount, paid in customer_bills
    ]
    for chunk in _chunks(bill_rows, 20000):
        workflows.bills_import(rows=chunk, on=club.as_of)
    log(f"  {len(bill_rows)} bills, {dates.month_str(club.months[0])} to {dates.month_str(club.months[-1])}")

    billing_months_close(club.months, as_of=club.as_of)
    log(f"  {len(club.months)} billing months closed")

    customers = Customer.objects.in_bulk(
        [m for g in club.groups for m, _ in g.key_persons] + [m for m, _, _ in club.suspensions], field_name="msisdn"
    )
    key_persons = 0
    for group in club.groups:
        for msisdn, role in group.key_persons:
            customer_services.key_person_set(
                customer=customers[msisdn],
                group_code=group.code,
                group_class=group.group_class,
                group_name=group.name,
                role=role,
                at=group.set_at,
            )
            key_persons += 1
    log(f"  {len(club.groups)} corporate groups with {key_persons} key persons")

    for msisdn, kind, at in club.suspensions:
        demo_event(event_id=f"seed-demo-suspend-{msisdn}", type="suspended", msisdn=msisdn, at=at, data={"kind": kind})
    log(f"  {len(club.suspensions)} suspended customers")
    return {"customers": len(club.customers), "bills": len(bill_rows)}


# --------------------------------------------------------------------------------------------------------------
# Retention: closure requests, cases in every state, closures this month (the churn report has a month to show)
# --------------------------------------------------------------------------------------------------------------


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the months from `first` to `last`, both included."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = dates.add_months(month, 1)
    return months


# Share of the members of each tier closed this month: diamond and gold above their 2 % yearly target (the churn
# report shows a breach), silver well below.
DEMO_CLOSED_SHARE = {"diamond": 0.03, "gold": 0.03, "silver": 0.012}
# (state the open case is left in, how many): a manager's dashboard has a case of each kind.
DEMO_OPEN_CASES = (
    ("open", 4),
    ("contacted", 3),
    ("offer_made", 3),
    ("considering", 2),
    ("declined", 2),
    ("escalated", 2),
)
DEMO_RETAINED = 4


def _demo_case_moves(case, *, to: str, at: dt.datetime, offers: list[str], rng: random.Random) -> None:
    """Walk a case along the usual path up to `to` (contacted → offer made → …), an hour apart, by her manager."""
    actor = case.manager.user if case.manager_id else None
    for step, state in enumerate(retention_rules.USUAL_PATHS[to], start=1):
        when = at + dt.timedelta(hours=step)
        retention_services.case_transition(
            case=case,
            to=state,
            actor=actor,
            source="seed_demo",
            at=when,
            offer=rng.choice(offers) if state == "offer_made" else "",
            visit_on=(when + dt.timedelta(days=2)).date() if state == "escalated" else None,
            channel="call" if state == "contacted" else "",
            reason_category=rng.choice(ReasonCategory.values) if state == "contacted" else "",
            note="演示数据" if state in ("considering", "declined") else "",
        )


@transaction.atomic
def demo_retention_load(*, as_of: dt.date, seed: int = 1) -> dict[str, int]:
    """Closure requests and retention cases in every state for the demo managers' members, and closures of this
    month (voluntary and arrears) so that the churn report has a month; then the month-end snapshot retention of
    the members of the first rated month, and the risk list."""
    rng = random.Random(seed + 8)
    month = as_of.replace(day=1)
    members = list(
        CustomerTier.objects.filter(
            tier__isnull=False,
            customer__status="active",
            customer__in=Assignment.objects.filter(ended_on__isnull=True).values("customer_id"),
        )
        .select_related("customer", "tier")
        .order_by("customer_id")
    )
    rng.shuffle(members)
    offers = list(RetentionOffer.objects.filter(active=True).values_list("code", flat=True))
    counts = {"closed": 0, "open": 0, "retained": 0}

    def at_day(days_back: int, hour: int) -> dt.datetime:
        return at_club_time(max(month, as_of - dt.timedelta(days=days_back)), hour, rng.randrange(60))

    def request(state) -> object:
        case, _ = retention_services.closure_request(
            customer=state.customer,
            channel=rng.choice(["hotline", "hall", "app"]),
            reason="",
            at=at_day(rng.randrange(0, 6), 9),
            source="seed_demo",
        )
        return case

    by_tier: dict[str, list] = {}
    for state in members:
        by_tier.setdefault(state.tier.code, []).append(state)
    for code, share in DEMO_CLOSED_SHARE.items():
        group = by_tier.get(code, [])
        for state in group[: math.ceil(len(group) * share)]:
            members.remove(state)
            case = request(state)
            if rng.random() < 0.5:
                _demo_case_moves(case, to="escalated", at=case.opened_at, offers=offers, rng=rng)
            retention_services.customer_lifecycle(
                customer=state.customer,
                action="close",
                kind="arrears" if rng.random() < 0.2 else "voluntary",
                at=case.opened_at + dt.timedelta(hours=8),
                source="seed_demo",
            )
            counts["closed"] += 1
    for to, n in (*DEMO_OPEN_CASES, ("retained", DEMO_RETAINED)):
        for state in members[:n]:
            case = request(state)
            _demo_case_moves(case, to=to, at=case.opened_at, offers=offers, rng=rng)
            counts["retained" if to == "retained" else "open"] += 1
        members = members[n:]
    # the month-end snapshots of the rated year (the churn report's line), 拍照保有率 of the members of 1 January
    # (of the first rated month when the demo has no 1 January with members)
    first_run = RatingRun.objects.filter(dry_run=False, status="done").order_by("month").first()
    if first_run is not None and first_run.evaluation_date < month:
        first = max(first_run.month, dates.add_months(month, -12))
        for snapshot_month in _months(first, dates.add_months(month, -1)):
            base = dt.date(snapshot_month.year, 1, 1)
            retention_services.snapshot_month(
                month=snapshot_month,
                base_date=base if base >= first_run.evaluation_date else first_run.evaluation_date,
                on=as_of,
                at=timezone.now(),
            )
    daily_run(on=as_of, at=timezone.now())  # again (idempotent): the retention contacts due by today are overdue now
    counts["at_risk"] = retention_services.risk_refresh(on=as_of)
    return counts


# --------------------------------------------------------------------------------------------------------------
# The desk's work: a year of contacts, the last weeks' obligations done (most on time, a few late per manager),
# service plans and work logs to review, cards at each stage, benefit redemptions
# --------------------------------------------------------------------------------------------------------------

# Calls a year per tier (a quarterly call for silver, every other month for gold, monthly for diamond), besides the
# greetings of the festivals (SMS).
DEMO_RATED_MONTHS = 13  # a year of tier history: the month-end snapshots of the last 12 months have members
# Members closing in each past month: about 1.5 % a year, under the 2 % target (this month's breach: DEMO_CLOSED_SHARE).
DEMO_MONTHLY_CLOSED_SHARE = 0.0013
DEMO_CALLS_A_YEAR = {"diamond": 12, "gold": 6, "silver": 4}
DEMO_GREETINGS = ((2, 10, "春节问候短信"), (9, 25, "中秋问候短信"))
DEMO_CALL_NOTES = (
    "",
    "",
    "",
    "客户对当前套餐满意",
    "提醒积分年底到期，建议兑换",
    "介绍会员权益：机场贵宾厅",
    "询问国际漫游资费，已发送资费说明",
    "客户反映家里信号弱，已报网络部门",
    "约下周到营业厅办理副卡",
    "客户出差中，稍后回电",
    "推荐宽带融合套餐，客户考虑中",
    "核对账单，客户无异议",
)
# How many past-due items each manager is left late with (the rest was done, most on time).
DEMO_LATE_PER_MANAGER = (2, 6)
DEMO_ON_TIME = 0.92
# Share of this week's routine SMS already sent in the morning batch, and of this month's calls already made.
DEMO_SMS_SENT = 0.6
DEMO_CALLS_MADE = 0.3
# The stages of the cards of each manager's members (how many of each), and the actions that reach them.
DEMO_CARD_STAGES = (
    ("collecting", 1, ()),
    ("collected", 1, ("collect",)),
    ("at_maker", 2, ("collect", "send_to_maker")),
    ("arrived", 1, ("collect", "send_to_maker", "arrive")),
    ("mailed", 1, ("collect", "send_to_maker", "arrive", "deliver:mail")),
    ("awaiting_pickup", 1, ("collect", "send_to_maker", "arrive", "deliver:self_pickup")),
    ("door_delivery", 1, ("collect", "send_to_maker", "arrive", "deliver:door")),
    ("received", 3, ("collect", "send_to_maker", "arrive", "deliver:mail", "receive")),
)
DEMO_REDEEMING = 0.08  # share of the members who used a lounge this period
DEMO_LOUNGES = (("lounge_airport", "贵宾厅-白云T2"), ("lounge_train_province", "高铁贵宾厅-广州南"))


def _served_members() -> list[tuple[int, int, int, str]]:
    """(customer id, manager id, manager's user id, tier code) of every member an account manager serves now."""
    return list(
        Assignment.objects.filter(ended_on__isnull=True, customer__tier_state__tier__isnull=False)
        .order_by("customer_id")
        .values_list("customer_id", "manager_id", "manager__user_id", "customer__tier_state__tier__code")
    )


def _logged_by(customer_id: int, manager_id: int, users: dict[int, int]) -> dict:
    """A contact with the member by her manager, logged on the dashboard (as a real club's trail is)."""
    return {
        "customer_id": customer_id,
        "manager_id": manager_id,
        "logged_by_id": users.get(manager_id),
        "source": "dashboard",
    }


def _at(rng: random.Random, day: dt.date) -> dt.datetime:
    """A working hour of `day`."""
    return at_club_time(day, rng.randrange(9, 18), rng.randrange(60))


def demo_closures_in_month(*, month: dt.date, as_of: dt.date, seed: int = 1) -> int:
    """A few members ask to close and close their numbers during a past month (most voluntarily, some for arrears),
    right after that month's rating and before the next: the churn report has a rate for every month of the year, not only this one.
    Through the lifecycle service, as production records a closure (churn record, tier removed at once)."""
    rng = random.Random(seed * 1000 + month.year * 12 + month.month)
    members = list(
        CustomerTier.objects.filter(tier__isnull=False, customer__status="active")
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )
    picked = rng.sample(members, k=min(len(members), round(len(members) * DEMO_MONTHLY_CLOSED_SHARE)))
    last = min(dates.month_end(month), as_of - dt.timedelta(days=1))
    for customer in Customer.objects.filter(pk__in=picked).order_by("pk"):
        asked = month + dt.timedelta(days=rng.randrange(5, max(6, (last - month).days - 3)))
        retention_services.customer_lifecycle(
            customer=customer, action="request_closure", at=_at(rng, min(asked, last)), source="seed_demo"
        )
        retention_services.customer_lifecycle(
            customer=customer,
            action="close",
            kind="arrears" if rng.random() < 0.25 else "voluntary",
            at=_at(rng, min(asked + dt.timedelta(days=3), last)) + dt.timedelta(hours=1),
            source="seed_demo",
        )
    return len(picked)


def demo_contacts_load(*, as_of: dt.date, seed: int = 1) -> dict[str, int]:
    """A year of contacts of the served members (calls by tier, festival greetings), then the obligations due before
    `as_of` done by a contact — most by their due date, a few late — except a few per manager left overdue. Set-based:
    one contacts_history_load (bulk inserts, bulk updates)."""
    from managers.models import Obligation

    rng = random.Random(seed + 17)
    start = as_of - dt.timedelta(days=365)
    rows: list[dict] = []
    members = _served_members()
    for customer_id, manager_id, user_id, tier in members:
        by = _logged_by(customer_id, manager_id, {manager_id: user_id})
        calls = DEMO_CALLS_A_YEAR.get(tier, 4)
        for i in range(calls):
            day = start + dt.timedelta(days=int(365 * (i + rng.random()) / calls))
            if day >= as_of - dt.timedelta(days=35):
                continue  # the last weeks' contacts close obligations (below)
            outcome = rng.choices(["reached", "no_answer", "powered_off"], weights=[86, 10, 4])[0]
            at = _at(rng, day)
            base = {**by, "occurred_at": at}
            rows.append({**base, "channel": "call", "outcome": outcome, "note": rng.choice(DEMO_CALL_NOTES)})
            if outcome != "reached":  # not reached: an SMS the same day, a call again two days later
                rows.append(
                    {**base, "channel": "sms", "outcome": "no_answer", "occurred_at": at + dt.timedelta(hours=1)}
                )
                again = _at(rng, day + dt.timedelta(days=2))
                rows.append({**base, "channel": "call", "outcome": "reached", "occurred_at": again})
        for month, day_of_month, note in DEMO_GREETINGS:
            day = dt.date(
                as_of.year - (1 if (month, day_of_month) >= (as_of.month, as_of.day) else 0), month, day_of_month
            )
            if day >= start:
                sent = at_club_time(day, 9, rng.randrange(30))
                rows.append({**by, "occurred_at": sent, "channel": "sms", "outcome": "reached", "note": note})
    history = len(rows)

    due = list(
        Obligation.objects.filter(status__in=["open", "overdue"], due_on__lt=as_of)
        .exclude(
            kind__in=[
                "birthday_gift",
                "card_pickup_notice",
                "card_receipt_check",
                "card_pickup_reminder",
                "card_door_delivery",
            ]
        )
        .order_by("manager_id", "due_on", "id")
        .values_list("pk", "customer_id", "manager_id", "opened_on", "due_on")
    )
    by_manager: dict[int, list] = {}
    for item in due:
        by_manager.setdefault(item[2], []).append(item)
    users = {manager_id: user_id for _c, manager_id, user_id, _t in members}
    left = 0
    for items in by_manager.values():
        rng.shuffle(items)
        late = min(len(items), rng.randint(*DEMO_LATE_PER_MANAGER))
        left += late
        for pk, customer_id, manager_id, opened_on, due_on in items[late:]:
            if rng.random() < DEMO_ON_TIME or due_on >= as_of - dt.timedelta(days=1):
                day = opened_on + dt.timedelta(days=rng.randrange(max(1, (due_on - opened_on).days + 1)))
            else:  # done, but late
                day = min(as_of - dt.timedelta(days=1), due_on + dt.timedelta(days=rng.randrange(1, 6)))
            rows.append(
                {
                    **_logged_by(customer_id, manager_id, users),
                    "occurred_at": _at(rng, day),
                    "channel": "call",
                    "outcome": "reached",
                    "note": rng.choice(DEMO_CALL_NOTES),
                    "closes": [pk],
                }
            )
    result = manager_services.contacts_history_load(rows=rows, source="seed_demo")
    return {"history": history, "closed": result["closed"], "left_late": left}


def demo_week_load(*, as_of: dt.date, at: dt.datetime, seed: int = 1) -> dict[str, int]:
    """This morning's work, after the daily job opened the month's items: most routine SMS of the week sent in the
    morning batch, some of the month's calls made; the rest is the manager's queue. `at`: now (seeded before 9 in
    the morning, the work was done in the hour before; seeded just after midnight, none of it after `at`)."""
    from managers.models import Obligation

    rng = random.Random(seed + 19)
    rows = []
    morning = max(at_club_time(as_of), min(at_club_time(as_of, 8), at - dt.timedelta(hours=1)))
    users = {manager_id: user_id for _c, manager_id, user_id, _t in _served_members()}
    for pk, customer_id, manager_id, kind in (
        Obligation.objects.filter(
            status="open", opened_on__lte=as_of, due_on__gte=as_of, kind__in=["routine_sms", "periodic_contact"]
        )
        .order_by("id")
        .values_list("pk", "customer_id", "manager_id", "kind")
    ):
        if kind == "routine_sms" and rng.random() < DEMO_SMS_SENT:
            rows.append(
                {
                    **_logged_by(customer_id, manager_id, users),
                    "channel": "sms",
                    "outcome": "no_answer",
                    "occurred_at": min(at, morning + dt.timedelta(seconds=rng.randrange(600))),
                    "closes": [pk],
                    "note": "月度关怀短信",
                }
            )
        elif kind == "periodic_contact" and rng.random() < DEMO_CALLS_MADE:
            rows.append(
                {
                    **_logged_by(customer_id, manager_id, users),
                    "channel": "call",
                    "outcome": "reached",
                    "occurred_at": min(at, morning + dt.timedelta(minutes=rng.randrange(10, 60))),
                    "closes": [pk],
                    "note": rng.choice(DEMO_CALL_NOTES),
                }
            )
    # a call that reached the member closes her routine call too
    calls = {row["customer_id"]: row for row in rows if row["channel"] == "call"}
    for pk, customer_id in Obligation.objects.filter(
        status="open", kind="routine_call", customer_id__in=list(calls)
    ).values_list("pk", "customer_id"):
        calls[customer_id]["closes"].append(pk)
    return manager_services.contacts_history_load(rows=rows, source="seed_demo")


def demo_plans_load(*, as_of: dt.date) -> dict[str, int]:
    """Each manager's plans (the year's and last week's approved, this month's and this week's submitted for review)
    and her work log of the last two weeks' working days (the older ones reviewed, the last three waiting)."""
    from managers.models import AccountManager

    supervisor = get_user_model().objects.filter(username="supervisor").first()
    counts = {"plans": 0, "work_logs": 0}
    week = as_of - dt.timedelta(days=as_of.weekday())
    reviewed_at = at_club_time(as_of - dt.timedelta(days=1), 17)
    for manager in AccountManager.objects.filter(supervisor=supervisor).order_by("employee_no"):
        region = manager.region.name
        plans = (
            (
                "year",
                as_of.replace(month=1, day=1),
                f"{as_of.year} 年{region}分公司 VIP 服务计划：钻石卡客户每月回访，金卡客户双月回访，"
                "银卡客户季度回访；全年保有率不低于 98%；生日关怀 100% 覆盖。",
                True,
            ),
            ("week", week - dt.timedelta(days=7), "上周：完成新入会客户首次联系；跟进两位申请销户客户。", True),
            (
                "month",
                as_of.replace(day=1),
                f"{as_of:%m} 月：年底积分到期提醒；钻石卡客户年终回访；制卡进度跟踪；挽留个案逐一上门。",
                False,
            ),
            ("week", week, "本周：逾期事项清零；本周生日客户礼品确认；挽留个案回访。", False),
        )
        for scope, period_start, content, approve in plans:
            plan = manager_services.service_plan_save(
                manager=manager, scope=scope, period_start=period_start, content=content, submit=True
            )
            if approve and supervisor is not None:
                manager_services.service_plan_review(
                    plan=plan, approve=True, at=reviewed_at, comment="同意，按计划执行。", actor=supervisor
                )
            counts["plans"] += 1
        days = [as_of - dt.timedelta(days=n) for n in range(1, 15)]
        working = [d for d in days if d.weekday() < 5][:8]
        for i, day in enumerate(working):
            log = manager_services.work_log_save(
                manager=manager,
                date=day,
                content=f"回访客户 {6 + i % 5} 位，短信关怀 {20 + i * 3} 条；跟进制卡与挽留个案。",
            )
            if i >= 3 and supervisor is not None:
                manager_services.work_log_review(log=log, comment="已阅。", at=reviewed_at, actor=supervisor)
            counts["work_logs"] += 1
    return counts


def demo_cards_load(*, as_of: dt.date, seed: int = 1) -> dict[str, int]:
    """Membership cards at each stage for each manager's members, moved along by the card services (a few dozen)."""
    from managers.models import AccountManager, MembershipCard

    rng = random.Random(seed + 23)
    with_card = set(MembershipCard.objects.values_list("customer_id", flat=True))
    by_manager: dict[int, list[int]] = {}
    for customer_id, manager_id, _user, _tier in _served_members():
        if customer_id not in with_card:
            by_manager.setdefault(manager_id, []).append(customer_id)
    customers = Customer.objects.in_bulk([c for ids in by_manager.values() for c in ids])
    managers = AccountManager.objects.in_bulk(list(by_manager))
    count = 0
    for manager_id, ids in sorted(by_manager.items()):
        picked = iter(rng.sample(ids, k=min(len(ids), sum(n for _s, n, _a in DEMO_CARD_STAGES))))
        for _stage, n, actions in DEMO_CARD_STAGES:
            for _ in range(n):
                customer = customers.get(next(picked, None))
                if customer is None:
                    break
                actor = managers[manager_id].user
                card = manager_services.card_start(customer=customer, actor=actor)
                day = as_of - dt.timedelta(days=2 * len(actions) + 1)
                for action in actions:
                    action, _, mode = action.partition(":")
                    day = min(day + dt.timedelta(days=rng.randrange(1, 3)), as_of)
                    card = manager_services.card_advance(
                        card=card,
                        action=action,
                        on=day,
                        delivery_mode=mode,
                        agreed_date=as_of + dt.timedelta(days=2) if mode == "door" else None,
                        address=f"{managers[manager_id].region.name}市天河路 {rng.randrange(1, 400)} 号"
                        if action in ("collect", "deliver")
                        else "",
                        card_name=customer.name if action == "collect" else "",
                        at=_at(rng, day),
                        actor=actor,
                    )
                count += 1
    return {"cards": count}


def demo_redemptions_load(*, as_of: dt.date, seed: int = 1) -> dict[str, int]:
    """Some members used a lounge this period (through the benefits service; a refusal is skipped)."""
    from benefits import selectors as benefit_selectors
    from benefits import services as benefit_services
    from core.errors import DomainError

    rng = random.Random(seed + 29)
    members = [m for m in _served_members() if rng.random() < DEMO_REDEEMING]
    customers = Customer.objects.in_bulk([m[0] for m in members])
    benefits = {code: benefit_selectors.benefit_get(code=code) for code, _ in DEMO_LOUNGES}
    made = 0
    for customer_id, *_ in members:
        code, place = rng.choice(DEMO_LOUNGES)
        day = max(as_of.replace(day=1), as_of - dt.timedelta(days=rng.randrange(0, 4)))
        try:
            benefit_services.benefit_redeem(
                customer=customers[customer_id],
                benefit=benefits[code],
                reference=f"{place}-{customer_id}",
                at=_at(rng, day),
                on=day,
                idempotency_key=f"seed-demo-{code}-{customer_id}",
            )
        except DomainError:
            continue
        made += 1
    return {"redemptions": made}


# The demo's satisfaction targets (this year, last year) and how members score (weights of 1…5): this year a little
# above last year and a little under the target, as a club that must rise year on year finds itself.
DEMO_SATISFACTION_TARGETS = {0: (Decimal("4.30"), Decimal("85.00")), -1: (Decimal("4.10"), Decimal("80.00"))}
DEMO_SCORE_WEIGHTS = {0: (1, 3, 10, 38, 48), -1: (2, 5, 15, 42, 36)}
DEMO_ANSWERING = 0.7  # the share of surveyed members who answer


def demo_satisfaction_load(*, as_of: dt.date, seed: int = 1) -> dict[str, int]:
    """This year's and last year's satisfaction targets, and the quarterly sample of this quarter and of the same
    quarter last year (drawn on the quarter's first day by the survey service, as the daily job draws it), most
    sampled members answering by SMS within days (never after `as_of` 09:00): the cockpit, the supervisor's team page
    and the satisfaction report show a score against the target and last year out of the box."""
    from service import surveys
    from service.models import AnswerChannel, SurveySend, SurveyTrigger

    rng = random.Random(seed + 41)
    now = at_club_time(as_of, 9)
    first = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    counts = {"targets": 0, "surveys": 0, "answers": 0}
    for years_back, (mean, share) in sorted(DEMO_SATISFACTION_TARGETS.items()):
        surveys.satisfaction_target_set(
            year=as_of.year + years_back, mean_score=mean, satisfied_share=share, at=now, actor=None
        )
        counts["targets"] += 1
    for years_back in sorted(DEMO_SCORE_WEIGHTS):
        day = first.replace(year=first.year + years_back)
        until = min(now, at_club_time(dates.add_months(day, 3)))
        surveys.surveys_daily(on=day, at=at_club_time(day, 7), seed=seed)
        sends = SurveySend.objects.filter(trigger=SurveyTrigger.SAMPLE, reference=surveys.quarter_label(day))
        for send in sends.select_related("customer", "survey").order_by("id"):
            counts["surveys"] += 1
            hours = (until - send.sent_at).total_seconds() / 3600
            if hours < 1 or rng.random() >= DEMO_ANSWERING:
                continue
            surveys.survey_answer(
                customer=send.customer,
                survey=send.survey,
                score=rng.choices(range(1, 6), weights=DEMO_SCORE_WEIGHTS[years_back])[0],
                answered_at=send.sent_at + dt.timedelta(hours=rng.uniform(1, min(hours, 240))),
                actor=None,
                channel=AnswerChannel.SMS,
            )
            counts["answers"] += 1
    return counts


def new_password(length: int = 14) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


@transaction.atomic
def demo_users_create() -> list[DemoLogin]:
    """The demo logins, each with a fresh random password (an existing user of that name gets a new one). The
    supervisor is in the Supervisors role; each manager's login is made by manager_upsert, as the API makes it."""
    user_model = get_user_model()
    supervisors, _ = UserGroup.objects.get_or_create(name=SUPERVISORS)
    account_managers, _ = UserGroup.objects.get_or_create(name=ACCOUNT_MANAGERS)
    managers = dict(zip([u[0] for u in DEMO_USERS if u[0].startswith("manager")], DEMO_REGIONS, strict=False))
    logins = []
    for username, role, is_staff, is_superuser, (first_name, last_name) in DEMO_USERS:
        if username in managers:
            i = list(managers).index(username)
            manager, _ = manager_services.manager_upsert(
                employee_no=f"E{i + 1:04d}",
                username=username,
                name=f"{last_name}{first_name}",
                region=managers[username].code,
                capacity=DEMO_MANAGER_CAPACITY,
                supervisor="supervisor",
            )
            user = manager.user
        else:
            user, _ = user_model.objects.get_or_create(username=username)
        user.is_staff, user.is_superuser, user.is_active = is_staff, is_superuser, True
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@vipclub.example"
        password = new_password()
        user.set_password(password)
        user.save()
        # the real roles and nothing else (no demo-only group, no permissions of her own): an earlier demo's
        # extra groups or hand-given permissions are dropped, so the demo shows what a role may do
        user.user_permissions.clear()
        if username == "supervisor":
            user.groups.set([supervisors])
        elif username in managers:
            user.groups.set([account_managers])
        else:
            user.groups.clear()  # the superuser needs none
        logins.append(DemoLogin(username, password, role))
    return logins


def demo_logins_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.txt"


def demo_logins_text(logins: list[DemoLogin], *, seed: int) -> str:
    width = max(len(login.password) for login in logins)
    lines = [
        f"# vipclub demo logins, written by seed_demo (seed {seed}) at {dt.datetime.now(CLUB_ZONE):%Y-%m-%d %H:%M %z}.",
        "# Local demo only: run seed_demo again on an empty database for new passwords.",
        f"{'username':<12}{'password':<{width + 2}}role",
    ]
    lines += [f"{login.username:<12}{login.password:<{width + 2}}{login.role}" for login in logins]
    return "\n".join(lines) + "\n"


def demo_logins_write(text: str) -> Path:
    path = demo_logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------------
# Checks across the rows of a bulk write, shared by the bulk APIs and the CSV imports.
# They belong in customers/serializers.py (see the report); until moved there, the API views keep their copies.
# --------------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------------
# CSV files
# --------------------------------------------------------------------------------------------------------------


class CsvRejected(Exception):
    """A CSV file that cannot be imported: `problems` holds (line number or None, message), every bad row named."""

    def __init__(self, problems: list[tuple[int | None, str]], total: int):
        self.problems = problems
        self.total = total
        super().__init__(f"{len(problems)} problem(s) in {total} rows")


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flatten(value)]
    if isinstance(detail, list | tuple):
        return [message for item in detail for message in _flatten(item)]
    return [str(detail)]


_IN_REQUEST = re.compile(r"\brow (\d+) in this request\b")


def csv_rows_read(path: Path, row_serializer: type[serializers.Serializer]) -> list[tuple[int, dict]]:
    """(line number, row) for each data line; a row holds the non-empty cells (an empty cell means "not given")."""
    stream = CsvStream(path, row_serializer)
    rows = list(stream.rows())
    if stream.problems:
        raise CsvRejected(stream.problems, len(rows))
    if not rows:
        raise CsvRejected([(None, "The file has a header but no rows: nothing to import.")], 0)
    return rows


class CsvStream:
    """A CSV file read line by line, for imports that stream (constant memory): the header is checked when it is
    opened (CsvRejected at once), `rows()` yields (line number, row of the non-empty cells) as csv_rows_read reads
    them; a line with more cells than the header, or an unreadable one (reading stops there), is a problem in
    `problems`, and `read` counts the rows yielded."""

    def __init__(self, path: Path, row_serializer: type[serializers.Serializer]):
        fields = row_serializer().fields
        required = {name for name, f in fields.items() if f.required}
        try:
            self.handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CsvRejected([(None, f"Cannot read {path}: {exc.strerror}.")], 0) from exc
        self.reader = csv.reader(self.handle)
        try:
            header = [(name or "").strip() for name in next(self.reader, [])]
        except (UnicodeDecodeError, csv.Error) as exc:
            self.handle.close()
            raise CsvRejected([(1, f"Unreadable header: {exc}.")], 0) from exc
        problems = []
        unknown = [name for name in header if name not in fields]
        if unknown:
            problems.append((1, f"Unknown column(s) {', '.join(unknown)}; expected: {', '.join(fields)}."))
        missing = [name for name in fields if name in required and name not in header]
        if missing:
            problems.append((1, f"Missing required column(s): {', '.join(missing)}."))
        if not header or problems:
            self.handle.close()
            raise CsvRejected(problems or [(1, "The file has no header row.")], 0)
        self.header = header
        self.problems: list[tuple[int | None, str]] = []
        self.read = 0

    def rows(self) -> Iterator[tuple[int, dict]]:
        header, width, reader = self.header, len(self.header), self.reader
        try:
            for cells in reader:
                if not cells:  # a blank line (DictReader skips them too)
                    continue
                if len(cells) > width:
                    self.problems.append((reader.line_num, f"{len(cells) - width} cell(s) more than the header has."))
                    continue
                self.read += 1
                yield reader.line_num, {k: v.strip() for k, v in zip(header, cells, strict=False) if v.strip()}
        except (UnicodeDecodeError, csv.Error) as exc:
            self.problems.append((reader.line_num + 1, f"Unreadable: {exc}."))
        finally:
            self.handle.close()


def csv_problems_of(detail) -> list[str]:
    """The messages of a row's ValidationError detail, as the import commands print them (`field: message`)."""
    return _flatten(detail)


def csv_rows_validate(
    lines: list[tuple[int, dict]],
    row_serializer: type[serializers.Serializer],
    *,
    rows_check: Callable[[list[tuple[int, dict]]], dict[int, dict]],
    key: Callable[[dict], object],
    key_field: str = "msisdn",
) -> list[list[dict]]:
    """Validate a CSV file with the bulk API's validation (`validate_rows` + the API's `rows_check`), in chunks of
    the API's maximum rows. Returns the clean rows chunk by chunk, or raises CsvRejected naming every bad line.

    `key` gives the identity of a raw row (None when incomplete): a key repeated in another chunk is a duplicate
    too (a repeat within one chunk is reported by `rows_check`)."""
    chunk_size = settings.VIPCLUB_BULK_MAX_ROWS
    problems: list[tuple[int | None, str]] = []
    first_line: dict = {}
    chunks = []
    for chunk_start in range(0, len(lines), chunk_size):
        chunk = lines[chunk_start : chunk_start + chunk_size]
        chunk_of_line = {line: index for index, (line, _) in enumerate(chunk)}

        def check(clean, chunk=chunk, chunk_of_line=chunk_of_line):
            # Run the shared check on line numbers (so its messages name lines), answer by index in the chunk.
            errors = rows_check([(chunk[index][0], row) for index, row in clean])
            return {chunk_of_line[line]: problems for line, problems in errors.items()}

        try:
            chunks.append(validate_rows([row for _, row in chunk], row_serializer, extra_checks=check))
        except InvalidInput as exc:
            if not exc.fields:
                problems.append((None, exc.message))
            for index, detail in exc.fields.items():
                for message in _flatten(detail):
                    problems.append((chunk[int(index)][0], _IN_REQUEST.sub(r"line \1 of this file", message)))
        for line, row in chunk:  # the same key in an earlier chunk
            row_key = key(row)
            if row_key is None:
                continue
            first = first_line.setdefault(row_key, line)
            if first != line and first < chunk[0][0]:
                problems.append((line, f"{key_field}: Duplicate of line {first} of this file."))
    if problems:
        raise CsvRejected(sorted(problems, key=lambda p: p[0] or 0), len(lines))
    return chunks


def csv_import(
    path: Path,
    row_serializer: type[serializers.Serializer],
    *,
    rows_check: Callable[[list[tuple[int, dict]]], dict[int, dict]],
    key: Callable[[dict], object],
    write: Callable[[list[dict]], tuple[int, int]],
    lock_key: Callable[[dict], object],
) -> tuple[int, int, int]:
    """Read, validate, then write a CSV file chunk by chunk in one transaction: all rows apply, or none.

    `write(rows)` writes one chunk of clean rows and returns (created, updated). The whole file's rows are written
    in `lock_key` order (the key the write locks rows by, core.db): chunk after chunk, one transaction takes its
    locks in one order, so two imports of the same customers never deadlock. Returns (rows, created, updated);
    raises CsvRejected naming every bad line before anything is written."""
    lines = csv_rows_read(path, row_serializer)
    created = updated = 0
    with transaction.atomic():
        chunks = csv_rows_validate(lines, row_serializer, rows_check=rows_check, key=key)
        ordered = sorted((row for rows in chunks for row in rows), key=lock_key)
        size = max(len(rows) for rows in chunks) if chunks else 1
        chunks = [ordered[start : start + size] for start in range(0, len(ordered), size)]
        for rows in chunks:
            chunk_created, chunk_updated = write(rows)
            created, updated = created + chunk_created, updated + chunk_updated
    return sum(len(rows) for rows in chunks), created, updated


def csv_rejection_lines(rejected: CsvRejected, path: Path) -> list[str]:
    return [f"{path}:{line}: {message}" if line else f"{path}: {message}" for line, message in rejected.problems]


def csv_rejection_summary(rejected: CsvRejected) -> str:
    bad_lines = {line for line, _ in rejected.problems if line}
    if not rejected.total:
        return "the file cannot be imported"
    return f"{len(bad_lines)} of {rejected.total} rows are invalid"
