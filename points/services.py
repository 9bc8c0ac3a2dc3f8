"""Every write of the points app. Keyword-only, atomic, with the acting user or system.

One customer at a time (redemption, transfer, freeze, clear, move-in): lock the account row
(select_for_update), read the lots, plan the FIFO take (rules.fifo_take), insert the ledger entry (a unique
idempotency key: a replay returns the stored answer), then update the lots with F() expressions. Many customers
at a time (earning from bills, the year-end expiry, credit stars): set-based SQL in `engine.py`, in customer-id
chunks that a job row records (`PointsJob`), so that a crashed job resumes where it stopped.
"""

import datetime as dt
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from core import outbox
from core.actors import actor_label, record
from core.errors import InvalidInput, RuleViolation
from core.exports import csv_writer
from customers import services as customer_services
from customers.models import Customer

from . import engine, rules, selectors
from .models import (
    AdjustmentStatus,
    CreditRating,
    EntryKind,
    JobKind,
    JobStatus,
    LotKind,
    PointsAccount,
    PointsAdjustment,
    PointsEntry,
    PointsJob,
    PointsLot,
)

logger = logging.getLogger(__name__)


points_policy = selectors.points_policy
reward_rules = selectors.reward_rules
credit_table = selectors.credit_table


# -- earning (set-based) ----------------------------------------------------------------------------------------------


@transaction.atomic
def points_earn_bills(*, bills: list[tuple[int, dt.date]], on: dt.date, actor=None) -> engine.EarnResult:
    """Earn for these bills (customer id, month) what they should have earned minus what they have: a new bill
    earns floor(amount) (+ rewards) into its year's lot, a corrected one posts the difference (a negative one
    takes points back oldest lot first). Idempotent: the same bills again post nothing."""
    if not bills:
        return engine.EarnResult()
    engine.create_keys(sorted(set(bills)))
    result = engine.earn(
        on=on,
        expiry_years=points_policy().expiry_years,
        rewards=reward_rules(),
        keys=True,
        actor=actor_label(actor, max_length=40),
    )
    engine.drop_keys()  # (on an error the transaction rolls back; PostgreSQL drops it at the end anyway)
    return result


def points_earn_staged(*, keys: str, on: dt.date, actor=None) -> engine.EarnResult:
    """points_earn_bills for the bills listed in the temporary table `keys` (customer_id, month, amount as stored;
    e.g. the changes customers.services.bills_upsert_staged left in BILL_CHANGES): the same earning, without the
    keys going through Python nor the bills read again. Must run inside a transaction (the one that staged them)."""
    return engine.earn(
        on=on,
        expiry_years=points_policy().expiry_years,
        rewards=reward_rules(),
        keys=keys,
        actor=actor_label(actor, max_length=40),
    )


# -- jobs over every customer, in id chunks ---------------------------------------------------------------------------


def _chunk_size() -> int:
    return getattr(settings, "VIPCLUB_POINTS_CHUNK_SIZE", None) or settings.VIPCLUB_RATING_CHUNK_SIZE


def _merge(counts: dict, more: dict) -> dict:
    merged = dict(counts)
    for key, value in more.items():
        if isinstance(value, dict):
            merged[key] = _merge(merged.get(key, {}), value)
        else:
            merged[key] = merged.get(key, 0) + value
    return merged


def points_job_run(
    *,
    kind: str,
    on: dt.date,
    work,
    actor=None,
    force: bool = False,
    chunk_size: int | None = None,
    on_progress=None,
) -> PointsJob:
    """Run `work(lo, hi) -> counts` over every customer id, chunk by chunk, each chunk in its own transaction
    together with the job's progress. A job exists once per kind and business date: a done job is returned as is
    (unless `force`, which runs it again: every chunk is idempotent), a running or failed one resumes after its
    last chunk done."""
    size = chunk_size or _chunk_size()
    job, created = PointsJob.objects.get_or_create(
        kind=kind,
        business_date=on,
        defaults={"started_at": Now(), "actor": actor_label(actor, max_length=40)},
    )
    if not created:
        if job.status == JobStatus.DONE and not force:
            return job
        if job.status == JobStatus.DONE:
            job.last_id, job.chunks_done, job.counts = 0, 0, {}
            job.started_at = Now()
        job.status, job.error, job.finished_at, job.actor = (
            JobStatus.RUNNING,
            "",
            None,
            actor_label(actor, max_length=40),
        )
        job.save()
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"))
    try:
        if bounds["lo"] is not None:
            lo = max(job.last_id + 1, bounds["lo"])
            while lo <= bounds["hi"]:
                hi = lo + size - 1
                with transaction.atomic():
                    locked = PointsJob.objects.select_for_update().get(pk=job.pk)
                    if locked.last_id < hi:
                        counts = work(lo=max(lo, locked.last_id + 1), hi=hi)
                        locked.counts = _merge(locked.counts, counts)
                        locked.last_id, locked.chunks_done = hi, locked.chunks_done + 1
                        locked.save(update_fields=["counts", "last_id", "chunks_done"])
                    job = locked
                if on_progress:
                    on_progress(job, bounds)
                lo = hi + 1
    except Exception:
        PointsJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=traceback.format_exc()[-4000:])
        raise
    job.status, job.finished_at = JobStatus.DONE, Now()
    job.save(update_fields=["status", "finished_at"])
    job.refresh_from_db(fields=["started_at", "finished_at"])  # the database's clock wrote them
    return job


