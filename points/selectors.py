"""Reads of the points app: a customer's points and lots, consumption figures, the ledger, the members whose
points expire this year, credit stars."""

import datetime as dt

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, MonthlyBill, StatusChange
from tiers.models import CustomerTier

from . import rules
from .models import (
    CreditPolicy,
    CreditRating,
    EntryKind,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsPolicy,
    RewardRule,
)


def points_policy() -> PointsPolicy:
    return PointsPolicy.objects.filter(code="default").first() or PointsPolicy(code="default")


def reward_rules() -> list[rules.Reward]:
    return [
        rules.Reward(kind=r.kind, brand=r.brand, min_years=r.min_years, percent=r.percent)
        for r in RewardRule.objects.filter(active=True)
    ]


def credit_table() -> rules.CreditTable:
    policy = CreditPolicy.objects.filter(code="default").first()
    if policy is None:
        return rules.DEFAULT_CREDIT_TABLE
    return rules.CreditTable.from_data(
        brand_points=policy.brand_points,
        tenure_points=policy.tenure_points,
        average_bands=policy.average_bands,
        over_top_band_points=policy.over_top_band_points,
        bills_counted=policy.bills_counted,
        suspension_penalty=policy.suspension_penalty,
        suspension_months=policy.suspension_months,
        star_thresholds=policy.star_thresholds,
        reactivation_hours=policy.reactivation_hours,
    )


def _account(customer: Customer) -> PointsAccount | None:
    return PointsAccount.objects.filter(customer_id=customer.pk).first()


def is_frozen(customer: Customer, account: PointsAccount | None) -> bool:
    """Frozen by an event (suspension, closure request, closure) or by the customer's status itself."""
    return bool(account and account.frozen) or customer.status in rules.FROZEN_STATUSES


def account_brief(customer: Customer) -> dict:
    """`{balance, frozen}` for the customer profile."""
    account = _account(customer)
    return {"balance": account.balance if account else 0, "frozen": is_frozen(customer, account)}


def with_account_and_rating(qs: QuerySet) -> QuerySet:
    """Customers with their points account and stored credit rating joined (one query), for account_brief_of()
    and credit_stars_now_of()."""
    return qs.select_related("points_account", "credit_rating")


def _joined(customer: Customer, name: str) -> tuple[bool, object]:
    """(True, the row or None) when with_account_and_rating() joined the relation `name`, else (False, None)."""
    rel = Customer._meta.get_field(name)
    if not rel.is_cached(customer):
        return False, None
    return True, rel.get_cached_value(customer)


def account_brief_of(customer: Customer) -> dict:
    """account_brief() from the joined account when there is one, without a query."""
    joined, account = _joined(customer, "points_account")
    if not joined:
        return account_brief(customer)
    return {"balance": account.balance if account else 0, "frozen": is_frozen(customer, account)}


def lots_by_year(customer: Customer) -> list[dict]:
    """The lots holding points, merged per year (one expiry each), oldest first: [{year, remaining, expires_on}]."""
    rows = (
        PointsLot.objects.filter(customer_id=customer.pk, remaining__gt=0)
        .values("year", "expires_on")
        .annotate(remaining=Sum("remaining"))
        .order_by("expires_on", "year")
    )
    return [{"year": r["year"], "remaining": r["remaining"], "expires_on": r["expires_on"]} for r in rows]


def consumption(customer: Customer, on: dt.date) -> dict:
    """Consumption points (earned by bills, corrections included, rewards not): per bill month of `on`'s year,
    the year's total and the total ever."""
    months = dict(
        PointsEntry.objects.filter(
            customer_id=customer.pk,
            kind=EntryKind.EARN,
            bill_month__gte=dt.date(on.year, 1, 1),
            bill_month__lte=dt.date(on.year, 12, 31),
        )
        .values_list("bill_month")
        .annotate(points=Sum("amount"))
        .order_by("bill_month")
    )
    account = _account(customer)
    return {
        "months": [{"month": m, "points": p} for m, p in sorted(months.items())],
        "year": sum(months.values()),
        "total": account.total_consumption if account else 0,
    }


