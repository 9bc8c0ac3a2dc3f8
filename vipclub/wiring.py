"""Every signal the project connects, in one place, read top to bottom; called once from VipclubConfig.ready().

A signal is left only where an app must let an app above it follow a change without importing it (the layers run
one way): the sender below names what happened, the receiver above is a plain function of its app. Nothing else
is connected anywhere, and no module is imported for its side effects.
"""

from django.db.models.signals import post_migrate

from benefits.receivers import regrant_on_tier_change
from customers.signals import customers_changed_branch
from managers.receivers import reassign_on_branch_change
from managers.signals import customers_reassigned
from points.receivers import privileges_on_tier_change, privileges_on_tier_changes
from retention.services import cases_follow_reassignment
from tiers.signals import rating_run_applied, tier_changed, tier_changes_applied

from .audit import record_initial_state
from .pipeline import start_monthly_pipeline
from .roles import sync_groups


def connect(app_config) -> None:
    # tiers → the project: an applied rating run starts the monthly pipeline (after commit, as a Celery task)
    rating_run_applied.connect(start_monthly_pipeline)
    # tiers → benefits: a tier changed between runs (override, move-in, closure) re-grants her quotas at once,
    # inside the tier change's transaction
    tier_changed.connect(regrant_on_tier_change)
    # tiers → points: a tier change that changes what a customer gets from the club (DOMAIN §10) writes her
    # `privileges.changed` event in the change's transaction; set-based for a run's chunk and the daily floors step
    tier_changed.connect(privileges_on_tier_change)
    tier_changes_applied.connect(privileges_on_tier_changes)
    # customers → managers: a member whose branch changed is reassigned at once to a manager of her new branch,
    # inside the change's transaction
    customers_changed_branch.connect(reassign_on_branch_change)
    # managers → retention: customers moved to another account manager take their open retention cases along,
    # inside the reassignment's transaction
    customers_reassigned.connect(cases_follow_reassignment)
    # after `migrate`: the role and scope groups, and the first history rows of the audited configuration
    post_migrate.connect(sync_groups, sender=app_config)
    post_migrate.connect(record_initial_state, sender=app_config)
