"""The seeded benefit catalog of DOMAIN.md §5. Staff change it in the admin; the code reads it from here."""

from decimal import Decimal

from django.db import migrations

# code, Chinese name, English name, unit, period, validity days, redeemable while suspended, refuse old arrears
BENEFITS = [
    ("lounge_airport_national", "机场贵宾厅（全国）", "Airport lounge, national", "count", "year", None, False, False),
    ("lounge_airport_province", "机场贵宾厅（省内）", "Airport lounge, in-province", "count", "year", None, False, False),
    ("lounge_train_province", "高铁站贵宾厅（省内）", "Train-station lounge, in-province", "count", "year", None, False, False),
    ("birthday_gift", "生日礼（书籍+鲜花）", "Birthday gift (book + flowers)", "money", "year", None, False, False),
    ("care_hospitalisation", "特殊关怀：住院", "Special care: hospitalisation", "money", "event", None, False, False),
    ("care_business_opening", "特殊关怀：开业", "Special care: business opening", "money", "event", None, False, False),
    ("care_childbirth", "特殊关怀：生育", "Special care: childbirth", "money", "event", None, False, False),
    ("care_funeral", "特殊关怀：丧葬", "Special care: funeral", "money", "event", None, False, False),
    ("emergency_reactivation", "紧急开机", "Emergency reactivation", "hours", "month", None, True, True),
    ("sim_replacement", "免费补换卡", "SIM replacement", "count", "none", None, False, False),
    ("roaming_pack", "国际漫游包", "International roaming pack", "count", "year", 90, False, False),
    ("birthday_free_day", "生日免费日", "Birthday free day", "flag", "none", None, False, False),
    ("priority_hotline", "热线优先接入", "Priority hotline", "flag", "none", None, False, False),
    ("hall_queue_priority", "营业厅优先办理", "Hall queue priority", "flag", "none", None, False, False),
    ("late_fee_waiver", "免收滞纳金", "Late-fee waiver", "flag", "none", None, False, False),
]

CARE = {"money_cap": Decimal("150")}
ALL = ("diamond", "gold", "silver")
# benefit -> {tier: entitlement fields}; a tier not named has no entitlement ("–" in the table).
ENTITLEMENTS = {
    "lounge_airport_national": {"diamond": {"quantity": 12}, "gold": {"quantity": 6}},
    "lounge_airport_province": {"diamond": {"quantity": 12}, "gold": {"quantity": 6}, "silver": {"quantity": 2}},
    "lounge_train_province": {"diamond": {"quantity": 12}, "gold": {"quantity": 8}, "silver": {"quantity": 4}},
    "birthday_gift": {"diamond": {"money_cap": Decimal("150")}, "gold": {"money_cap": Decimal("100")}},
    "care_hospitalisation": {t: CARE for t in ALL},
    "care_business_opening": {t: CARE for t in ALL},
    "care_childbirth": {t: CARE for t in ALL},
    "care_funeral": {t: CARE for t in ALL},
    "emergency_reactivation": {
        "diamond": {"hours": 72, "per_month_limit": 3},
        "gold": {"hours": 72, "per_month_limit": 3},
        "silver": {"hours": 48, "per_month_limit": 3},
    },
    "sim_replacement": {t: {"unlimited": True} for t in ALL},
    "roaming_pack": {t: {"quantity": 1} for t in ALL},
    "birthday_free_day": {t: {} for t in ALL},
    "priority_hotline": {t: {} for t in ALL},
    "hall_queue_priority": {t: {} for t in ALL},
    "late_fee_waiver": {t: {"percent": 100} for t in ALL},
}


def seed(apps, schema_editor):
    Benefit = apps.get_model("benefits", "Benefit")
    TierEntitlement = apps.get_model("benefits", "TierEntitlement")
    Tier = apps.get_model("tiers", "Tier")
    tiers = {t.code: t for t in Tier.objects.all()}
    for position, (code, zh, en, unit, period, validity, suspended_ok, arrears) in enumerate(BENEFITS, start=1):
        benefit, _ = Benefit.objects.get_or_create(
            code=code,
            defaults={
                "name_zh": zh, "name_en": en, "unit": unit, "period": period, "validity_days": validity,
                "redeemable_while_suspended": suspended_ok, "refuse_old_arrears": arrears, "position": position * 10,
            },
        )
        for tier_code, fields in ENTITLEMENTS[code].items():
            if tier_code in tiers:
                TierEntitlement.objects.get_or_create(tier=tiers[tier_code], benefit=benefit, defaults=fields)


def unseed(apps, schema_editor):
    apps.get_model("benefits", "TierEntitlement").objects.filter(benefit__code__in=[b[0] for b in BENEFITS]).delete()
    apps.get_model("benefits", "Benefit").objects.filter(code__in=[b[0] for b in BENEFITS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0001_initial"),
        ("tiers", "0002_seed_tiers_and_policies"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
