from django.dispatch import Signal

# Sent inside the transaction when existing customers move to another branch (region) through
# customers_bulk_upsert, so that the apps above follow at once (managers: a manager of the new branch):
# kwargs customer_ids and on (the day of the change). Receivers are connected in vipclub/wiring.py.
customers_changed_branch = Signal()
