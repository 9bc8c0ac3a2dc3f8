"""Every write of the tiers app: runs and their chunks, overrides, immediate changes (closure, move-in)."""

import datetime as dt
import logging
import time
import traceback

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Min
from django.db.models.functions import Now
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from core import dates, outbox
from core.actors import record
from core.errors import InvalidInput, RuleViolation
from customers import selectors as customer_selectors
from customers.models import Customer

from . import engine, expiring, rules
from .models import (
    CustomerTier,
    OverrideStatus,
    PolicyChange,
    PolicyChangeStatus,
    RatingChunk,
    RatingPolicy,
    RatingRun,
    RunStatus,
    Source,
    Tier,
    TierChange,
    TierOverride,
    TransferFloor,
)
from .signals import rating_run_applied, tier_changed, tier_changes_applied

logger = logging.getLogger(__name__)

DRAFT_FIELDS = {
    "thresholds",
    "window_months",
    "tenure_bonus",
    "min_tenure_months",
    "validity_months",
    "expiry_day",
    "plan_tiers",
    "key_person_tiers",
}


def policy_rules(policy: RatingPolicy, draft: dict | None = None, *, tiers: list | None = None) -> rules.Policy:
    """The policy as a run uses it: active tiers with the policy's thresholds (a tier without one is won by floors
    only: the policy is the one place for thresholds).

    A draft (dry runs: "what if diamond were 5000?") is checked in full before any run exists, with the rules of
    the policy admin (rules.policy_problems): every bad field is named in the 400, under `draft`."""
    if draft is not None and not isinstance(draft, dict):
        raise InvalidInput("A draft is a JSON object of policy fields.", fields={"draft": ["Expected a JSON object."]})
    draft = draft or {}
    unknown = set(draft) - DRAFT_FIELDS
    if unknown:
        raise InvalidInput(
            f"A draft may change only {', '.join(sorted(DRAFT_FIELDS))}.", fields={"draft": sorted(unknown)}
        )
    if tiers is None:  # (code, rank) of the active tiers
        tiers = list(Tier.objects.filter(active=True).values_list("code", "rank"))
    values = {name: getattr(policy, name) for name in (*rules.POLICY_INTEGERS, *rules.POLICY_JSON_SHAPES)}
    values.update(draft)
    if isinstance(draft.get("thresholds"), dict) and isinstance(policy.thresholds, dict):
        values["thresholds"] = {**policy.thresholds, **draft["thresholds"]}
    problems = rules.policy_problems(values, tier_codes=[code for code, _ in tiers])
    if problems:
        in_draft = {k: v for k, v in problems.items() if k in draft}
        in_policy = {k: v for k, v in problems.items() if k not in draft}
        fields = {**({"draft": in_draft} if in_draft else {}), **({"policy": in_policy} if in_policy else {})}
        raise InvalidInput(
            ("The draft is invalid: " if in_draft else f"Policy {policy.code!r} is invalid: ")
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
            fields=fields,
        )
    thresholds_in = values["thresholds"]
    try:
        return rules.Policy.from_json(
            {
                "kind": policy.kind,
                "window_months": values["window_months"],
                "thresholds": {code: thresholds_in[code] for code, _ in tiers if code in thresholds_in},
                "ranks": dict(tiers),
                "tenure_bonus": values["tenure_bonus"],
                "min_tenure_months": values["min_tenure_months"],
                "validity_months": values["validity_months"],
                "expiry_day": values["expiry_day"],
                "plan_tiers": values["plan_tiers"],
                "key_person_tiers": values["key_person_tiers"],
                "run_day": values["run_day"],
            }
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidInput(f"The policy or its draft is malformed: {exc}", fields={"draft": [str(exc)]}) from exc


def default_policy() -> RatingPolicy:
    policy = RatingPolicy.objects.filter(active=True).order_by("code").first()
    if policy is None:
        raise RuleViolation("No rating policy is active; activate one in the admin.", code="no_active_policy")
    return policy


@transaction.atomic
def tier_run_start(
    *,
    month: dt.date,
    policy: RatingPolicy | None = None,
    dry_run: bool = False,
    force: bool = False,
    draft: dict | None = None,
    actor=None,
    dispatch: bool = True,
) -> tuple[RatingRun, bool]:
    """Create a rating run for (policy, month) and dispatch its chunks to the workers.

    One applied run per policy and month: asking again returns the existing run (created=False).
    Refused while the previous month's billing is not closed, unless forced."""
    policy = policy or default_policy()
    if draft and not dry_run:
        raise InvalidInput("A draft policy can only be tried in a dry run.", fields={"draft": ["needs dry_run"]})
    if not dry_run:
        existing = RatingRun.objects.filter(policy=policy, month=month, dry_run=False).first()
        if existing:
            return existing, False
        if policy_changes_apply_due(month=month, policy=policy):  # approved edits effective by this month
            policy.refresh_from_db()
    snapshot = policy_rules(policy, draft)  # a bad draft is a 400 before anything else (no run is created)
    previous = dates.add_months(month, -1)
    if not force and not customer_selectors.month_is_closed(previous):
        raise RuleViolation(
            f"Billing month {previous:%Y-%m} is not closed yet; close it or force the run.", code="month_not_closed"
        )
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"), n=Count("id"))
    try:
        with transaction.atomic():
            run = RatingRun.objects.create(
                policy=policy,
                policy_version=policy.version,
                policy_snapshot=snapshot.to_json(),
                month=month,
                evaluation_date=rules.evaluation_date(month, policy.run_day),
                dry_run=dry_run,
                forced=force,
                progress_total=bounds["n"],
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        return RatingRun.objects.get(policy=policy, month=month, dry_run=False), False
    size = settings.VIPCLUB_RATING_CHUNK_SIZE
    if bounds["n"]:
        RatingChunk.objects.bulk_create(
            RatingChunk(run=run, lo=lo, hi=min(lo + size - 1, bounds["hi"]))
            for lo in range(bounds["lo"], bounds["hi"] + 1, size)
        )
    if dispatch:
        transaction.on_commit(lambda: tier_run_dispatch(run_id=run.pk))
    return run, True


# What publishing raises when the broker cannot be reached (kombu wraps the transport's connection errors).
BROKER_ERRORS = (KombuOperationalError, ConnectionError, TimeoutError, OSError)


def tier_run_dispatch(*, run_id: int) -> int | None:
    """Send every chunk not done to the workers (start, resume, or heal), or the run's finish when all are done, and
    record when. Returns how many chunks were sent, None when the broker could not be reached.

    With the broker unreachable this raises nothing (a run start still answers 202): the run keeps its last
    `dispatched_at` (none for a new run), and the frequent check (tier_runs_heal) sends it when the broker is back.
    Each message is tried once, not retried for seconds (a start must answer promptly)."""
    from .tasks import rerate_chunk_task, rerate_finish_task

    chunk_ids = list(RatingChunk.objects.filter(run_id=run_id, done=False).values_list("id", flat=True))
    try:
        for chunk_id in chunk_ids:
            rerate_chunk_task.apply_async((chunk_id,), retry=False)
        if not chunk_ids:
            rerate_finish_task.apply_async((run_id,), retry=False)
    except BROKER_ERRORS as exc:
        logger.warning(
            "Rating run %s not dispatched, the broker is unavailable (%s); the next check sends it", run_id, exc
        )
        return None
    RatingRun.objects.filter(pk=run_id).update(dispatched_at=Now())
    return len(chunk_ids)


@transaction.atomic
def tier_run_resume(*, run: RatingRun, actor=None, dispatch: bool = True) -> RatingRun:
    """Resume a failed or interrupted run: only the chunks not done are evaluated again."""
    run = RatingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.DONE:
        raise RuleViolation(f"Run #{run.pk} is already done.", code="run_done")
    run.status = RunStatus.RUNNING
    run.error = ""
    run.save(update_fields=["status", "error"])
    record(actor=actor, action="rating_run_resumed", target=run)
    if dispatch:
        transaction.on_commit(lambda: tier_run_dispatch(run_id=run.pk))
    return run


def _tier_ids() -> dict[str, int]:
    return dict(Tier.objects.values_list("code", "id"))


def _last_change_id() -> int:
    """The history's highest id (a step's changes are written above it)."""
    return TierChange.objects.order_by("-id").values_list("id", flat=True).first() or 0


def tier_run_chunk(*, chunk_id: int) -> bool:
    """Evaluate one chunk in one transaction; a chunk already done is skipped. Returns True if all are done.

    A failure rolls the chunk back, marks the run failed with the error, and re-raises."""
    started = time.monotonic()
    try:
        # Mark the run running in a statement of its own: inside the chunk's transaction the run row stayed locked
        # for the whole first chunk, and every other worker's first chunk waited for it.
        RatingRun.objects.filter(chunks__pk=chunk_id, status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING, started_at=Now()
        )
        with transaction.atomic():
            # Lock the chunk row only: locking the run row too made parallel workers take turns.
            chunk = RatingChunk.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
            if chunk.done:
                return False
            run = chunk.run
            after_id = _last_change_id()
            result = engine.evaluate_chunk(
                run_id=run.pk,
                policy=rules.Policy.from_json(run.policy_snapshot),
                month=run.month,
                closed_months=customer_selectors.closed_months(),
                lo=chunk.lo,
                hi=chunk.hi,
                tier_ids=_tier_ids(),
                apply=not run.dry_run,
            )
            if not run.dry_run and engine.WRITE_EVENTS:  # (off only in bench/rerate.py's run without events)
                tier_changes_applied.send(
                    sender=TierChange,
                    run_id=run.pk,
                    on=run.evaluation_date,
                    lo=chunk.lo,
                    hi=chunk.hi,
                    after_id=after_id,
                )
            RatingChunk.objects.filter(pk=chunk.pk).update(
                done=True,
                counts=result.counts,
                customers=result.customers,
                done_at=Now(),
                seconds=time.monotonic() - started,
                attempts=F("attempts") + 1,
            )
            RatingRun.objects.filter(pk=run.pk).update(progress_done=F("progress_done") + result.customers)
            return not RatingChunk.objects.filter(run_id=run.pk, done=False).exists()
    except Exception as exc:
        logger.exception("Rating chunk %s failed", chunk_id)
        run_id = RatingChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
        RatingChunk.objects.filter(pk=chunk_id).update(attempts=F("attempts") + 1)
        RatingRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(
            status=RunStatus.FAILED, error=f"chunk {chunk_id}: {exc!r}\n{traceback.format_exc(limit=5)}"[:4000]
        )
        raise


def tier_run_finish(*, run_id: int, follow_up: bool = True) -> bool:
    """Close a run whose chunks are all done: total counts, status done, then (an applied run, unless the caller
    runs it itself: follow_up=False) the monthly pipeline through the `rating_run_applied` signal."""
    with transaction.atomic():
        run = RatingRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.DONE or RatingChunk.objects.filter(run=run, done=False).exists():
            return False
        counts = {t: 0 for t in ("upgraded", "downgraded", "renewed", "held", "joined", "left", "unchanged")}
        for chunk_counts in RatingChunk.objects.filter(run=run).values_list("counts", flat=True):
            for key, n in chunk_counts.items():
                counts[key] = counts.get(key, 0) + n
        run.counts = counts
        run.status = RunStatus.DONE
        run.error = ""
        run.started_at = run.started_at or Now()  # the database's clock (the instance is not read back)
        run.finished_at = Now()
        run.progress_done = sum(counts.values())
        run.save(update_fields=["counts", "status", "error", "started_at", "finished_at", "progress_done"])
        if follow_up and not run.dry_run:
            transaction.on_commit(lambda: rating_run_applied.send(sender=RatingRun, run_id=run_id))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tiers_customertier")
    return True


def tier_run_execute(*, run: RatingRun, workers: int = 1, on_progress=None, follow_up: bool = True) -> RatingRun:
    """Run every chunk not done here, in this process (`workers` threads), then finish. For the command
    line, benchmarks and tests; the scheduler and the API use Celery workers instead. The run counts as dispatched
    (taken up here): the frequent check leaves it alone while its chunks make progress."""
    RatingRun.objects.filter(pk=run.pk).update(dispatched_at=Now())
    chunk_ids = list(RatingChunk.objects.filter(run=run, done=False).values_list("id", flat=True))

    def work(chunk_id):
        try:
            tier_run_chunk(chunk_id=chunk_id)
        finally:
            if workers > 1:
                connection.close()
        if on_progress:
            on_progress()

    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, chunk_ids))
    else:
        for chunk_id in chunk_ids:
            work(chunk_id)
    tier_run_finish(run_id=run.pk, follow_up=follow_up)
    run.refresh_from_db()
    return run


