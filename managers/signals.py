from django.dispatch import Signal

# Sent inside the transaction when customers move to another account manager (customers_reassign), so that
# what other apps assign to the manager follows them (retention: the open cases): kwargs customer_ids, manager.
# Receivers are connected in vipclub/wiring.py.
customers_reassigned = Signal()
