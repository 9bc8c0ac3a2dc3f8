"""Every write of satisfaction (DOMAIN §9): surveys sent on their triggers and the answers. Keyword-only, atomic, with
the business date/time (`on=`/`at=`, never the clock) and an audit row (core.actors.record).

Triggers, each idempotent by its reference (a unique (trigger, reference, customer) row, inserted with ON CONFLICT
DO NOTHING — a replay, a retry or a reopened-and-resolved-again complaint sends nothing twice):

- a resolved complaint (`complaint:<id>`): called by `complaint_transition` in the same transaction;
- a closed retention case (`retention:<id>`) and a completed first contact (`first_contact:<obligation id>`): the
  retention and managers apps sit BELOW service (import-linter layers), so they cannot call it and must not know
  about surveys; the daily step (`surveys_daily`) picks them up set-based from their own tables, one INSERT … SELECT
  each over the last LOOKBACK_DAYS (a missed run catches up; the reference makes a rerun send nothing);
- the quarterly sample (`<year>-Q<n>`): in each branch, ceil(percent × members) members drawn in a deterministic
  pseudo-random order (a multiplicative hash of the member id and the seed: the same seed and date pick the same
  members, so tests replay), never a member sampled within the last `repeat_days` (180), one INSERT … SELECT with
  window functions, run by the first daily step of the quarter.

A survey sent is a row here; partners' daily SMS pass (partners.sms.sms_daily, above service) renders the `survey`
template for every row with no SMS yet, as it does for birthdays."""

import datetime as dt
import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.actors import record
from core.errors import InvalidInput, RuleViolation
from customers.models import Customer
from managers.models import Assignment, Obligation, ObligationKind, ObligationStatus
from retention.models import CLOSED_CASE_STATES, RetentionCase
from tiers.models import CustomerTier

from .survey_models import (
    SCORE_MAX,
    SCORE_MIN,
    AnswerChannel,
    SatisfactionTarget,
    Survey,
    SurveyResponse,
    SurveySend,
    SurveyTrigger,
)

logger = logging.getLogger(__name__)
LOOKBACK_DAYS = 7
COMMENT_MAX = 1000
HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash
HASH_MODULUS = 4294967291  # the largest prime below 2**32


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_label(day: dt.date) -> str:
    year, quarter = quarter_of(day)
    return f"{year}-Q{quarter}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _tables() -> dict[str, str]:
    return {
        "send": _q(SurveySend._meta.db_table),
        "customer": _q(Customer._meta.db_table),
        "ct": _q(CustomerTier._meta.db_table),
        "assignment": _q(Assignment._meta.db_table),
        "case": _q(RetentionCase._meta.db_table),
        "obligation": _q(Obligation._meta.db_table),
        "trigger": _q("trigger"),
    }


def _insert_head(t: dict) -> str:
    return (
        f"INSERT INTO {t['send']} (survey_id, customer_id, {t['trigger']}, reference, region_id, tier_id, manager_id, "
        "sent_on, sent_at, sms_at, answered) "
    )


def _member_joins(t: dict) -> str:
    """The member's tier and her account manager now (both may be missing)."""
    return (
        f" LEFT JOIN {t['ct']} ct ON ct.customer_id = c.id"
        f" LEFT JOIN {t['assignment']} a ON a.customer_id = c.id AND a.ended_on IS NULL "
    )


CONFLICT = f" ON CONFLICT ({_q('trigger')}, reference, customer_id) DO NOTHING"