def points_earn_all(*, on: dt.date, actor=None, force: bool = False, **kwargs) -> PointsJob:
    """Earn for every bill of every customer what it should have earned (a backfill, or a check: a second run
    posts nothing). Bills imported through `vipclub.workflows.bills_import` earn at once; this is for bills
    loaded around it."""
    expiry_years, rewards, label = points_policy().expiry_years, reward_rules(), actor_label(actor, max_length=40)

    def work(*, lo, hi):
        r = engine.earn(on=on, expiry_years=expiry_years, rewards=rewards, lo=lo, hi=hi, actor=label)
        return {"bills": r.bills, "customers": r.customers, "points": r.points, "written_off": r.written_off}

    return points_job_run(kind=JobKind.EARN, on=on, work=work, actor=actor, force=force, **kwargs)


def points_expire(*, on: dt.date, actor=None, force: bool = False, **kwargs) -> PointsJob:
    """The year-end expiry (run in December, on or after the 31st's run time): what is left in every lot that
    expires on or before `on` (31 December of the year whose lots expire) is expired, set-based."""
    label = actor_label(actor, max_length=40)

    def work(*, lo, hi):
        r = engine.expire(on=on, lo=lo, hi=hi, actor=label)
        return {"customers": r.customers, "lots": r.lots, "points": r.points}

    return points_job_run(kind=JobKind.EXPIRE, on=on, work=work, actor=actor, force=force, **kwargs)


def credit_ratings_compute(*, on: dt.date, actor=None, force: bool = True, **kwargs) -> PointsJob:
    """Credit stars (§7) of every customer not closed, as of `on`, stored with the date (the monthly pipeline
    calls this with the run's evaluation date)."""
    table = credit_table()

    def work(*, lo, hi):
        r = engine.credit(table=table, on=on, lo=lo, hi=hi)
        return {"customers": r.customers, "stars": {str(k): v for k, v in (r.by_stars or {}).items()}}

    return points_job_run(kind=JobKind.CREDIT, on=on, work=work, actor=actor, force=force, **kwargs)


@transaction.atomic
def credit_rating_refresh(*, customer: Customer, on: dt.date) -> CreditRating:
    """On demand: compute one customer's credit stars as of `on` and store them (a member whose privileges the new
    stars change gets her `privileges.changed` event)."""
    table = credit_table()
    score = selectors.credit_score(customer=customer, on=on, table=table)
    before = selectors.stored_stars(customer.pk)
    rating, _ = CreditRating.objects.update_or_create(
        customer=customer,
        defaults={"stars": score.stars, "score": score.score, "as_of": on, "computed_at": Now()},
    )
    member = selectors.is_member(customer.pk)
    _privileges_changed(customer, table, before=(member, before), after=(member, score.stars))
    return rating


# -- privileges (DOMAIN §10) ------------------------------------------------------------------------------------------


def _privileges_changed(customer: Customer, table: rules.CreditTable, *, before: tuple, after: tuple, at=None) -> bool:
    """A `privileges.changed` event when (member, stars[, opted out]) `before` and `after` give different privileges
    (the opt-out, when not given, is the customer's stored one)."""
    stored = bool(getattr(customer, "holiday_opt_out", False))
    old = rules.privileges(table, member=before[0], stars=before[1], opted_out=(before[2:] or (stored,))[0])
    new = rules.privileges(table, member=after[0], stars=after[1], opted_out=(after[2:] or (stored,))[0])
    if old == new:
        return False
    outbox.emit(
        type="privileges.changed",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=at or Now(),  # the database's clock, as the set-based events
        data=new,
    )
    return True


@transaction.atomic
def holiday_opt_out_set(*, customer: Customer, opted_out: bool, at: dt.datetime, actor, reason: str = "") -> bool:
    """The member opts out of the holiday no-suspension (节假日免停机, DOMAIN §10) or back in: recorded on the customer
    (customers.services, audited) and, when it changes what she gets, a `privileges.changed` event in the same
    transaction. Returns whether the choice changed."""
    before = Customer.objects.filter(pk=customer.pk).values_list("holiday_opt_out", flat=True).get()
    if not customer_services.customer_holiday_opt_out_set(
        customer=customer, opted_out=opted_out, at=at, actor=actor, reason=reason
    ):
        return False
    member, stars = selectors.is_member(customer.pk), selectors.stored_stars(customer.pk)
    _privileges_changed(
        customer, credit_table(), before=(member, stars, before), after=(member, stars, opted_out), at=at
    )
    return True