def _write_state(*, customer: Customer, new: rules.TierState, transition: str, reason: str, on: dt.date) -> None:
    tier_ids = _tier_ids()
    state = (
        CustomerTier.objects.select_for_update(of=("self",)).filter(customer=customer).select_related("tier").first()
    )
    old_tier = state.tier if state else None
    TierChange.objects.create(
        customer=customer,
        run=None,
        from_tier=old_tier,
        to_tier_id=tier_ids.get(new.tier) if new.tier else None,
        transition=transition,
        reason=reason,
        effective_on=on,
        valid_until=new.valid_until,
    )
    since = on if (old_tier.code if old_tier else None) != new.tier else (state.since if state else on)
    CustomerTier.objects.update_or_create(
        customer=customer,
        defaults={
            "tier_id": tier_ids.get(new.tier) if new.tier else None,
            "source": new.source,
            "valid_until": new.valid_until,
            "since": since if new.tier else None,
            "score_tier_id": tier_ids.get(new.score_tier) if new.score_tier else None,
            "score_valid_until": new.score_valid_until,
        },
    )
    outbox.emit(
        type="tier.changed",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=Now(),  # the database's clock, as the run's events
        data={
            "from_tier": old_tier.code if old_tier else None,
            "to_tier": new.tier,
            "reason": str(reason),
            "effective_on": on.isoformat(),
            "valid_until": new.valid_until.isoformat() if new.valid_until else None,
            "run": None,
        },
    )
    tier_changed.send(
        sender=CustomerTier,
        customer_id=customer.pk,
        from_tier=old_tier.code if old_tier else None,
        to_tier=new.tier,
        on=on,
    )


