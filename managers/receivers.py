"""Managers follow customer changes made below them at once: the receivers of `customers.signals`, connected in
vipclub/wiring.py."""

from . import services


def reassign_on_branch_change(sender, customer_ids: list[int], on, **kwargs) -> None:
    # Inside the customers' transaction: the new assignments commit with the branch change.
    services.assignments_follow_branch(customer_ids=customer_ids, on=on)