@transaction.atomic
def privileges_follow_tier_change(*, customer_id: int, was_member: bool, is_member: bool) -> bool:
    """A customer's tier changed between runs (override, move-in, closure): her `privileges.changed` event when
    joining or leaving the club changes what she gets, in the tier change's transaction."""
    customer = Customer.objects.only("pk", "msisdn", "holiday_opt_out").get(pk=customer_id)
    stars = selectors.stored_stars(customer_id)
    return _privileges_changed(customer, credit_table(), before=(was_member, stars), after=(is_member, stars))


@transaction.atomic
def privileges_follow_tier_changes(*, run_id: int | None, on: dt.date, lo: int, hi: int, after_id: int) -> int:
    """The tier changes a rating run's chunk (or the daily floors step) just wrote, in its transaction: the
    `privileges.changed` events of the customers whose privileges they change, set-based (engine)."""
    return engine.privileges_after_tier_changes(
        table=credit_table(), run_id=run_id, on=on, lo=lo, hi=hi, after_id=after_id
    )


# -- one customer at a time -------------------------------------------------------------------------------------------


def _changed(customer: Customer, entry: PointsEntry) -> None:
    """The `points.changed` outbound event of a ledger entry (DOMAIN §11), in the entry's transaction."""
    outbox.emit(
        type="points.changed",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=Now(),  # the database's clock, as the entry's created_at
        data={"delta": entry.amount, "balance": entry.balance_after, "kind": str(entry.kind)},
    )


def _lock(*customer_ids: int) -> dict[int, PointsAccount]:
    """Create missing accounts, then lock them in customer-id order, as the set-based earning and expiry do (two
    writers never wait crosswise; the lock order is in core.db)."""
    ids = sorted(set(customer_ids))
    PointsAccount.objects.bulk_create([PointsAccount(customer_id=i) for i in ids], ignore_conflicts=True)
    return {
        a.customer_id: a
        for a in PointsAccount.objects.select_for_update().filter(customer_id__in=ids).order_by("customer_id")
    }


def _live_lots(customer_id: int, on: dt.date) -> list[PointsLot]:
    return list(
        PointsLot.objects.filter(customer_id=customer_id, remaining__gt=0, expires_on__gte=on).order_by(
            "expires_on", "id"
        )
    )


def _plan(customer_id: int, points: int, on: dt.date) -> tuple[list[tuple[PointsLot, int]], int]:
    """The FIFO take of `points` from the customer's live lots: [(lot, taken)]; InsufficientPoints otherwise."""
    lots = _live_lots(customer_id, on)
    taken = rules.fifo_take([(lot, lot.remaining) for lot in lots], points)
    return taken, sum(lot.remaining for lot in lots)


def _apply_take(taken: list[tuple[PointsLot, int]]) -> None:
    for lot, points in taken:
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - points)


def _detail(taken) -> list[dict]:
    return [
        {"year": lot.year, "kind": lot.kind, "expires_on": lot.expires_on.isoformat(), "points": n} for lot, n in taken
    ]


def _is_frozen(account: PointsAccount, customer: Customer) -> bool:
    return account.frozen or customer.status in rules.FROZEN_STATUSES


def _frozen_error(customer: Customer, account: PointsAccount, field: str = "msisdn") -> RuleViolation:
    reason = account.frozen_reason or customer.status
    return RuleViolation(
        _("The points account of %(msisdn)s is frozen (%(reason)s): no redemption or transfer.")
        % {"msisdn": customer.masked_msisdn, "reason": reason.replace("_", " ")},
        code="frozen",
        fields={field: [_("frozen")]},
    )


def _insufficient(available: int, wanted: int) -> RuleViolation:
    return RuleViolation(
        _("%(wanted)d points wanted, %(available)d available.") % {"wanted": wanted, "available": available},
        code="insufficient_points",
        fields={"points": [_("at most %(available)d") % {"available": available}]},
    )


def _check_points(points) -> int:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise InvalidInput(_("Points must be a whole number above 0."), fields={"points": [_("a whole number > 0")]})
    return points


def _stored(key: str, *, kind: str, customer_id: int, amount: int) -> PointsEntry | None:
    """The entry an idempotency key already wrote, or None; a different request under the key is refused."""
    entry = PointsEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    if (entry.kind, entry.customer_id, entry.amount) != (kind, customer_id, amount):
        raise RuleViolation(
            _("This idempotency key was already used for a different request."), code="idempotency_key_reused"
        )
    return entry


@dataclass(frozen=True)
class Redemption:
    entry_id: int
    balance: int
    replayed: bool = False