def expiring(customer: Customer, year: int) -> dict:
    """What the customer has left that expires by 31 December of `year`."""
    points = (
        PointsLot.objects.filter(
            customer_id=customer.pk,
            remaining__gt=0,
            expires_on__gte=dt.date(year, 1, 1),
            expires_on__lte=dt.date(year, 12, 31),
        ).aggregate(s=Sum("remaining"))["s"]
        or 0
    )
    return {"points": points, "expires_on": dt.date(year, 12, 31)}


def customer_points(customer: Customer, on: dt.date) -> dict:
    """The API's `GET /customers/{msisdn}/points/`."""
    account = _account(customer)
    figures = consumption(customer, on)
    return {
        "balance": account.balance if account else 0,
        "frozen": is_frozen(customer, account),
        "lots": lots_by_year(customer),
        "year_consumption": figures["year"],
        "total_consumption": figures["total"],
        "month_consumption": figures["months"],
        "expiring_this_year": expiring(customer, on.year),
    }


def ledger(customer: Customer) -> QuerySet:
    return PointsEntry.objects.filter(customer_id=customer.pk).select_related("counterpart").order_by("-id")


# -- credit stars -----------------------------------------------------------------------------------------------------


def credit_score(*, customer: Customer, on: dt.date, table: rules.CreditTable) -> rules.CreditScore:
    """One customer's credit score on `on`, by the reference rules (on demand; the monthly job is set-based)."""
    bills = dict(
        MonthlyBill.objects.filter(customer_id=customer.pk, month__lt=on.replace(day=1))
        .order_by("-month")
        .values_list("month", "amount")[: table.bills_counted]
    )
    first, last = rules.suspension_window(on, table.suspension_months)
    tz = timezone.get_current_timezone()
    suspensions = [
        timezone.localtime(at, tz).date()
        for at in StatusChange.objects.filter(
            customer_id=customer.pk,
            to_status="suspended",
            occurred_at__gte=timezone.make_aware(dt.datetime.combine(first, dt.time.min)),
            occurred_at__lt=timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min)),
        ).values_list("occurred_at", flat=True)
    ]
    return rules.credit_score(
        table, brand=customer.brand, join_date=customer.join_date, bills=bills, suspensions=suspensions, on=on
    )


def _stored_stars(rating: CreditRating | None) -> dict | None:
    return None if rating is None else {"stars": rating.stars, "score": rating.score, "as_of": rating.as_of}


def credit_stars(customer: Customer) -> dict | None:
    """The stored credit stars `{stars, score, as_of}`, or None when never computed."""
    return _stored_stars(CreditRating.objects.filter(customer_id=customer.pk).first())


def _stars_now(customer: Customer, stored: dict | None, on: dt.date, table: rules.CreditTable | None) -> dict:
    if stored is not None:
        return {**stored, "computed": "stored"}
    score = credit_score(customer=customer, on=on, table=table or credit_table())
    return {"stars": score.stars, "score": score.score, "as_of": on, "computed": "on_demand"}


def credit_stars_now(customer: Customer, on: dt.date, table: rules.CreditTable | None = None) -> dict:
    """The stored stars, or computed on demand (not stored) when there are none yet."""
    return _stars_now(customer, credit_stars(customer), on, table)


def credit_reactivation_hours(*, customer: Customer, on: dt.date) -> int:
    """The hours of credit reactivation (信用开机) her credit stars give on `on` (0: none)."""
    table = credit_table()
    return rules.credit_reactivation_hours(table, credit_stars_now(customer, on, table)["stars"])


def credit_stars_now_of(customer: Customer, on: dt.date, table: rules.CreditTable | None = None) -> dict:
    """credit_stars_now() from the joined rating when there is one, without a query for it."""
    joined, rating = _joined(customer, "credit_rating")
    if not joined:
        return credit_stars_now(customer, on, table)
    return _stars_now(customer, _stored_stars(rating), on, table)


