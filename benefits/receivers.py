"""Benefits follow tier changes made between rating runs (override approval, move-in, closure) at once: the
receiver of `tiers.signals.tier_changed`, connected in vipclub/wiring.py."""

from . import services


def regrant_on_tier_change(sender, customer_id: int, on, **kwargs) -> None:
    # Inside the tier change's transaction: the new quota and the tier change commit together.
    services.benefit_regrant_customer(customer_id=customer_id, on=on)