def current_state(customer: Customer) -> rules.TierState:
    state = CustomerTier.objects.filter(customer=customer).select_related("tier", "score_tier").first()
    if not state or not state.tier:
        return rules.NONE
    score_tier = state.score_tier.code if state.score_tier else None
    return rules.TierState(state.tier.code, state.source, state.valid_until, score_tier, state.score_valid_until)


@transaction.atomic
def tier_remove_for_closure(*, customer: Customer, on: dt.date) -> bool:
    """Closing a customer removes the tier at once, without waiting for a run (who closed her is on the closure's
    status change)."""
    if current_state(customer).tier is None:
        return False
    _write_state(customer=customer, new=rules.NONE, transition="left", reason=Source.CLOSURE, on=on)
    return True


def _apply_now(*, customer: Customer, on: dt.date, reason: str, **floor) -> str:
    """Apply one floor (transfer=(tier, until) or override=(tier, ends on)) at once, as the daily floors step would:
    the score-won tier still valid is kept beside it."""
    tiers = dict(Tier.objects.filter(active=True).values_list("code", "rank"))
    policy = rules.Policy(kind=rules.ANNUAL, window_months=12, thresholds={}, ranks=tiers)
    current = current_state(customer)
    candidate = rules.choose(policy, can_hold=True, score=rules.kept_score(policy, current, on), **floor)
    transition, new = rules.decide(policy, current, candidate, forced="override" in floor)
    if transition in rules.CHANGING:
        _write_state(customer=customer, new=new, transition=transition, reason=reason, on=on)
    return transition