@transaction.atomic
def points_redeem(
    *,
    customer: Customer,
    points: int,
    reference: str = "",
    idempotency_key: str | None = None,
    on: dt.date,
    actor=None,
) -> Redemption:
    """Redeem points, oldest lot first. 409 `frozen` while suspended or pending closure (or closed), 409
    `insufficient_points` beyond what the live lots hold. With an idempotency key a replay returns the first
    answer and writes nothing."""
    points = _check_points(points)
    account = _lock(customer.pk)[customer.pk]
    if idempotency_key and (
        stored := _stored(idempotency_key, kind=EntryKind.REDEEM, customer_id=customer.pk, amount=-points)
    ):
        return Redemption(stored.pk, stored.balance_after, replayed=True)
    customer = Customer.objects.get(pk=customer.pk)
    if _is_frozen(account, customer):
        raise _frozen_error(customer, account)
    try:
        taken, _available = _plan(customer.pk, points, on)
    except rules.InsufficientPoints as exc:
        raise _insufficient(exc.available, exc.wanted) from exc
    balance = account.balance - points
    try:
        with transaction.atomic():
            entry = PointsEntry.objects.create(
                customer=customer,
                kind=EntryKind.REDEEM,
                amount=-points,
                reference=(reference or "")[:100],
                idempotency_key=idempotency_key or None,
                balance_after=balance,
                detail=_detail(taken),
                occurred_on=on,
                created_at=Now(),
                actor=actor_label(actor, max_length=40),
            )
    except IntegrityError:
        stored = _stored(idempotency_key, kind=EntryKind.REDEEM, customer_id=customer.pk, amount=-points)
        if stored is None:
            raise
        return Redemption(stored.pk, stored.balance_after, replayed=True)
    _apply_take(taken)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") - points, updated_at=Now())
    _changed(customer, entry)
    return Redemption(entry.pk, balance)


@dataclass(frozen=True)
class Transfer:
    entry_id: int
    from_balance: int
    to_balance: int
    replayed: bool = False


def transfer_problem(source: Customer, target: Customer) -> dict | None:
    """Why points cannot go from `source` to `target` (same brand and province only), as API fields, or None."""
    problems = {}
    if source.pk == target.pk:
        problems["to_msisdn"] = [_("the same customer")]
    if source.brand != target.brand:
        problems["brand"] = [_("%(a)s ≠ %(b)s") % {"a": source.brand, "b": target.brand}]
    if source.region.province != target.region.province:
        problems["province"] = [_("%(a)s ≠ %(b)s") % {"a": source.region.province, "b": target.region.province}]
    return problems or None


@transaction.atomic
def points_transfer(
    *,
    source: Customer,
    target: Customer,
    points: int,
    reference: str = "",
    idempotency_key: str | None = None,
    on: dt.date,
    actor=None,
) -> Transfer:
    """Move points between two customers of the same brand and province. The points keep their lots' expiry:
    each source lot taken (oldest first) adds to the target's transfer lot of the same year."""
    points = _check_points(points)
    source = Customer.objects.select_related("region").get(pk=source.pk)
    target = Customer.objects.select_related("region").get(pk=target.pk)
    problems = transfer_problem(source, target)
    if problems:
        if source.pk == target.pk:
            raise InvalidInput(_("Points cannot be transferred to the same customer."), fields=problems)
        raise RuleViolation(
            _("Points move only between two customers of the same brand and province."),
            code="transfer_not_allowed",
            fields=problems,
        )
    accounts = _lock(source.pk, target.pk)
    out_key = idempotency_key or None
    in_key = f"{idempotency_key}:in" if idempotency_key else None

    def replay(stored: PointsEntry) -> Transfer:
        incoming = PointsEntry.objects.get(idempotency_key=in_key)
        return Transfer(stored.pk, stored.balance_after, incoming.balance_after, replayed=True)

    if out_key and (stored := _stored(out_key, kind=EntryKind.TRANSFER_OUT, customer_id=source.pk, amount=-points)):
        return replay(stored)
    source = Customer.objects.select_related("region").get(pk=source.pk)
    target = Customer.objects.select_related("region").get(pk=target.pk)
    if _is_frozen(accounts[source.pk], source):
        raise _frozen_error(source, accounts[source.pk], field="from_msisdn")
    if _is_frozen(accounts[target.pk], target):
        raise _frozen_error(target, accounts[target.pk], field="to_msisdn")
    try:
        taken, _available = _plan(source.pk, points, on)
    except rules.InsufficientPoints as exc:
        raise _insufficient(exc.available, exc.wanted) from exc
    from_balance = accounts[source.pk].balance - points
    to_balance = accounts[target.pk].balance + points
    now, label = Now(), actor_label(actor, max_length=40)
    try:
        with transaction.atomic():
            entry = PointsEntry.objects.create(
                customer=source,
                kind=EntryKind.TRANSFER_OUT,
                amount=-points,
                counterpart=target,
                reference=(reference or "")[:100],
                idempotency_key=out_key,
                balance_after=from_balance,
                detail=_detail(taken),
                occurred_on=on,
                created_at=now,
                actor=label,
            )
    except IntegrityError:
        stored = _stored(out_key, kind=EntryKind.TRANSFER_OUT, customer_id=source.pk, amount=-points)
        if stored is None:
            raise
        return replay(stored)
    incoming = PointsEntry.objects.create(
        customer=target,
        kind=EntryKind.TRANSFER_IN,
        amount=points,
        counterpart=source,
        reference=(reference or "")[:100],
        idempotency_key=in_key,
        balance_after=to_balance,
        detail=_detail(taken),
        occurred_on=on,
        created_at=now,
        actor=label,
    )
    _apply_take(taken)
    for lot, n in taken:
        _credit_lot(customer_id=target.pk, year=lot.year, kind=LotKind.TRANSFER, points=n, expires_on=lot.expires_on)
    PointsAccount.objects.filter(pk=source.pk).update(balance=F("balance") - points, updated_at=now)
    PointsAccount.objects.filter(pk=target.pk).update(balance=F("balance") + points, updated_at=now)
    _changed(source, entry)
    _changed(target, incoming)
    return Transfer(entry.pk, from_balance, to_balance)


