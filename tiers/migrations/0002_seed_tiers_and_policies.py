"""The seeded defaults of DOMAIN.md §3. Staff change them in the admin; the code reads them from here."""

from decimal import Decimal

from django.db import migrations

TIERS = [
    ("diamond", "钻石卡", "Diamond", 30, Decimal("4000")),
    ("gold", "金卡", "Gold", 20, Decimal("2000")),
    ("silver", "银卡", "Silver", 10, Decimal("1000")),
]
KEY_PERSON_TIERS = [
    {"role": "top_decision_maker", "group_class": "A", "tier": "diamond"},
    {"role": "top_decision_maker", "group_class": "B", "tier": "gold"},
    {"role": "top_decision_maker", "group_class": "C", "tier": "silver"},
    {"role": "division_cadre", "group_class": None, "tier": "gold"},
    {"role": "contact", "group_class": "A", "tier": "gold"},
    {"role": "contact", "group_class": "B", "tier": "silver"},
    {"role": "contact", "group_class": "C", "tier": "silver"},
    {"role": "contact", "group_class": "D", "tier": "silver"},
]
PLAN_TIERS = {"288": "silver", "388": "gold", "588": "gold"}


def seed(apps, schema_editor):
    Tier = apps.get_model("tiers", "Tier")
    RatingPolicy = apps.get_model("tiers", "RatingPolicy")
    for code, zh, en, rank, threshold in TIERS:
        Tier.objects.get_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "rank": rank, "threshold": threshold}
        )
    RatingPolicy.objects.get_or_create(
        code="annual",
        defaults={
            "name": "Annual composite (GoTone)",
            "kind": "annual_composite",
            "active": True,
            "window_months": 12,
            "thresholds": {},
            "tenure_bonus": [[10, 300], [3, 200], [1, 100]],
            "min_tenure_months": 12,
            "validity_months": 12,
            "plan_tiers": PLAN_TIERS,
            "key_person_tiers": KEY_PERSON_TIERS,
            "run_day": 1,
        },
    )
    RatingPolicy.objects.get_or_create(
        code="average6",
        defaults={
            "name": "Average monthly spend, 6 months",
            "kind": "average_spend",
            "active": False,
            "window_months": 6,
            "thresholds": {"silver": "150", "gold": "300", "diamond": "450"},
            "tenure_bonus": [],
            "min_tenure_months": 12,
            "validity_months": 12,
            "plan_tiers": PLAN_TIERS,
            "key_person_tiers": KEY_PERSON_TIERS,
            "run_day": 1,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("tiers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