def _active(trigger: str) -> Survey | None:
    return Survey.objects.filter(trigger=trigger, active=True).first()


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _execute(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


@transaction.atomic
def survey_for_complaint(*, complaint, at: dt.datetime) -> int:
    """Send the resolved-complaint survey to the complaint's customer (once per complaint, whatever happens next)."""
    survey = _active(SurveyTrigger.COMPLAINT)
    if survey is None:
        return 0
    t = _tables()
    sql = (
        _insert_head(t) + "SELECT %s, c.id, %s, %s, c.region_id, ct.tier_id, a.manager_id, %s, %s, NULL, %s "
        f"FROM {t['customer']} c" + _member_joins(t) + "WHERE c.id = %s AND c.status <> 'closed'" + CONFLICT
    )
    n = _execute(
        sql,
        [
            survey.pk,
            SurveyTrigger.COMPLAINT.value,
            f"complaint:{complaint.pk}",
            timezone.localdate(at),
            at,
            False,
            complaint.customer_id,
        ],
    )
    if n:
        record(actor=None, action="survey_sent", target=complaint, at=at, trigger="complaint")
    return n


def _pick_up_retention(*, on: dt.date, at: dt.datetime, t: dict) -> int:
    survey = _active(SurveyTrigger.RETENTION)
    if survey is None:
        return 0
    states = list(CLOSED_CASE_STATES)
    sql = (
        _insert_head(t)
        + "SELECT %s, c.id, %s, 'retention:' || rc.id, c.region_id, ct.tier_id, a.manager_id, %s, %s, NULL, %s "
        f"FROM {t['case']} rc JOIN {t['customer']} c ON c.id = rc.customer_id"
        + _member_joins(t)
        + f"WHERE rc.state IN ({', '.join(['%s'] * len(states))}) AND rc.closed_at >= %s AND rc.closed_at < %s "
        "AND c.status <> 'closed'" + CONFLICT
    )
    since, until = _day_start(on - dt.timedelta(days=LOOKBACK_DAYS)), _day_start(on + dt.timedelta(days=1))
    return _execute(sql, [survey.pk, SurveyTrigger.RETENTION.value, on, at, False, *states, since, until])


def _pick_up_first_contacts(*, on: dt.date, at: dt.datetime, t: dict) -> int:
    survey = _active(SurveyTrigger.FIRST_CONTACT)
    if survey is None:
        return 0
    sql = (
        _insert_head(t)
        + "SELECT %s, c.id, %s, 'first_contact:' || o.id, c.region_id, ct.tier_id, o.manager_id, %s, %s, NULL, %s "
        f"FROM {t['obligation']} o JOIN {t['customer']} c ON c.id = o.customer_id"
        f" LEFT JOIN {t['ct']} ct ON ct.customer_id = c.id "
        "WHERE o.kind = %s AND o.status = %s AND o.done_at >= %s AND o.done_at < %s AND c.status <> 'closed'" + CONFLICT
    )
    since, until = _day_start(on - dt.timedelta(days=LOOKBACK_DAYS)), _day_start(on + dt.timedelta(days=1))
    params = [survey.pk, SurveyTrigger.FIRST_CONTACT.value, on, at, False]
    return _execute(sql, [*params, ObligationKind.FIRST_CONTACT.value, ObligationStatus.DONE.value, since, until])


def default_seed(on: dt.date) -> int:
    year, quarter = quarter_of(on)
    return year * 10 + quarter


def _sample(*, on: dt.date, at: dt.datetime, seed: int | None, t: dict) -> int:
    survey = _active(SurveyTrigger.SAMPLE)
    if survey is None:
        return 0
    reference = quarter_label(on)
    if SurveySend.objects.filter(trigger=SurveyTrigger.SAMPLE, reference=reference).exists():
        return 0  # this quarter's sample was drawn
    basis_points = int(Decimal(survey.sample_percent) * 100)
    since = on - dt.timedelta(days=survey.repeat_days)
    seed = default_seed(on) if seed is None else seed
    sql = (
        "WITH members AS ("
        f" SELECT c.id, c.region_id, ct.tier_id FROM {t['customer']} c JOIN {t['ct']} ct ON ct.customer_id = c.id"
        " WHERE ct.tier_id IS NOT NULL AND c.status <> 'closed'"
        "), quota AS ("
        " SELECT region_id, (COUNT(*) * %s + 9999) / 10000 AS n FROM members GROUP BY region_id"
        "), ranked AS ("
        " SELECT m.id, m.region_id, m.tier_id, ROW_NUMBER() OVER ("
        f"  PARTITION BY m.region_id ORDER BY (m.id * {HASH_MULTIPLIER} + %s) %% {HASH_MODULUS}, m.id) AS rn"
        " FROM members m WHERE NOT EXISTS ("
        f"  SELECT 1 FROM {t['send']} s WHERE s.customer_id = m.id AND s.{t['trigger']} = %s AND s.sent_on >= %s)"
        ") " + _insert_head(t) + "SELECT %s, r.id, %s, %s, r.region_id, r.tier_id, a.manager_id, %s, %s, NULL, %s "
        "FROM ranked r JOIN quota q ON q.region_id = r.region_id"
        f" LEFT JOIN {t['assignment']} a ON a.customer_id = r.id AND a.ended_on IS NULL "
        "WHERE r.rn <= q.n" + CONFLICT
    )
    params = [basis_points, seed, SurveyTrigger.SAMPLE.value, since]
    params += [survey.pk, SurveyTrigger.SAMPLE.value, reference, on, at, False]
    _execute(sql, params)  # (SQLite does not count the rows of an INSERT under a WITH)
    return SurveySend.objects.filter(trigger=SurveyTrigger.SAMPLE, reference=reference).count()


@transaction.atomic
def surveys_daily(*, on: dt.date, at: dt.datetime, seed: int | None = None) -> dict[str, int]:
    """The daily survey step for business date `on`: the closed retention cases and completed first contacts of the
    last LOOKBACK_DAYS not surveyed yet, and — once per quarter, on its first run in it — the quarterly sample
    (`seed`: the draw's seed, default from the quarter). Idempotent: a rerun for the same date sends nothing."""
    t = _tables()
    counts = {
        "retention": _pick_up_retention(on=on, at=at, t=t),
        "first_contact": _pick_up_first_contacts(on=on, at=at, t=t),
        "sample": _sample(on=on, at=at, seed=seed, t=t),
    }
    logger.info("Surveys sent on %s: %s", on.isoformat(), counts)
    return counts


def _check_answer(*, score, comment: str) -> str:
    problems = {}
    if not isinstance(score, int) or isinstance(score, bool) or not SCORE_MIN <= score <= SCORE_MAX:
        problems["score"] = [f"a whole number from {SCORE_MIN} to {SCORE_MAX}"]
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        problems["comment"] = [f"at most {COMMENT_MAX} characters"]
    if problems:
        raise InvalidInput("The answer cannot be recorded: " + "; ".join(problems), fields=problems)
    return comment


def pending_send(*, customer: Customer, survey: Survey | None = None) -> SurveySend | None:
    """The latest unanswered survey sent to the member (of `survey` when given)."""
    qs = SurveySend.objects.filter(customer=customer, answered=False)
    if survey is not None:
        qs = qs.filter(survey=survey)
    return qs.select_related("survey").order_by("-sent_at", "-id").first()


@transaction.atomic
def survey_answer(
    *,
    customer: Customer,
    score,
    answered_at: dt.datetime,
    actor,
    channel: str,
    survey: Survey | None = None,
    comment: str = "",
) -> SurveyResponse:
    """Record the member's answer (1–5) to the latest survey sent to her (of `survey` when given). 409 `not_surveyed`
    when none was sent, `already_answered` when every one sent was answered."""
    comment = _check_answer(score=score, comment=comment)
    if channel not in AnswerChannel.values:
        raise InvalidInput("Unknown channel.", fields={"channel": [f"one of {', '.join(AnswerChannel.values)}"]})
    sends = SurveySend.objects.filter(customer=customer)
    if survey is not None:
        sends = sends.filter(survey=survey)
    send = sends.filter(answered=False).select_for_update().order_by("-sent_at", "-id").first()
    if send is None:
        if sends.exists():
            raise RuleViolation(
                "Every survey sent to this member was answered.",
                code="already_answered",
                fields={"survey": ["already answered"]},
            )
        raise RuleViolation(
            "No survey was sent to this member.", code="not_surveyed", fields={"msisdn": ["not surveyed"]}
        )
    user = actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None
    response = SurveyResponse.objects.create(
        send=send,
        customer=customer,
        score=score,
        comment=comment,
        answered_at=answered_at,
        answered_on=timezone.localdate(answered_at),
        channel=channel,
        entered_by=user if channel != AnswerChannel.SMS else None,
    )
    send.answered = True
    send.save(update_fields=["answered"])
    record(
        actor=actor,
        action="survey_answered",
        target=response,
        at=answered_at,
        score=score,
        survey=send.survey.code,
        reference=send.reference,
        channel=channel,
    )
    return response


TARGET_MEAN_RANGE = (Decimal("1"), Decimal("5"))
TARGET_SHARE_RANGE = (Decimal("0"), Decimal("100"))


@transaction.atomic
def satisfaction_target_set(
    *, year: int, mean_score: Decimal, satisfied_share: Decimal, at: dt.datetime, actor
) -> SatisfactionTarget:
    """Set the year's satisfaction target (a mean score 1–5 and a share of 4–5 answers in %): created, or changed
    when the year has one; an audit row with the values before and after."""
    problems = {}
    if not isinstance(year, int) or not 2000 <= year <= 2099:
        problems["year"] = ["a year from 2000 to 2099"]
    if not isinstance(mean_score, Decimal) or not TARGET_MEAN_RANGE[0] <= mean_score <= TARGET_MEAN_RANGE[1]:
        problems["mean_score"] = ["a decimal from 1 to 5"]
    if (
        not isinstance(satisfied_share, Decimal)
        or not TARGET_SHARE_RANGE[0] <= satisfied_share <= TARGET_SHARE_RANGE[1]
    ):
        problems["satisfied_share"] = ["a percentage from 0 to 100"]
    if problems:
        raise InvalidInput("The satisfaction target cannot be set: " + "; ".join(problems), fields=problems)
    before = SatisfactionTarget.objects.select_for_update().filter(year=year).first()
    target, _created = SatisfactionTarget.objects.update_or_create(
        year=year, defaults={"mean_score": mean_score, "satisfied_share": satisfied_share}
    )
    record(
        actor=actor,
        action="satisfaction_target_set",
        target=target,
        at=at,
        year=year,
        mean_score=[str(before.mean_score) if before else None, f"{mean_score:.2f}"],
        satisfied_share=[str(before.satisfied_share) if before else None, f"{satisfied_share:.2f}"],
    )
    return target