@dataclass(frozen=True)
class Compensation:
    entry_id: int
    points: int
    balance: int
    replayed: bool = False


@transaction.atomic
def points_compensate(
    *, customer: Customer, points: int, reference: str, idempotency_key: str, on: dt.date, actor=None
) -> Compensation:
    """Credit points to a customer as compensation (服务差错主动补偿, DOMAIN §9): an `adjust` entry with the caller's
    reference (e.g. the complaint), into the customer's adjustment lot of `on`'s year (expiring as that year's points
    do). Posts once per idempotency key: a replay returns the first answer. A frozen account may receive points."""
    points = _check_points(points)
    account = _lock(customer.pk)[customer.pk]
    if stored := _stored(idempotency_key, kind=EntryKind.ADJUST, customer_id=customer.pk, amount=points):
        return Compensation(stored.pk, stored.amount, stored.balance_after, replayed=True)
    expires = rules.expires_on(on.year, points_policy().expiry_years)
    balance = account.balance + points
    entry = PointsEntry.objects.create(
        customer=customer,
        kind=EntryKind.ADJUST,
        amount=points,
        year=on.year,
        reference=(reference or "")[:100],
        idempotency_key=idempotency_key,
        balance_after=balance,
        detail=[{"year": on.year, "kind": LotKind.ADJUST, "expires_on": expires.isoformat(), "points": points}],
        occurred_on=on,
        created_at=Now(),
        actor=actor_label(actor, max_length=40),
    )
    _credit_lot(customer_id=customer.pk, year=on.year, kind=LotKind.ADJUST, points=points, expires_on=expires)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + points, updated_at=Now())
    _changed(customer, entry)
    return Compensation(entry.pk, points, balance)


@transaction.atomic
def points_compensation_reverse(
    *, customer: Customer, compensation_key: str, reference: str, on: dt.date, actor=None
) -> Compensation | None:
    """Take back a compensation (its complaint was reopened): at most what it credited, from the lot it went to
    first, then the oldest live lots; what the customer already spent stays spent (the balance never goes below 0).
    Once per compensation (the reversal's key is `<key>:reverse`); None when there was no such compensation."""
    account = _lock(customer.pk)[customer.pk]
    original = PointsEntry.objects.filter(
        idempotency_key=compensation_key, customer_id=customer.pk, kind=EntryKind.ADJUST
    ).first()
    if original is None:
        return None
    key = f"{compensation_key}:reverse"
    if stored := PointsEntry.objects.filter(idempotency_key=key).first():
        return Compensation(stored.pk, -stored.amount, stored.balance_after, replayed=True)
    lots = _live_lots(customer.pk, on)
    own = [lot for lot in lots if lot.kind == LotKind.ADJUST and lot.year == original.year]
    ordered = own + [lot for lot in lots if lot not in own]
    wanted, taken = original.amount, []
    for lot in ordered:
        if wanted <= 0:
            break
        n = min(lot.remaining, wanted)
        if n > 0:
            taken.append((lot, n))
            wanted -= n
    points = sum(n for _lot, n in taken)
    balance = account.balance - points
    entry = PointsEntry.objects.create(
        customer=customer,
        kind=EntryKind.ADJUST,
        amount=-points,
        reference=(reference or "")[:100],
        idempotency_key=key,
        balance_after=balance,
        detail=_detail(taken),
        occurred_on=on,
        created_at=Now(),
        actor=actor_label(actor, max_length=40),
    )
    if points:
        _apply_take(taken)
        PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") - points, updated_at=Now())
        _changed(customer, entry)
    return Compensation(entry.pk, points, balance)


