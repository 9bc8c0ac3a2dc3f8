"""The corrected catalog of DOMAIN §5: one airport lounge benefit — 12 visits a year for diamond, 6 for gold (any
airport in China), 2 for silver (in-province airports only) — instead of 12 + 12 "national" and "in-province"
visits for diamond; and the benefits a key person's floor tier gives (the airport lounge, the priority hotline and
hall queue).

`lounge_airport_national` becomes `lounge_airport` (same row: its accounts, ledger and history stay). A tier with
no entitlement on it (silver) takes its in-province quantity over. `lounge_airport_province` is no longer offered:
each of its visits that stands is moved to the airport lounge account of the same customer and period (a reversal
on the old account, the same visit — date, reference, tier, actor — redeemed on the new one), the rest of the old
account expires, and the new account is granted at least what is now used (a current period: the tier's quota, if
higher). The ledger is append-only: only entries are added.
"""

from django.db import migrations
from django.utils import timezone

NATIONAL, PROVINCE, AIRPORT = "lounge_airport_national", "lounge_airport_province", "lounge_airport"
KEY_PERSON_BENEFITS = (AIRPORT, "priority_hotline", "hall_queue_priority")
ACTOR = "system: catalog correction"
BATCH = 2000


def forward(apps, schema_editor):
    Benefit = apps.get_model("benefits", "Benefit")
    TierEntitlement = apps.get_model("benefits", "TierEntitlement")
    airport = Benefit.objects.filter(code=NATIONAL).first()
    province = Benefit.objects.filter(code=PROVINCE).first()
    if airport is not None:
        airport.code, airport.name_zh, airport.name_en = AIRPORT, "机场贵宾厅", "Airport lounge"
        airport.description = "Diamond and gold: any airport in China; silver: in-province airports only."
        airport.save(update_fields=["code", "name_zh", "name_en", "description"])
    if airport is not None and province is not None:
        has = set(TierEntitlement.objects.filter(benefit=airport).values_list("tier_id", flat=True))
        for e in TierEntitlement.objects.filter(benefit=province).exclude(tier_id__in=has):
            TierEntitlement.objects.create(tier_id=e.tier_id, benefit=airport, quantity=e.quantity,
                                           unlimited=e.unlimited)
        TierEntitlement.objects.filter(benefit=province).delete()
        province.active = False
        province.save(update_fields=["active"])
        move_visits(apps, province, airport)
    Benefit.objects.filter(code__in=KEY_PERSON_BENEFITS).update(for_key_person_floor=True)


def airport_accounts(BenefitAccount, airport, customer_ids, keys) -> dict:
    return {
        (a.customer_id, a.period_key): a
        for a in BenefitAccount.objects.filter(benefit=airport, customer_id__in=customer_ids, period_key__in=keys)
    }


def move_visits(apps, province, airport):
    TierEntitlement = apps.get_model("benefits", "TierEntitlement")
    BenefitAccount = apps.get_model("benefits", "BenefitAccount")
    BenefitEntry = apps.get_model("benefits", "BenefitEntry")
    CustomerTier = apps.get_model("tiers", "CustomerTier")
    now, today = timezone.now(), timezone.localdate()
    quotas = dict(TierEntitlement.objects.filter(benefit=airport).values_list("tier_id", "quantity"))
    last = 0
    while True:
        old_accounts = list(
            BenefitAccount.objects.filter(benefit=province, pk__gt=last)
            .exclude(granted=0, used=0)
            .order_by("pk")[:BATCH]
        )
        if not old_accounts:
            return
        last = old_accounts[-1].pk
        customer_ids = {a.customer_id for a in old_accounts}
        visits = {}
        for r in BenefitEntry.objects.filter(account__in=old_accounts, kind="redeem", reversal__isnull=True).order_by(
            "pk"
        ):
            visits.setdefault(r.account_id, []).append(r)
        keys = {a.period_key for a in old_accounts}
        new_accounts = airport_accounts(BenefitAccount, airport, customer_ids, keys)
        tiers = dict(
            CustomerTier.objects.filter(customer_id__in=customer_ids, tier__isnull=False)
            .exclude(customer__status="closed")
            .values_list("customer_id", "tier_id")
        )
        missing = [
            BenefitAccount(customer_id=a.customer_id, benefit=airport, period_key=a.period_key,
                           period_start=a.period_start, period_end=a.period_end, updated_at=now)
            for a in old_accounts
            if (a.customer_id, a.period_key) not in new_accounts
        ]
        if missing:
            BenefitAccount.objects.bulk_create(missing)
            new_accounts = airport_accounts(BenefitAccount, airport, customer_ids, keys)
        entries, changed = [], []
        for old in old_accounts:
            new = new_accounts[(old.customer_id, old.period_key)]
            moved = 0
            for r in visits.get(old.pk, []):
                moved += r.used_delta
                old.used -= r.used_delta
                new.used += r.used_delta
                entries.append(BenefitEntry(
                    account_id=old.pk, customer_id=old.customer_id, benefit_id=province.pk, kind="reverse",
                    used_delta=-r.used_delta, remaining_after=old.granted - old.used, tier_id=r.tier_id,
                    occurred_on=today, actor=ACTOR, reference=f"moved to {AIRPORT}", reversal_of=r, created_at=now,
                ))
                entries.append(BenefitEntry(
                    account_id=new.pk, customer_id=new.customer_id, benefit_id=airport.pk, kind="redeem",
                    used_delta=r.used_delta, tier_id=r.tier_id, valid_until=r.valid_until, occurred_on=r.occurred_on,
                    actor=r.actor, reference=r.reference, created_at=now,
                ))
            if old.granted > old.used:
                entries.append(BenefitEntry(
                    account_id=old.pk, customer_id=old.customer_id, benefit_id=province.pk, kind="expire",
                    granted_delta=old.used - old.granted, remaining_after=0, occurred_on=today, actor=ACTOR,
                    reference=f"replaced by {AIRPORT}", created_at=now,
                ))
                old.granted = old.used
            current = old.period_end is None or old.period_end >= today
            tier_id = tiers.get(old.customer_id)
            quota = (quotas.get(tier_id) or 0) if current and tier_id else 0
            granted = max(new.granted, new.used, quota)
            if granted != new.granted:
                entries.append(BenefitEntry(
                    account_id=new.pk, customer_id=new.customer_id, benefit_id=airport.pk,
                    kind="grant" if new.granted == 0 else "adjust", granted_delta=granted - new.granted,
                    remaining_after=granted - new.used, tier_id=tier_id if current else None, occurred_on=today,
                    actor=ACTOR, reference=f"replaces {PROVINCE}", created_at=now,
                ))
                new.granted = granted
            old.updated_at = new.updated_at = now
            changed += [old, new]
        # each row's granted and used together (used ≤ granted holds), then the entries that explain them
        BenefitAccount.objects.bulk_update(changed, ["granted", "used", "updated_at"], batch_size=500)
        BenefitEntry.objects.bulk_create(entries, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0003_benefit_for_key_person_floor"),
        ("tiers", "0002_seed_tiers_and_policies"),
    ]

    # no way back: the moved visits stay moved (the ledger is append-only)
    operations = [migrations.RunPython(forward)]
