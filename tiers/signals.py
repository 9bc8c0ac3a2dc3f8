from django.dispatch import Signal

# Sent (after commit) when an applied (not dry) rating run has finished: kwargs run_id.
rating_run_applied = Signal()
