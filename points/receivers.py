"""Privileges follow tier changes (DOMAIN §10–§11): the receivers of `tiers.signals.tier_changed` (one customer,
between runs) and `tiers.signals.tier_changes_applied` (a rating run's chunk, the daily floors step), connected in
vipclub/wiring.py. Both run inside the tier change's transaction: the change and its events commit together."""

from . import services


def privileges_on_tier_change(sender, customer_id: int, from_tier, to_tier, **kwargs) -> None:
    services.privileges_follow_tier_change(
        customer_id=customer_id, was_member=from_tier is not None, is_member=to_tier is not None
    )


def privileges_on_tier_changes(sender, run_id, on, lo: int, hi: int, after_id: int, **kwargs) -> None:
    services.privileges_follow_tier_changes(run_id=run_id, on=on, lo=lo, hi=hi, after_id=after_id)