@transaction.atomic
def tier_override_create(
    *, customer: Customer, tier: Tier, reason: str, starts_on: dt.date, ends_on: dt.date, actor
) -> TierOverride:
    problems = {}
    if not (reason or "").strip():
        problems["reason"] = ["A reason is required."]
    if not ends_on:
        problems["ends_on"] = ["An end date is required."]
    elif starts_on and ends_on < starts_on:
        problems["ends_on"] = ["The end date is before the start date."]
    if problems:
        raise InvalidInput("The override is incomplete.", fields=problems)
    override = TierOverride(
        customer=customer, tier=tier, reason=reason.strip(), starts_on=starts_on, ends_on=ends_on, created_by=actor
    )
    override._history_user = actor  # the audit trail's "who" (simple-history), also outside a request
    override.save(force_insert=True)
    return override


@transaction.atomic
def tier_override_approve(*, override: TierOverride, actor, at: dt.datetime, on: dt.date | None = None) -> TierOverride:
    """A second staff user approves at `at`; an override active on `on` (default: `at`'s day) applies at once (it
    wins, up or down)."""
    override = TierOverride.objects.select_for_update().get(pk=override.pk)
    if override.status != OverrideStatus.PENDING:
        raise RuleViolation(f"This override is {override.status}, not awaiting approval.", code="override_not_pending")
    if actor is None or actor.pk == override.created_by_id:
        raise RuleViolation("An override must be approved by a second staff user.", code="four_eyes")
    override.status = OverrideStatus.APPROVED
    override.approved_by = actor
    override.approved_at = at
    override._history_user = actor
    override.save(update_fields=["status", "approved_by", "approved_at"])
    on = on or timezone.localdate(at)
    if override.starts_on <= on <= override.ends_on:
        _apply_now(
            customer=override.customer, on=on, reason=Source.OVERRIDE, override=(override.tier.code, override.ends_on)
        )
    return override


