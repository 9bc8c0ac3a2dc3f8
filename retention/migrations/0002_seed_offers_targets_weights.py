"""DOMAIN.md §8 defaults as data: the retention offers catalog, the yearly churn targets (all members below 3.5 %,
diamond and gold below 2 %) and the risk list's weights. Staff change them in the admin."""

from decimal import Decimal

from django.db import migrations

OFFERS = [
    # (code, Chinese name, English name, description)
    ("plan_discount", "套餐折扣", "Tariff discount", "A lower monthly fee on the current plan for 12 months."),
    ("data_bonus", "流量赠送", "Free data", "Extra monthly data for 6 months."),
    ("points_bonus", "积分回馈", "Bonus points", "Bonus points credited to the account."),
    ("device_subsidy", "购机补贴", "Handset subsidy", "A subsidy on a new handset with a 12-month commitment."),
    ("broadband_bundle", "宽带融合", "Broadband bundle", "Home broadband bundled with the mobile plan."),
    ("tier_guarantee", "等级保级", "Tier kept", "The current club tier kept for another year."),
    ("service_fix", "服务/网络问题专项处理", "Service or network fix", "A dedicated fix of the complaint."),
]
TARGETS = [(None, Decimal("3.50")), ("diamond", Decimal("2.00")), ("gold", Decimal("2.00"))]
WEIGHTS = [
    # (signal, weight, parameter)
    ("falling_spend", Decimal("30"), 20),  # last 3 bills at least 20 % below the 3 before
    ("suspension", Decimal("15"), 12),  # per suspension in the last 12 months
    ("arrears", Decimal("20"), 6),  # per unpaid bill of the last 6 closed months
    ("closure_request", Decimal("40"), 12),  # per closure request in the last 12 months
    ("overdue_contact", Decimal("10"), 0),  # per overdue obligation
]


def seed(apps, schema_editor):
    Offer = apps.get_model("retention", "RetentionOffer")
    Target = apps.get_model("retention", "ChurnTarget")
    Weight = apps.get_model("retention", "RiskWeight")
    Tier = apps.get_model("tiers", "Tier")
    for position, (code, zh, en, description) in enumerate(OFFERS):
        Offer.objects.get_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "description": description, "position": position}
        )
    tiers = {t.code: t for t in Tier.objects.all()}
    for code, rate in TARGETS:
        if code is None:
            if not Target.objects.filter(tier__isnull=True).exists():
                Target.objects.create(tier=None, max_rate=rate)
        elif code in tiers:
            Target.objects.get_or_create(tier=tiers[code], defaults={"max_rate": rate})
    for signal, weight, parameter in WEIGHTS:
        Weight.objects.get_or_create(signal=signal, defaults={"weight": weight, "parameter": parameter})


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial"), ("tiers", "0002_seed_tiers_and_policies")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