# -- privileges (DOMAIN §10) ------------------------------------------------------------------------------------------


def is_member(customer_id: int) -> bool:
    """A customer holding a tier now (the tiers app's current state)."""
    return CustomerTier.objects.filter(customer_id=customer_id, tier__isnull=False).exists()


def stored_stars(customer_id: int) -> int:
    """The credit stars as last stored (monthly with the run, or refreshed by staff); none stored yet: 0."""
    return CreditRating.objects.filter(customer_id=customer_id).values_list("stars", flat=True).first() or 0


def customer_privileges(customer: Customer) -> dict:
    """API.md `GET /customers/{msisdn}/privileges/`: `{holiday_no_suspension, delayed_suspension_hours,
    credit_reactivation_hours, priority_hotline, priority_hall}` by rules.privileges, from her tier now and her
    stored credit stars: exactly what the last `privileges.changed` event about her said."""
    return rules.privileges(
        credit_table(),
        member=is_member(customer.pk),
        stars=stored_stars(customer.pk),
        opted_out=Customer.objects.filter(pk=customer.pk).values_list("holiday_opt_out", flat=True).first() or False,
    )


# -- the November list ------------------------------------------------------------------------------------------------


def _expiring_lots(year: int) -> QuerySet:
    return PointsLot.objects.filter(
        remaining__gt=0, expires_on__gte=dt.date(year, 1, 1), expires_on__lte=dt.date(year, 12, 31)
    )


def expiring_customers(*, year: int, base: QuerySet | None = None) -> QuerySet:
    """Customers (of `base`, e.g. a manager's) with points that expire on 31 December of `year`, annotated with
    `expiring_points`, most points first. Closed customers have none (closure clears)."""
    qs = base if base is not None else Customer.objects.all()
    return (
        qs.select_related("region", "points_account")
        .annotate(
            expiring_points=Sum(
                "points_lots__remaining",
                filter=Q(
                    points_lots__remaining__gt=0,
                    points_lots__expires_on__gte=dt.date(year, 1, 1),
                    points_lots__expires_on__lte=dt.date(year, 12, 31),
                ),
            )
        )
        .filter(expiring_points__gt=0)
        .order_by("-expiring_points", "pk")
    )


def expiring_rows(*, year: int, region: str | None = None):
    """The CSV export's rows, one GROUP BY over the lots (streamed)."""
    lots = _expiring_lots(year)
    if region:
        lots = lots.filter(customer__region__code=region)
    rows = (
        lots.values(
            "customer_id",
            msisdn=F("customer__msisdn"),
            name=F("customer__name"),
            brand=F("customer__brand"),
            region=F("customer__region__code"),
            province=F("customer__region__province"),
            status=F("customer__status"),
            balance=F("customer__points_account__balance"),
        )
        .annotate(expiring_points=Sum("remaining"))
        .order_by("region", "customer_id")
    )
    expires = dt.date(year, 12, 31)
    for row in rows.iterator(chunk_size=5000):
        row["expires_on"] = expires
        yield row


def expiring_summary(*, year: int, base: QuerySet | None = None) -> dict:
    """How many customers (of `base`) have how many points expiring on 31 December of `year`."""
    lots = _expiring_lots(year)
    if base is not None:
        lots = lots.filter(customer_id__in=base.values("pk"))
    agg = lots.aggregate(customers=Count("customer_id", distinct=True), points=Sum("remaining"))
    return {"customers": agg["customers"] or 0, "points": agg["points"] or 0, "expires_on": dt.date(year, 12, 31)}


FROZEN_LABELS = {
    "suspended": _("suspended"),
    "pending_closure": _("pending closure"),
    "closed": _("closed"),
}


# -- the customer page (admin and dashboard) --------------------------------------------------------------------------