@transaction.atomic
def tier_override_decide(*, override: TierOverride, status: str, actor) -> TierOverride:
    """Reject a pending override, or revoke an approved one (its tier then lapses at the next daily floors step)."""
    override = TierOverride.objects.select_for_update().get(pk=override.pk)
    allowed = {OverrideStatus.REJECTED: OverrideStatus.PENDING, OverrideStatus.REVOKED: OverrideStatus.APPROVED}
    if status not in allowed or override.status != allowed[status]:
        raise RuleViolation(f"Cannot mark a {override.status} override {status}.", code="override_state")
    override.status = status
    override._history_user = actor  # the audit trail's "who" (simple-history), also outside a request
    override.save(update_fields=["status"])
    return override


@transaction.atomic
def tier_transfer_floor_set(
    *, customer: Customer, tier_code: str, from_region: str, moved_on: dt.date, actor=None
) -> TransferFloor:
    """跨区入网: keep the tier brought along until 31 December of the move's year; applies at once."""
    tier = Tier.objects.filter(code=tier_code, active=True).first()
    if tier is None:
        raise InvalidInput(f"Unknown tier {tier_code!r}.", fields={"tier": [f"unknown tier {tier_code!r}"]})
    floor = TransferFloor.objects.create(
        customer=customer,
        tier=tier,
        from_region=from_region,
        moved_on=moved_on,
        kept_until=dt.date(moved_on.year, 12, 31),
    )
    _apply_now(customer=customer, on=moved_on, reason=Source.TRANSFER, transfer=(tier.code, floor.kept_until))
    record(actor=actor, action="transfer_floor_set", target=floor, tier=tier.code, from_region=from_region)
    return floor


ALL_IDS = 2**63 - 1  # the daily floors step reads every customer id (its candidates come from the floors)