@dataclass(frozen=True)
class RedemptionReturn:
    entry_id: int
    points: int
    expired: int
    balance: int
    replayed: bool = False


@transaction.atomic
def points_redemption_return(
    *, customer: Customer, entry_id: int, reference: str, idempotency_key: str, on: dt.date, actor=None
) -> RedemptionReturn:
    """Give back the points of a redemption (a cancelled gift order) to the very lots they were taken from, with
    their original expiry: one `adjust` entry (+points, the lots in its detail), each lot's `remaining` raised by what
    was taken from it. Points whose lot has expired by `on` come back and expire at once (an `expire` entry for them:
    they are not given a second life). Once per idempotency key (a replay returns the first answer); a frozen account
    gets its points back too. The ledger invariant holds: balance = Σ entries = Σ lot remaining."""
    account = _lock(customer.pk)[customer.pk]
    if stored := PointsEntry.objects.filter(idempotency_key=idempotency_key).first():
        if stored.customer_id != customer.pk or stored.kind != EntryKind.ADJUST:
            raise RuleViolation(
                _("This idempotency key was already used for a different request."), code="idempotency_key_reused"
            )
        expired = PointsEntry.objects.filter(idempotency_key=f"{idempotency_key}:expired").first()
        return RedemptionReturn(
            stored.pk,
            stored.amount,
            -expired.amount if expired else 0,
            expired.balance_after if expired else stored.balance_after,
            replayed=True,
        )
    original = PointsEntry.objects.filter(pk=entry_id, customer_id=customer.pk, kind=EntryKind.REDEEM).first()
    if original is None:
        raise InvalidInput(_("No such redemption of this customer."), fields={"entry": [_("unknown redemption")]})
    items = [item for item in (original.detail or []) if item.get("points")]
    lots = {
        (lot.year, lot.kind): lot
        for lot in PointsLot.objects.filter(
            customer_id=customer.pk,
            year__in={item["year"] for item in items},
            kind__in={item["kind"] for item in items},
        )
    }
    back, dead, detail, expired_detail = 0, 0, [], []
    for item in items:
        lot = lots[(item["year"], item["kind"])]
        n = int(item["points"])
        back += n
        detail.append({"year": lot.year, "kind": lot.kind, "expires_on": lot.expires_on.isoformat(), "points": n})
        if lot.expires_on < on:
            dead += n
            expired_detail.append(detail[-1])
        else:
            PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") + n)
    now, label = Now(), actor_label(actor, max_length=40)
    entry = PointsEntry.objects.create(
        customer=customer,
        kind=EntryKind.ADJUST,
        amount=back,
        reference=(reference or "")[:100],
        idempotency_key=idempotency_key,
        balance_after=account.balance + back,
        detail=detail,
        occurred_on=on,
        created_at=now,
        actor=label,
    )
    _changed(customer, entry)
    if dead:
        gone = PointsEntry.objects.create(
            customer=customer,
            kind=EntryKind.EXPIRE,
            amount=-dead,
            reference=(_("expired on return: %(reference)s") % {"reference": reference})[:100],
            idempotency_key=f"{idempotency_key}:expired",
            balance_after=account.balance + back - dead,
            detail=expired_detail,
            occurred_on=on,
            created_at=now,
            actor=label,
        )
        _changed(customer, gone)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + back - dead, updated_at=now)
    return RedemptionReturn(entry.pk, back, dead, account.balance + back - dead)


def _credit_lot(*, customer_id: int, year: int, kind: str, points: int, expires_on: dt.date) -> PointsLot:
    """Add points to the customer's lot of this year and kind (created when missing). The account is locked."""
    lot, created = PointsLot.objects.get_or_create(
        customer_id=customer_id,
        year=year,
        kind=kind,
        defaults={"original": points, "remaining": points, "expires_on": expires_on},
    )
    if not created:
        PointsLot.objects.filter(pk=lot.pk).update(original=F("original") + points, remaining=F("remaining") + points)
    return lot


@transaction.atomic
def points_freeze(*, customer: Customer, reason: str, at: dt.datetime, actor=None) -> PointsAccount:
    """Suspension or closure request: no redemption or transfer until unfrozen (earning goes on)."""
    account = _lock(customer.pk)[customer.pk]
    account.frozen, account.frozen_reason, account.frozen_at = True, reason[:20], at
    account.save(update_fields=["frozen", "frozen_reason", "frozen_at", "updated_at"])
    record(actor=actor, action="points_frozen", target=account, at=account.frozen_at, reason=account.frozen_reason)
    return account


@transaction.atomic
def points_unfreeze(*, customer: Customer, actor=None) -> PointsAccount:
    """Reactivation or a cancelled closure request."""
    account = _lock(customer.pk)[customer.pk]
    account.frozen, account.frozen_reason, account.frozen_at = False, "", None
    account.save(update_fields=["frozen", "frozen_reason", "frozen_at", "updated_at"])
    record(actor=actor, action="points_unfrozen", target=account)
    return account