def customer_points_panel(customer: Customer, on: dt.date, entries: int = 10) -> dict:
    """Everything `points/_customer_points.html` shows: balance, freeze, lots, what expires this year,
    consumption, credit stars, the latest ledger entries."""
    account = _account(customer)
    figures = consumption(customer, on)
    return {
        "balance": account.balance if account else 0,
        "frozen": is_frozen(customer, account),
        "frozen_label": FROZEN_LABELS.get(
            (account.frozen_reason if account and account.frozen else "") or customer.status, ""
        ),
        "lots": lots_by_year(customer),
        "expiring": expiring(customer, on.year),
        "consumption": figures,
        "credit": credit_stars_now(customer, on),
        "entries": list(ledger(customer)[:entries]),
        "on": on,
    }


# -- the ledger invariant (tests, admin check) ------------------------------------------------------------------------


def ledger_invariant_violations(customer_ids=None) -> list[dict]:
    """Customers for whom balance ≠ Σ entries or ≠ Σ lot remaining, or with a lot below zero or above its
    original. Empty when the ledger is sound."""
    entries = PointsEntry.objects.values_list("customer_id").annotate(s=Sum("amount")).order_by()
    lots = PointsLot.objects.values_list("customer_id").annotate(s=Sum("remaining")).order_by()
    accounts = PointsAccount.objects.values_list("customer_id", "balance")
    bad_lots = PointsLot.objects.filter(Q(remaining__lt=0) | Q(remaining__gt=F("original")))
    if customer_ids is not None:
        entries, lots = entries.filter(customer_id__in=customer_ids), lots.filter(customer_id__in=customer_ids)
        accounts, bad_lots = (
            accounts.filter(customer_id__in=customer_ids),
            bad_lots.filter(customer_id__in=customer_ids),
        )
    by_entries, by_lots, balances = dict(entries), dict(lots), dict(accounts)
    problems = []
    for cid in sorted(set(by_entries) | set(by_lots) | set(balances)):
        balance, e, lt = balances.get(cid), by_entries.get(cid, 0), by_lots.get(cid, 0)
        if balance is None or not (balance == e == lt):
            problems.append({"customer_id": cid, "balance": balance, "entries": e, "lots": lt})
    for lot in bad_lots:
        problems.append({"customer_id": lot.customer_id, "lot": lot.pk, "remaining": lot.remaining})
    return problems


# -- the staff cockpit and the points report (vipclub.staff) -------------------------------------------------------


def _live_lots(on: dt.date, region_ids=None) -> QuerySet:
    lots = PointsLot.objects.filter(remaining__gt=0, expires_on__gte=on)
    return lots if region_ids is None else lots.filter(customer__region_id__in=list(region_ids))


def liability(*, on: dt.date, region_ids=None) -> dict:
    """The points the club owes on `on` (live lots of these branches; None: all) and what of it expires by the end
    of `on`'s year: one aggregate."""
    year_end = dt.date(on.year, 12, 31)
    expiring = Q(expires_on__lte=year_end)
    agg = _live_lots(on, region_ids).aggregate(
        points=Sum("remaining"),
        customers=Count("customer_id", distinct=True),
        expiring=Sum("remaining", filter=expiring),
        expiring_customers=Count("customer_id", distinct=True, filter=expiring),
    )
    return {
        "points": agg["points"] or 0,
        "customers": agg["customers"] or 0,
        "expiring": agg["expiring"] or 0,
        "expiring_customers": agg["expiring_customers"] or 0,
        "expires_on": year_end,
    }


def expiry_forecast(*, on: dt.date, region_ids=None) -> list[dict]:
    """The live points per branch and year of expiry (rolling 3-year lots expire on 31 December): rows of
    {region_id, year, points, customers}, one GROUP BY."""
    rows = (
        _live_lots(on, region_ids)
        .values(region_id=F("customer__region_id"), expiry_year=ExtractYear("expires_on"))
        .annotate(points=Sum("remaining"), customers=Count("customer_id", distinct=True))
        .order_by("region_id", "expiry_year")
    )
    return [
        {"region_id": r["region_id"], "year": r["expiry_year"], "points": r["points"], "customers": r["customers"]}
        for r in rows
    ]