@transaction.atomic(savepoint=False)  # the daily job's step is a transaction already: no savepoint round trips
def tier_floors_apply(*, on: dt.date, only: str | None = None) -> dict[str, int]:
    """Floors between runs (DOMAIN §3), the daily job's step for the business date `on` (replayable for a past date):
    the plan, key-person, move-in and override floors in force on `on` apply, those that ended before it are lifted
    (back to the score-won tier while still valid, else the other floors or none), each change a history row
    effective `on`. Set-based over the whole club (engine.apply_floors), with the floors of the active policy (none
    active: nothing to do). `only`: an SQL subquery of customer ids, the only customers evaluated (the daily job's
    customers whose floor inputs changed since its previous run; None: the whole club). Returns the changes by
    transition."""
    policy = RatingPolicy.objects.filter(active=True).order_by("code").first()
    if policy is None:
        return {}
    rows = list(Tier.objects.values_list("code", "id", "rank", "active"))
    active = [(code, rank) for code, _, rank, is_active in rows if is_active]
    after_id = _last_change_id()
    result = engine.apply_floors(
        policy=policy_rules(policy, tiers=active),
        on=on,
        lo=0,
        hi=ALL_IDS,
        tier_ids={c: i for c, i, *_ in rows},
        only=only,
    )
    if any(n for t, n in result.counts.items() if t in rules.CHANGING):
        tier_changes_applied.send(sender=TierChange, run_id=None, on=on, lo=0, hi=ALL_IDS, after_id=after_id)
    return {t: n for t, n in result.counts.items() if t in rules.CHANGING and n}


@transaction.atomic(savepoint=False)
def tier_expiring_emit(*, on: dt.date, at: dt.datetime) -> int:
    """The daily job's `tier.expiring` step for business date `on` (DOMAIN §11): a `tier.expiring` event for every
    member whose score-won validity ends on `on` + 30 days, with the score so far and the spend still needed to keep
    the tier under the active policy (none active: nothing). Set-based (tiers.expiring), once per member and
    validity: a second call for the same date writes nothing. `at`: the events' time. Returns how many."""
    policy = RatingPolicy.objects.filter(active=True).order_by("code").first()
    if policy is None:
        return 0
    rows = list(Tier.objects.values_list("code", "id", "rank", "active"))
    active = [(code, rank) for code, _, rank, is_active in rows if is_active]
    return expiring.emit_expiring(
        policy=policy_rules(policy, tiers=active),
        on=on,
        at=at,
        tiers={tier_id: code for code, tier_id, *_ in rows},
        closed_months=customer_selectors.closed_months(),
    )


def tier_runs_scheduled(
    *, on: dt.date, now: dt.datetime, stale_after: dt.timedelta = dt.timedelta(minutes=30)
) -> list[int]:
    """The scheduler's daily call on `on`: start due monthly runs, resume runs that made no progress since
    `now - stale_after`."""
    touched = []
    month = on.replace(day=1)
    for policy in RatingPolicy.objects.filter(active=True):
        if on.day < policy.run_day or RatingRun.objects.filter(policy=policy, month=month, dry_run=False).exists():
            continue
        try:
            run, created = tier_run_start(month=month, policy=policy)
        except RuleViolation as exc:
            logger.warning("Monthly rating run of %s for %s not started: %s", policy.code, month, exc.message)
            continue
        if created:
            touched.append(run.pk)
    touched += tier_runs_heal(stalled_after=stale_after, now=now)["dispatched"]
    return touched


# A run start dispatches its chunks when its transaction commits; one still not dispatched this long after its
# creation never was (the broker was down).
DISPATCH_GRACE = dt.timedelta(seconds=30)


