"""The seeded defaults of DOMAIN.md §6 (expiry, reward rules) and §7 (the credit table). Staff change them in
the admin; the code reads them from here."""

from decimal import Decimal

from django.db import migrations

REWARDS = [
    ("gotone_brand", "GoTone brand reward", "brand", "gotone", 0, Decimal("10")),
    ("tenure_5", "Tenure reward, 5 years or more", "tenure", "", 5, Decimal("5")),
    ("tenure_10", "Tenure reward, 10 years or more", "tenure", "", 10, Decimal("10")),
]


def seed(apps, schema_editor):
    PointsPolicy = apps.get_model("points", "PointsPolicy")
    RewardRule = apps.get_model("points", "RewardRule")
    CreditPolicy = apps.get_model("points", "CreditPolicy")
    PointsPolicy.objects.get_or_create(code="default", defaults={"expiry_years": 2})
    for code, name, kind, brand, min_years, percent in REWARDS:
        RewardRule.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "brand": brand, "min_years": min_years, "percent": percent},
        )
    CreditPolicy.objects.get_or_create(
        code="default",
        defaults={
            "brand_points": {"gotone": 50, "mzone": 30, "easyown": 20},
            "tenure_points": [[1, 50], [2, 150], [3, 200], [4, 250], [5, 300]],
            "average_bands": [["20", 0], ["50", 20], ["80", 50], ["120", 100], ["200", 150], ["400", 200]],
            "over_top_band_points": 250,
            "bills_counted": 6,
            "suspension_penalty": 100,
            "suspension_months": 12,
            "star_thresholds": [[500, 5], [400, 4], [300, 3], [200, 2], [100, 1]],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
