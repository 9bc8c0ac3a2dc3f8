"""DOMAIN §4: the routine SMS (weekly) and routine call (monthly) are owed to every member, not only diamond (the
seed 0002 gave them to diamond only). Every tier without them gets them, active; rules staff already have (the
diamond ones, or any they edited) are kept as they are, and no obligation is touched."""

from django.db import migrations

ROUTINE = [("routine_sms", "week"), ("routine_call", "month")]


def every_member(apps, schema_editor):
    Tier = apps.get_model("tiers", "Tier")
    ContactRule = apps.get_model("managers", "ContactRule")
    for tier in Tier.objects.all():
        for kind, cadence in ROUTINE:
            ContactRule.objects.get_or_create(tier=tier, kind=kind, defaults={"cadence": cadence, "lead_days": 0})


def diamond_only(apps, schema_editor):
    ContactRule = apps.get_model("managers", "ContactRule")
    ContactRule.objects.filter(kind__in=[kind for kind, _ in ROUTINE]).exclude(tier__code="diamond").delete()


class Migration(migrations.Migration):
    dependencies = [("managers", "0003_alter_obligation_customer_alter_obligation_done_by_and_more")]
    operations = [migrations.RunPython(every_member, diamond_only)]
