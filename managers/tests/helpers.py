import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.permissions import ACCOUNT_MANAGERS_GROUP, SUPERVISORS_GROUP
from customers.factories import CustomerFactory, RegionFactory
from managers.models import AccountManager, Assignment
from tiers.models import CustomerTier, Tier


def make_manager(employee_no: str, *, region=None, capacity=100, active=True, supervisor=None) -> AccountManager:
    """An account manager with her login, in the role's group as manager_upsert puts her."""
    user = get_user_model().objects.create_user(username=f"u{employee_no}", password="pw-Secret-123")
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))
    return AccountManager.objects.create(
        user=user, employee_no=employee_no, name=f"经理{employee_no}", region=region or RegionFactory(),
        capacity=capacity, active=active, supervisor=supervisor,
    )  # fmt: skip


def make_supervisor(username: str, **fields):
    """A branch supervisor: staff in the group Supervisors (her branches: those of the managers she supervises)."""
    boss = get_user_model().objects.create_user(username=username, is_staff=True, **fields)
    boss.groups.add(Group.objects.get(name=SUPERVISORS_GROUP))
    return boss


def make_member(*, tier="gold", region=None, manager=None, started_on=dt.date(2026, 9, 1), **customer):
    customer = CustomerFactory(region=region or (manager.region if manager else RegionFactory()), **customer)
    if tier:
        CustomerTier.objects.create(
            customer=customer, tier=Tier.objects.get(code=tier), source="score", since=started_on
        )
    if manager:
        Assignment.objects.create(customer=customer, manager=manager, started_on=started_on, reason="new_member")
    return customer