@transaction.atomic
def points_clear(
    *, customer: Customer, on: dt.date, at: dt.datetime, reference: str = "", actor=None
) -> PointsEntry | None:
    """Closure clears the balance: every lot emptied, one `clear` entry; the account stays frozen."""
    account = _lock(customer.pk)[customer.pk]
    lots = list(PointsLot.objects.filter(customer=customer, remaining__gt=0).order_by("expires_on", "id"))
    total = sum(lot.remaining for lot in lots)
    entry = None
    if total:
        entry = PointsEntry.objects.create(
            customer=customer,
            kind=EntryKind.CLEAR,
            amount=-total,
            reference=(reference or _("closure"))[:100],
            balance_after=account.balance - total,
            detail=_detail([(lot, lot.remaining) for lot in lots]),
            occurred_on=on,
            created_at=Now(),
            actor=actor_label(actor, max_length=40),
        )
        PointsLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(remaining=0)
        _changed(customer, entry)
    account.balance -= total
    account.frozen, account.frozen_reason = True, "closed"
    account.frozen_at = account.frozen_at or at
    account.save(update_fields=["balance", "frozen", "frozen_reason", "frozen_at", "updated_at"])
    return entry


@transaction.atomic
def points_move_in(
    *,
    customer: Customer,
    lots: list[tuple[int, int]],
    from_region: str,
    on: dt.date,
    reference: str = "",
    actor=None,
) -> list[PointsEntry]:
    """跨区入网: the points brought along become lots 1:1 (same year, so the same expiry), one `transfer_in`
    entry each. A lot that has already expired on `on`, or a year given twice, is bad input (400)."""
    expiry_years = points_policy().expiry_years
    problems: dict[str, list] = {}
    seen: set[int] = set()
    for index, (year, _points) in enumerate(lots):
        if year in seen:
            problems[f"points_lots[{index}]"] = [_("year %(year)d given twice") % {"year": year}]
        elif rules.expires_on(year, expiry_years) < on:
            problems[f"points_lots[{index}]"] = [
                _("the points of %(year)d expired on %(day)s")
                % {"year": year, "day": rules.expires_on(year, expiry_years).isoformat()}
            ]
        seen.add(year)
    if problems:
        raise InvalidInput(_("Some points lots cannot be brought along."), fields={"data": problems})
    account = _lock(customer.pk)[customer.pk]
    balance, now, label, entries = account.balance, Now(), actor_label(actor, max_length=40), []
    for year, points in sorted(lots):
        expires = rules.expires_on(year, expiry_years)
        balance += points
        _credit_lot(customer_id=customer.pk, year=year, kind=LotKind.MOVED_IN, points=points, expires_on=expires)
        entries.append(
            PointsEntry.objects.create(
                customer=customer,
                kind=EntryKind.TRANSFER_IN,
                amount=points,
                year=year,
                reference=(reference or _("moved in from %(region)s") % {"region": from_region})[:100],
                balance_after=balance,
                detail=[{"year": year, "kind": LotKind.MOVED_IN, "expires_on": expires.isoformat(), "points": points}],
                occurred_on=on,
                created_at=now,
                actor=label,
            )
        )
    PointsAccount.objects.filter(pk=account.pk).update(balance=balance, updated_at=now)
    for entry in entries:
        _changed(customer, entry)
    return entries


# -- the November list of points expiring this year -------------------------------------------------------------------

EXPORT_COLUMNS = ["msisdn", "name", "brand", "region", "province", "status", "expiring_points", "expires_on", "balance"]


def expiring_export(*, year: int, out, region: str | None = None) -> int:
    """Write the members whose points expire on 31 December of `year` as CSV to the text stream `out`."""
    writer = csv_writer(out)  # formula cells neutralised (core.exports)
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for row in selectors.expiring_rows(year=year, region=region):
        writer.writerow([row[c] for c in EXPORT_COLUMNS])
        n += 1
    return n


def expiring_export_file(*, year: int, directory: Path | None = None) -> tuple[Path, int]:
    """The November list as a file under var/exports/ (for the branches; managers see it on the dashboard)."""
    directory = directory or Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"points-expiring-{year}.csv"
    tmp = path.with_suffix(".csv.part")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        n = expiring_export(year=year, out=out)
    tmp.replace(path)
    logger.info("%d members have points expiring on 31 Dec %d: %s", n, year, path)
    return path, n


# -- staff adjustments (four-eyes above the policy's threshold) ------------------------------------------------------


