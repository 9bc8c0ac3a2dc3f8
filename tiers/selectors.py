"""Reads of the tiers app: current tiers, history, runs, and the explanation of a customer's tier."""

import datetime as dt
from dataclasses import asdict

from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.utils import timezone

from core import ui
from core.errors import NotFoundError
from customers.models import BillingMonth, Customer, KeyPerson, MonthlyBill, PlanPeriod

from . import rules
from .models import (
    CustomerTier,
    DryRunChange,
    RatingPolicy,
    RatingRun,
    RunStatus,
    Tier,
    TierChange,
    TierOverride,
    TransferFloor,
)


def tier_state(customer: Customer) -> dict | None:
    """`{code, name_zh, name_en, valid_until, source, since}` or None when not a member."""
    state = CustomerTier.objects.filter(customer=customer, tier__isnull=False).select_related("tier").first()
    if state is None:
        return None
    return {
        "code": state.tier.code,
        "name_zh": state.tier.name_zh,
        "name_en": state.tier.name_en,
        "valid_until": state.valid_until,
        "source": state.source,
        "since": state.since,
    }


def tier_state_of(customer: Customer) -> dict | None:
    """tier_state() from the rows annotate_tier() joined to the customer, without a query; read when not joined."""
    rel = Customer._meta.get_field("tier_state")
    if not rel.is_cached(customer):
        return tier_state(customer)
    state = rel.get_cached_value(customer)
    if state is None or state.tier_id is None or state.tier is None:
        return None
    return {
        "code": state.tier.code,
        "name_zh": state.tier.name_zh,
        "name_en": state.tier.name_en,
        "valid_until": state.valid_until,
        "source": state.source,
        "since": state.since,
    }


def annotate_tier(qs: QuerySet) -> QuerySet:
    """Customers with `tier_code`, `tier_source` and `tier_valid_until` in one join."""
    return qs.select_related("tier_state__tier")


def filter_by_tier(qs: QuerySet, tier_code: str) -> QuerySet:
    if tier_code == "none":
        return qs.filter(Q(tier_state__isnull=True) | Q(tier_state__tier__isnull=True))
    return qs.filter(tier_state__tier__code=tier_code)


def tier_codes() -> list[str]:
    return list(Tier.objects.order_by("-rank").values_list("code", flat=True))


def tier_names() -> dict[str, str]:
    """Tier code -> name in the page's language (one small query)."""
    return {code: ui.in_language(zh, en) for code, zh, en in Tier.objects.values_list("code", "name_zh", "name_en")}


def tier_history(customer: Customer) -> QuerySet:
    return TierChange.objects.filter(customer=customer).select_related("from_tier", "to_tier", "run").order_by("-id")


