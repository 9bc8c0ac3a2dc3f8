"""DOMAIN.md §4 defaults as data: periodic contact monthly for diamond and gold, quarterly for silver;
a birthday-gift obligation 3 days before the birthday for the tiers with a birthday gift; routine SMS
(weekly) and call (monthly) for diamond. Staff change them in the admin."""

from django.db import migrations

RULES = [
    ("diamond", "periodic_contact", "month", 0),
    ("gold", "periodic_contact", "month", 0),
    ("silver", "periodic_contact", "quarter", 0),
    ("diamond", "birthday_gift", "year", 3),
    ("gold", "birthday_gift", "year", 3),
    ("diamond", "routine_sms", "week", 0),
    ("diamond", "routine_call", "month", 0),
]


def seed(apps, schema_editor):
    Tier = apps.get_model("tiers", "Tier")
    ContactRule = apps.get_model("managers", "ContactRule")
    tiers = {t.code: t for t in Tier.objects.all()}
    for tier, kind, cadence, lead in RULES:
        if tier in tiers:
            ContactRule.objects.get_or_create(
                tier=tiers[tier], kind=kind, defaults={"cadence": cadence, "lead_days": lead}
            )


class Migration(migrations.Migration):
    dependencies = [("managers", "0001_initial"), ("tiers", "0002_seed_tiers_and_policies")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
