from django.dispatch import Signal

# Sent (after commit) when an applied (not dry) rating run has finished: kwargs run_id.
rating_run_applied = Signal()

# Sent inside the transaction when a customer's tier changes between runs (override approval, move-in,
# closure), so that other apps follow at once (benefits re-grant): kwargs customer_id, from_tier, to_tier
# (codes or None) and on (the effective date). Bulk changes by a rating run send nothing: the monthly
# pipeline follows those.
tier_changed = Signal()

# Receivers of both are connected in vipclub/wiring.py.