def _apply_adjustment(adjustment: PointsAdjustment, *, on: dt.date, actor) -> PointsEntry:
    """Credit (an `adjust` lot of `on`'s year) or debit (oldest lot first) the adjustment's points: one ledger entry."""
    customer = adjustment.customer
    points = adjustment.points
    account = _lock(customer.pk)[customer.pk]
    taken = []
    if points < 0:
        try:
            taken, _available = _plan(customer.pk, -points, on)
        except rules.InsufficientPoints as exc:
            raise _insufficient(exc.available, exc.wanted) from exc
    balance = account.balance + points
    entry = PointsEntry.objects.create(
        customer=customer,
        kind=EntryKind.ADJUST,
        amount=points,
        year=on.year if points > 0 else None,
        reference=adjustment.reason[:100],
        balance_after=balance,
        detail=_detail(taken) if taken else None,
        occurred_on=on,
        created_at=Now(),
        actor=actor_label(actor, max_length=40),
    )
    if points > 0:
        expiry = rules.expires_on(on.year, points_policy().expiry_years)
        _credit_lot(customer_id=customer.pk, year=on.year, kind=LotKind.ADJUST, points=points, expires_on=expiry)
    else:
        _apply_take(taken)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + points, updated_at=Now())
    _changed(customer, entry)
    return entry


def adjustment_needs_approval(points: int) -> bool:
    """Whether an adjustment of `points` (signed) waits for a second staff user: above the policy's threshold."""
    return abs(points) > points_policy().adjust_approval_above


@transaction.atomic
def points_adjustment_request(
    *, customer: Customer, points: int, reason: str, on: dt.date, at: dt.datetime, actor
) -> PointsAdjustment:
    """A staff correction of a customer's points (credit > 0, debit < 0) with a reason. Up to the policy's
    `adjust_approval_above` it applies at once (status `applied`); above it, it waits for a second staff user
    (`pending`). 400 without a reason or with 0 points; 409 `closed` for a closed customer, `insufficient_points`
    for a debit beyond her live points."""
    problems = {}
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        problems["points"] = [_("a whole number other than 0")]
    if not (reason or "").strip():
        problems["reason"] = [_("A reason is required.")]
    if problems:
        raise InvalidInput(_("The adjustment is incomplete."), fields=problems)
    if customer.status == "closed":
        raise RuleViolation(_("The customer is closed: her points cannot be adjusted."), code="closed")
    adjustment = PointsAdjustment.objects.create(
        customer=customer, points=points, reason=reason.strip()[:200], on=on, requested_by=actor, requested_at=at
    )
    if not adjustment_needs_approval(points):
        adjustment.entry = _apply_adjustment(adjustment, on=on, actor=actor)
        adjustment.status, adjustment.decided_at = AdjustmentStatus.APPLIED, at
        adjustment.save(update_fields=["entry", "status", "decided_at"])
    record(actor=actor, action="points_adjustment_requested", target=adjustment, at=at, points=points, reason=reason)
    return adjustment


def _pending(adjustment: PointsAdjustment) -> PointsAdjustment:
    adjustment = PointsAdjustment.objects.select_for_update().select_related("customer").get(pk=adjustment.pk)
    if adjustment.status != AdjustmentStatus.PENDING:
        raise RuleViolation(
            _("This adjustment is %(status)s, not awaiting approval.") % {"status": adjustment.get_status_display()},
            code="adjustment_not_pending",
        )
    return adjustment


@transaction.atomic
def points_adjustment_approve(
    *, adjustment: PointsAdjustment, on: dt.date, at: dt.datetime, note: str = "", actor
) -> PointsAdjustment:
    """A second staff user approves a pending adjustment: it applies once (the ledger entry carries her name)."""
    adjustment = _pending(adjustment)
    if actor is None or actor.pk == adjustment.requested_by_id:
        raise RuleViolation(_("An adjustment must be approved by a second staff user."), code="four_eyes")
    adjustment.entry = _apply_adjustment(adjustment, on=on, actor=actor)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = AdjustmentStatus.APPLIED, actor, at
    adjustment.decision_note = (note or "").strip()[:200]
    adjustment.save(update_fields=["entry", "status", "decided_by", "decided_at", "decision_note"])
    record(actor=actor, action="points_adjustment_approved", target=adjustment, at=at, note=adjustment.decision_note)
    return adjustment


@transaction.atomic
def points_adjustment_refuse(*, adjustment: PointsAdjustment, at: dt.datetime, note: str, actor) -> PointsAdjustment:
    """Refuse a pending adjustment with a reason (the requester may withdraw her own): nothing is applied."""
    if not (note or "").strip():
        raise InvalidInput(_("A reason is required."), fields={"note": [_("A reason is required.")]})
    adjustment = _pending(adjustment)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = AdjustmentStatus.REFUSED, actor, at
    adjustment.decision_note = note.strip()[:200]
    adjustment.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    record(actor=actor, action="points_adjustment_refused", target=adjustment, at=at, note=adjustment.decision_note)
    return adjustment