def tier_runs_heal(*, stalled_after: dt.timedelta, now: dt.datetime) -> dict[str, list[int]]:
    """Make stopped runs go on without anyone acting (on worker start, and every few minutes by beat):

    - a pending or running run that was never dispatched (the broker was down), or whose last sign of progress
      (creation, dispatch, start, a chunk done) is older than `stalled_after`, gets its unfinished chunks sent again
      (or its finish, when they are all done). A worker killed mid-run leaves its messages unacknowledged until
      the broker's visibility timeout; the chunks sent again run now, and the late copies find their chunk done.
    - an applied run done that long ago whose monthly follow-up has not finished is announced again
      (`rating_run_applied`); the follow-up skips what it did already, and does nothing after a later run's.

    Chunks are idempotent (done in one transaction with their row locked), so sending one twice is harmless.
    Failed runs are left for a person (admin action, `rerate --resume`). Returns the run ids dispatched and
    followed up."""
    cutoff = now - stalled_after
    healed: dict[str, list[int]] = {"dispatched": [], "followed_up": []}
    unfinished = (
        RatingRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
        .annotate(last_chunk_at=Max("chunks__done_at"))
        .order_by("created_at")
    )
    for run in unfinished:
        signs = [t for t in (run.created_at, run.dispatched_at, run.started_at, run.last_chunk_at) if t]
        never_dispatched = run.dispatched_at is None and run.created_at <= now - min(DISPATCH_GRACE, stalled_after)
        if never_dispatched or max(signs) <= cutoff:
            logger.warning(
                "Rating run %s made no progress since %s: dispatching its unfinished chunks", run.pk, max(signs)
            )
            if tier_run_dispatch(run_id=run.pk) is None:
                break  # the broker is down: the next check tries again
            healed["dispatched"].append(run.pk)
    not_followed_up = RatingRun.objects.filter(
        dry_run=False, status=RunStatus.DONE, pipeline_done_at__isnull=True, finished_at__lte=cutoff
    ).order_by("month", "evaluation_date")
    for run_id in not_followed_up.values_list("pk", flat=True):
        try:
            rating_run_applied.send(sender=RatingRun, run_id=run_id)
        except BROKER_ERRORS as exc:
            logger.warning("Follow-up of rating run %s not dispatched, the broker is unavailable (%s)", run_id, exc)
            break
        healed["followed_up"].append(run_id)
    return healed


# --------------------------------------------------------------------------------------------------------------
# Policy edits: an active policy changes through a proposal a second staff user approves (four-eyes), from a month


POLICY_EDIT_FIELDS = ("name", "name_zh", "kind", "active", "run_day", *sorted(DRAFT_FIELDS))


def _policy_values_check(policy: RatingPolicy, values: dict) -> dict:
    """The proposed values of the editable fields, checked as a run would use them (a 400 names every bad field)."""
    unknown = set(values) - set(POLICY_EDIT_FIELDS)
    if unknown:
        raise InvalidInput("Unknown policy fields.", fields={name: ["Unknown field."] for name in sorted(unknown)})
    probe = RatingPolicy(**{name: getattr(policy, name) for name in POLICY_EDIT_FIELDS})
    for name, value in values.items():
        setattr(probe, name, value)
    probe.code = policy.code
    policy_rules(probe)  # raises InvalidInput naming the fields
    return values


@transaction.atomic
def policy_create(*, code: str, values: dict, actor) -> RatingPolicy:
    """A new policy, inactive until a run of it is wanted (activating it later is a proposal like any edit)."""
    code = (code or "").strip()
    if not code or RatingPolicy.objects.filter(code=code).exists():
        raise InvalidInput("The code is empty or taken.", fields={"code": ["Empty or already taken."]})
    policy = RatingPolicy(code=code)
    _policy_values_check(policy, values)
    for name, value in values.items():
        setattr(policy, name, value)
    policy._history_user = actor
    policy.save()
    record(actor=actor, action="policy_created", target=policy)
    return policy


@transaction.atomic
def policy_save(*, policy: RatingPolicy, values: dict, actor) -> RatingPolicy:
    """Save an inactive (unscheduled) policy's fields at once; an active one changes by proposal only."""
    policy = RatingPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.active:
        raise RuleViolation(
            "An active policy changes by a proposal a second staff user approves.", code="policy_needs_approval"
        )
    _policy_values_check(policy, values)
    for name, value in values.items():
        setattr(policy, name, value)
    policy._history_user = actor
    policy.save()
    record(actor=actor, action="policy_saved", target=policy, version=policy.version)
    return policy


@transaction.atomic
def policy_change_propose(
    *, policy: RatingPolicy, values: dict, effective_month: dt.date, note: str, actor, at: dt.datetime
) -> PolicyChange:
    """Propose new values for an active policy from `effective_month` (the first of a month, not before `at`'s)."""
    problems = {}
    if not (note or "").strip():
        problems["note"] = ["A reason is required."]
    if effective_month is None:
        problems["effective_month"] = ["An effective month is required."]
    elif effective_month.replace(day=1) < timezone.localdate(at).replace(day=1):
        problems["effective_month"] = ["The effective month has passed."]
    if problems:
        raise InvalidInput("The policy change is incomplete.", fields=problems)
    _policy_values_check(policy, values)
    changed = {name: value for name, value in values.items() if getattr(policy, name) != value}
    if not changed:
        raise InvalidInput("Nothing would change.", fields={"values": ["No field differs from the policy."]})
    change = PolicyChange.objects.create(
        policy=policy,
        values=changed,
        effective_month=effective_month.replace(day=1),
        note=note.strip(),
        created_by=actor,
        created_at=at,
    )
    record(actor=actor, action="policy_change_proposed", target=change, at=at, fields=sorted(changed))
    return change