def run_get(run_id) -> RatingRun:
    try:
        return RatingRun.objects.select_related("policy").get(pk=int(run_id))
    except (RatingRun.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError(f"No rating run {run_id}.", code="unknown_run") from exc


def run_changes(run: RatingRun) -> QuerySet:
    model = DryRunChange if run.dry_run else TierChange
    return model.objects.filter(run=run).select_related("customer", "from_tier", "to_tier").order_by("id")


def tier_distribution() -> list[dict]:
    """Members per tier (and non-members), for the admin chart and reports."""
    counts = dict(
        CustomerTier.objects.filter(tier__isnull=False)
        .values("tier__code")
        .annotate(n=Count("pk"))
        .values_list("tier__code", "n")
    )
    return [
        {"code": t.code, "name_zh": t.name_zh, "name_en": t.name_en, "rank": t.rank, "members": counts.get(t.code, 0)}
        for t in Tier.objects.order_by("-rank")
    ]


def state_before(customer: Customer, run: RatingRun | None) -> rules.TierState:
    """The customer's tier just before `run` (or now, when run is None), from the history."""
    changes = TierChange.objects.filter(customer=customer).select_related("to_tier")
    if run is not None:
        changes = changes.exclude(run=run).filter(created_at__lte=run.started_at or run.created_at)
    last = changes.order_by("-id").first()
    if last is None or last.to_tier is None:
        return rules.NONE
    return rules.TierState(last.to_tier.code, last.reason, last.valid_until)


def customer_facts(
    customer: Customer, policy: rules.Policy, month: dt.date, current: rules.TierState
) -> rules.CustomerFacts:
    """What the rules look at for one customer and month (the same data the engine reads in SQL)."""
    E = rules.evaluation_date(month, policy.run_day)
    E_start = timezone.make_aware(dt.datetime.combine(E, dt.time.min))
    window = rules.window_months(month, policy.window_months)
    closed = set(BillingMonth.objects.filter(month__in=window, closed_at__isnull=False).values_list("month", flat=True))
    bills = dict(MonthlyBill.objects.filter(customer=customer, month__in=closed).values_list("month", "amount"))
    plan = PlanPeriod.objects.filter(customer=customer, started_on__lte=E).order_by("-started_on").first()
    roles = list(
        KeyPerson.objects.filter(customer=customer, set_at__lt=E_start).values_list("role", "group__group_class")
    )
    transfer = (
        TransferFloor.objects.filter(customer=customer, moved_on__lte=E, kept_until__gte=E, tier__active=True)
        .select_related("tier")
        .order_by("-tier__rank", "-kept_until")
        .first()
    )
    override = (
        TierOverride.objects.filter(customer=customer, status="approved", starts_on__lte=E, ends_on__gte=E)
        .select_related("tier")
        .order_by("-approved_at", "-id")
        .first()
    )
    return rules.CustomerFacts(
        join_date=customer.join_date,
        product_type=customer.product_type,
        status=customer.status,
        bills=bills,
        plan_code=plan.plan_code if plan else None,
        plan_started_on=plan.started_on if plan else None,
        key_person_roles=roles,
        transfer=(transfer.tier.code, transfer.kept_until) if transfer else None,
        override=(override.tier.code, override.ends_on) if override else None,
        current=current,
    )


def tier_explain(customer: Customer, run: RatingRun) -> dict:
    """Why this tier: the score parts, each floor considered, any validity hold or override, for a run."""
    policy = rules.Policy.from_json(run.policy_snapshot)
    current = state_before(customer, run)
    facts = customer_facts(customer, policy, run.month, current)
    ev = rules.evaluate(policy, run.month, facts)
    thresholds = {code: str(v) for code, v in policy.thresholds.items()}
    return {
        "run": run.pk,
        "month": f"{run.month:%Y-%m}",
        "evaluation_date": ev.evaluation_date,
        "policy": {
            "code": run.policy.code,
            "version": run.policy_version,
            "kind": policy.kind,
            "thresholds": thresholds,
        },
        "eligible": {"can_hold": ev.can_hold, "can_win_by_score": ev.can_win_by_score, "tenure_years": ev.tenure_years},
        "score": {
            "bill_months": {f"{m:%Y-%m}": str(a) for m, a in sorted(facts.bills.items())},
            "bill_points": ev.bill_points,
            "tenure_bonus": ev.tenure_bonus,
            "total": str(ev.score),
            "tier": ev.score_tier,
        },
        "floors": {
            "plan": {"plan_code": facts.plan_code, "started_on": facts.plan_started_on, "tier": ev.plan_tier},
            "key_person": {
                "roles": [{"role": r, "group_class": c} for r, c in facts.key_person_roles],
                "tier": ev.key_person_tier,
            },
            "transfer": {"tier": ev.transfer_tier, "kept_until": facts.transfer[1] if facts.transfer else None},
        },
        "override": {"tier": ev.override_tier, "ends_on": facts.override[1] if facts.override else None},
        "before": asdict(ev.current),
        "candidate": asdict(ev.candidate),
        "held_by_validity": ev.held_by_validity,
        "transition": ev.transition,
        "after": asdict(ev.new_state),
        "reason": ev.reason,
    }


def latest_applied_run() -> RatingRun | None:
    return (
        RatingRun.objects.filter(dry_run=False, status="done")
        .select_related("policy")
        .order_by("-month", "-id")
        .first()
    )


def tier_choices() -> list[tuple[str, str, str]]:
    """(code, name_zh, name_en) of every tier, highest first (the pages' tier filter)."""
    return list(Tier.objects.order_by("-rank").values_list("code", "name_zh", "name_en"))


def customers_changed_between_runs(*, on: dt.date) -> list[int]:
    """The customers whose tier changed on `on` without a run (floors applied or lifted by the daily job, overrides,
    move-ins, closures)."""
    return list(
        TierChange.objects.filter(run__isnull=True, effective_on=on)
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by("customer_id")
    )


def tier_expiring(customer: Customer, *, on: dt.date) -> dict | None:
    """Her score-won tier when its validity ends within 30 days of `on` (DOMAIN §11, the `tier.expiring` event's
    figures): `{tier, tier_name, valid_until, days_left, score, needed}` (Decimal score and yuan needed to keep it at
    the run after the validity, under the active policy), else None. A few small queries."""
    from .services import policy_rules  # the policy as a run uses it (services read it the same way)

    state = CustomerTier.objects.filter(customer=customer).first()
    if state is None or customer.status == "closed":
        return None
    if state.source == "score":
        tier_id, valid_until = state.tier_id, state.valid_until
    else:
        tier_id, valid_until = state.score_tier_id, state.score_valid_until
    if tier_id is None or valid_until is None:
        return None
    if not (on <= valid_until <= on + dt.timedelta(days=rules.EXPIRING_NOTICE_DAYS)):
        return None
    policy = RatingPolicy.objects.filter(active=True).order_by("code").first()
    if policy is None:
        return None
    tier = Tier.objects.get(pk=tier_id)
    rule = policy_rules(policy)
    window = rules.window_months(rules.run_month_after(rule, valid_until), rule.window_months)
    closed = BillingMonth.objects.filter(month__in=window, closed_at__isnull=False).values("month")
    bills = dict(MonthlyBill.objects.filter(customer=customer, month__in=closed).values_list("month", "amount"))
    score, needed = rules.expiring_figures(
        rule, tier.code, valid_until=valid_until, join_date=customer.join_date, bills=bills
    )
    return {
        "tier": tier.code,
        "tier_name": ui.in_language(tier.name_zh, tier.name_en),
        "valid_until": valid_until,
        "days_left": (valid_until - on).days,
        "score": score,
        "needed": needed,
    }


# --- the staff cockpit and its reports (vipclub.staff) ----------------------------------------------------------


def _in_regions(qs: QuerySet, region_ids, path: str = "customer__region_id") -> QuerySet:
    """`qs` limited to these branches (None: every branch)."""
    return qs if region_ids is None else qs.filter(**{f"{path}__in": list(region_ids)})


def tiers_by_rank() -> list[Tier]:
    return list(Tier.objects.order_by("-rank"))


def members_per_tier(*, region_ids=None) -> dict[int, int]:
    """{tier id: members now} of these branches (None: all): one GROUP BY over the current tiers."""
    qs = _in_regions(CustomerTier.objects.filter(tier__isnull=False), region_ids)
    return dict(qs.values("tier_id").annotate(n=Count("pk")).values_list("tier_id", "n"))


def latest_run() -> RatingRun | None:
    """The newest real (not dry) rating run, whatever its status: the cockpit's "last run" and its progress."""
    return RatingRun.objects.filter(dry_run=False).select_related("policy").order_by("-month", "-id").first()


def next_run(*, on: dt.date) -> dict | None:
    """When the scheduler starts the next monthly run of the active policy (tier_runs_scheduled): this month's on
    its run day when it has no run yet, else next month's. None without an active policy."""
    policy = RatingPolicy.objects.filter(active=True).order_by("pk").first()
    if policy is None:
        return None
    month = on.replace(day=1)
    if RatingRun.objects.filter(policy=policy, month=month, dry_run=False).exists():
        month = (month + dt.timedelta(days=32)).replace(day=1)
    day = min(policy.run_day, 28)
    return {"policy": policy, "month": month, "on": max(month.replace(day=day), on if month <= on else month)}


def pending_overrides_count(*, region_ids=None) -> int:
    """Overrides awaiting their second staff user, of these branches' customers."""
    return _in_regions(TierOverride.objects.filter(status="pending"), region_ids).count()


def matrix_runs(*, limit: int = 24) -> list[RatingRun]:
    """The real runs a migration matrix may be drawn for, newest first."""
    return list(RatingRun.objects.filter(dry_run=False).select_related("policy").order_by("-month", "-id")[:limit])


def migration_matrix(*, run_id: int | None = None, month: dt.date | None = None, region_ids=None) -> dict:
    """Tier changes from → to: of one run, or effective in one month (runs and changes between them), of these
    branches. One GROUP BY; `None` stands for "not a member" on either side. Returns the tiers (highest first),
    the counts {(from id, to id): n} and the total."""
    qs = TierChange.objects.all()
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if month is not None:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        qs = qs.filter(effective_on__gte=month, effective_on__lt=end)
    qs = _in_regions(qs, region_ids)
    counts = {
        (f, t): n
        for f, t, n in qs.values("from_tier_id", "to_tier_id")
        .annotate(n=Count("pk"))
        .values_list("from_tier_id", "to_tier_id", "n")
    }
    return {"tiers": tiers_by_rank(), "counts": counts, "total": sum(counts.values())}


def change_since_run(customer: Customer, run: RatingRun | None) -> dict | None:
    """The change of her tier recorded after `run` finished without a run (an override approved, a move-in floor,
    a floor lifted by the daily job, a closure), the newest; None when the run's decision still stands. With an
    override, the approved override behind it (reason, approver, end date). Two queries at most."""
    changes = TierChange.objects.filter(customer=customer, run__isnull=True).select_related("to_tier")
    if run is not None and run.finished_at is not None:
        changes = changes.filter(created_at__gt=run.finished_at)
    change = changes.order_by("-id").first()
    if change is None:
        return None
    override = None
    if change.reason == "override":
        override = (
            TierOverride.objects.filter(
                customer=customer,
                status="approved",
                starts_on__lte=change.effective_on,
                ends_on__gte=change.effective_on,
            )
            .select_related("approved_by", "created_by")
            .order_by("-approved_at", "-id")
            .first()
        )
    return {"change": change, "tier": change.to_tier, "override": override}


def _outcome(run: RatingRun) -> Case:
    """A customer's tier after `run` (a dry run): its change's new tier where it has one, else her current tier."""
    changes = DryRunChange.objects.filter(run=run, customer=OuterRef("pk"))
    return Case(
        When(Exists(changes), then=Subquery(changes.values("to_tier__code")[:1])),
        default=F("tier_state__tier__code"),
    )


def policy_what_if(change) -> dict | None:
    """The what-if of a policy change (tiers.services.policy_change_what_if), once both dry runs are done: members
    per tier today, with the policy as it is and with the change (for the effective month), and the from→to matrix
    between the last two, in one GROUP BY over the customers (set-based). None while a run is still going."""
    base, draft = change.base_run, change.draft_run
    if base is None or draft is None or base.status != RunStatus.DONE or draft.status != RunStatus.DONE:
        return None
    cells = (
        Customer.objects.annotate(now=F("tier_state__tier__code"), before=_outcome(base), after=_outcome(draft))
        .filter(Q(now__isnull=False) | Q(before__isnull=False) | Q(after__isnull=False))
        .values("now", "before", "after")
        .annotate(n=Count("pk"))
        .order_by()
    )
    tiers = list(Tier.objects.order_by("-rank"))
    codes = [t.code for t in tiers] + [None]
    counts = {key: dict.fromkeys(codes, 0) for key in ("now", "before", "after")}
    matrix = {(a, b): 0 for a in codes for b in codes}
    for cell in cells:
        for key in ("now", "before", "after"):
            counts[key][cell[key]] = counts[key].get(cell[key], 0) + cell["n"]
        matrix[cell["before"], cell["after"]] = matrix.get((cell["before"], cell["after"]), 0) + cell["n"]
    labels = {t.code: ui.label(t) for t in tiers}
    return {
        "tiers": [(code, labels.get(code)) for code in codes],
        "rows": [
            {
                "code": code,
                "label": labels.get(code),
                "now": counts["now"][code],
                "before": counts["before"][code],
                "after": counts["after"][code],
                "delta": counts["after"][code] - counts["before"][code],
            }
            for code in codes
        ],
        "matrix": [
            {
                "code": a,
                "label": labels.get(a),
                "cells": [matrix[a, b] for b in codes],
                "total": sum(matrix[a, b] for b in codes),
            }
            for a in codes
        ],
        "moved": sum(n for (a, b), n in matrix.items() if a != b),
    }
