"""Reads of satisfaction (DOMAIN §9): the scores — mean and share of 4–5 answers — per quarter, branch, account manager
and tier of a year, against the year's target and last year's figures. An answer counts at the branch, tier and
manager its survey went to, in the quarter it was answered. A fixed handful of aggregate queries whatever the number
of answers."""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractQuarter

from customers.models import Region
from managers.models import AccountManager
from tiers.models import Tier

from .survey_models import SatisfactionTarget, SurveyResponse, SurveySend


def _figures(n: int, total: int, happy: int) -> dict:
    if not n:
        return {"answers": 0, "mean": None, "satisfied_share": None}
    mean = (Decimal(total) / n).quantize(Decimal("0.01"), ROUND_HALF_UP)
    share = (Decimal(happy) * 100 / n).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return {"answers": n, "mean": mean, "satisfied_share": share}


_AGG = {"n": Count("id"), "total": Sum("score"), "happy": Count("id", filter=Q(score__gte=4))}


def _answers(year: int, region_ids: list[int] | None):
    qs = SurveyResponse.objects.filter(answered_on__year=year)
    if region_ids is not None:
        qs = qs.filter(send__region_id__in=region_ids)
    return qs.annotate(quarter=ExtractQuarter("answered_on"))


def _grouped(qs, *keys) -> dict:
    return {
        tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: _figures(row["n"], row["total"], row["happy"])
        for row in qs.values(*keys).annotate(**_AGG).order_by(*keys)
    }


def satisfaction_report(*, year: int, region_ids: list[int] | None = None) -> dict:
    """The year's satisfaction: `quarters` (1–4, with last year's), `rows` (quarter × branch), `regions`, `managers`,
    `tiers` (the year), `totals` (the year and last year), `target` (or None), `sent` per quarter."""
    this = _answers(year, region_ids)
    last = _answers(year - 1, region_ids)
    by_quarter = _grouped(this, "quarter")
    last_by_quarter = _grouped(last, "quarter")
    empty = _figures(0, 0, 0)
    sends = SurveySend.objects.filter(sent_on__year=year)
    if region_ids is not None:
        sends = sends.filter(region_id__in=region_ids)
    sent = {
        row["quarter"]: row["n"]
        for row in sends.annotate(quarter=ExtractQuarter("sent_on")).values("quarter").annotate(n=Count("id"))
    }
    quarters = [
        {
            "quarter": q,
            **by_quarter.get(q, empty),
            "sent": sent.get(q, 0),
            "last_year": last_by_quarter.get(q, empty),
        }
        for q in range(1, 5)
    ]
    regions = {r.pk: r for r in Region.objects.all()}
    tiers = {t.pk: t for t in Tier.objects.all()}
    by_region_quarter = _grouped(this, "quarter", "send__region_id")
    rows = [
        {"quarter": q, "region": regions[rid], **figures}
        for (q, rid), figures in sorted(by_region_quarter.items(), key=lambda kv: (kv[0][0], regions[kv[0][1]].code))
    ]
    last_by_region = _grouped(last, "send__region_id")
    by_region = [
        {"region": regions[rid], **figures, "last_year": last_by_region.get(rid, empty)}
        for rid, figures in sorted(_grouped(this, "send__region_id").items(), key=lambda kv: regions[kv[0]].code)
    ]
    by_manager_raw = _grouped(this, "send__manager_id")
    managers = {m.pk: m for m in AccountManager.objects.filter(pk__in=[k for k in by_manager_raw if k])}
    by_manager = [
        {"manager": managers.get(mid), **figures}
        for mid, figures in sorted(by_manager_raw.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    ]
    last_by_tier = _grouped(last, "send__tier_id")
    by_tier = [
        {"tier": tiers.get(tid), **figures, "last_year": last_by_tier.get(tid, empty)}
        for tid, figures in sorted(
            _grouped(this, "send__tier_id").items(),
            key=lambda kv: -(tiers[kv[0]].rank if kv[0] in tiers else -1),
        )
    ]
    totals = {**_figures(*_sum(this)), "last_year": _figures(*_sum(last))}
    target = SatisfactionTarget.objects.filter(year=year).first()
    return {
        "year": year,
        "quarters": quarters,
        "rows": rows,
        "regions": by_region,
        "managers": by_manager,
        "tiers": by_tier,
        "totals": totals,
        "target": target,
    }


def _sum(qs) -> tuple[int, int, int]:
    row = qs.aggregate(**_AGG)
    return row["n"] or 0, row["total"] or 0, row["happy"] or 0


def quarter_figures(*, year: int, quarter: int, region_ids: list[int] | None = None, manager_ids=None) -> dict:
    """The mean and share of 4–5 of one quarter (the cockpit's card, the supervisor's team page), last year's same
    quarter and the year's target."""
    this = _answers(year, region_ids).filter(quarter=quarter)
    last = _answers(year - 1, region_ids).filter(quarter=quarter)
    if manager_ids is not None:
        this = this.filter(send__manager_id__in=manager_ids)
        last = last.filter(send__manager_id__in=manager_ids)
    return {
        "year": year,
        "quarter": quarter,
        **_figures(*_sum(this)),
        "last_year": _figures(*_sum(last)),
        "target": SatisfactionTarget.objects.filter(year=year).first(),
    }