def _policy_change_apply(change: PolicyChange, *, at: dt.datetime | None) -> None:
    policy = RatingPolicy.objects.select_for_update().get(pk=change.policy_id)
    for name, value in change.values.items():
        setattr(policy, name, value)
    policy._history_user = change.decided_by
    policy._change_reason = f"policy change #{change.pk}"
    policy.save()
    change.status, change.applied_at = PolicyChangeStatus.APPLIED, at or Now()  # a run's apply: the database's time
    change.save(update_fields=["status", "applied_at"])


@transaction.atomic
def policy_change_approve(*, change: PolicyChange, actor, at: dt.datetime) -> PolicyChange:
    """A second staff user approves: applied at once when its month has begun at `at`, else scheduled (applied by
    `policy_changes_apply_due` before that month's run)."""
    change = PolicyChange.objects.select_for_update().get(pk=change.pk)
    if change.status != PolicyChangeStatus.PENDING:
        raise RuleViolation("This policy change is not awaiting approval.", code="policy_change_not_pending")
    if actor is None or actor.pk == change.created_by_id:
        raise RuleViolation("A policy change must be approved by a second staff user.", code="four_eyes")
    change.status, change.decided_by, change.decided_at = PolicyChangeStatus.SCHEDULED, actor, at
    change.save(update_fields=["status", "decided_by", "decided_at"])
    if change.effective_month <= timezone.localdate(at):
        _policy_change_apply(change, at=at)
    record(actor=actor, action="policy_change_approved", target=change, at=at, status=change.status)
    return change


@transaction.atomic
def policy_change_reject(*, change: PolicyChange, actor, at: dt.datetime) -> PolicyChange:
    change = PolicyChange.objects.select_for_update().get(pk=change.pk)
    if change.status not in (PolicyChangeStatus.PENDING, PolicyChangeStatus.SCHEDULED):
        raise RuleViolation("This policy change is decided already.", code="policy_change_not_pending")
    change.status, change.decided_by, change.decided_at = PolicyChangeStatus.REJECTED, actor, at
    change.save(update_fields=["status", "decided_by", "decided_at"])
    record(actor=actor, action="policy_change_rejected", target=change, at=at)
    return change


@transaction.atomic
def policy_changes_apply_due(
    *, month: dt.date, at: dt.datetime | None = None, policy: RatingPolicy | None = None
) -> int:
    """Apply the approved changes effective by `month` (oldest first); a run of `month` calls this first."""
    due = PolicyChange.objects.filter(status=PolicyChangeStatus.SCHEDULED, effective_month__lte=month)
    if policy is not None:
        due = due.filter(policy=policy)
    applied = 0
    for change in due.order_by("effective_month", "id"):
        _policy_change_apply(change, at=at)
        applied += 1
    return applied


def policy_change_what_if(*, change: PolicyChange, actor) -> PolicyChange:
    """Start the what-if of a proposal: two dry runs of its effective month, one with the policy as it is and one
    with the proposal (set-based, as every run), which tiers.selectors.policy_what_if compares."""
    draft = {name: value for name, value in change.values.items() if name in DRAFT_FIELDS}
    base, _ = tier_run_start(month=change.effective_month, policy=change.policy, dry_run=True, force=True, actor=actor)
    with_change, _ = tier_run_start(
        month=change.effective_month, policy=change.policy, dry_run=True, force=True, draft=draft, actor=actor
    )
    PolicyChange.objects.filter(pk=change.pk).update(base_run=base, draft_run=with_change)
    change.base_run, change.draft_run = base, with_change
    return change
