from django.dispatch import Signal

# Sent (after commit) when an applied (not dry) rating run has finished: kwargs run_id.
rating_run_applied = Signal()

# Sent inside the transaction when a customer's tier changes between runs (override approval, move-in,
# closure), so that other apps follow at once (benefits re-grant): kwargs customer_id, from_tier, to_tier
# (codes or None) and on (the effective date). Bulk changes by a rating run send nothing: the monthly
# pipeline follows those.
tier_changed = Signal()

# Sent inside the transaction after a set-based step has written tier changes: an applied rating run's chunk
# (run_id, the customers lo <= id <= hi) or the daily floors step (run_id None, every customer); kwargs run_id, on
# (the effective date), lo, hi and after_id (the history's highest id before the step: its changes are above it), so
# that apps above follow set-based in the same transaction (the privileges' events).
tier_changes_applied = Signal()

# Receivers are connected in vipclub/wiring.py.
