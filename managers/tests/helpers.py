import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.permissions import SUPERVISORS_GROUP
from customers.factories import RegionFactory
from managers.factories import ManagedMemberFactory, ManagerFactory
from managers.models import AccountManager


def make_manager(employee_no: str, *, region=None, capacity=100, active=True, supervisor=None) -> AccountManager:
    """An account manager with her login, in the role's group as manager_upsert puts her."""
    return ManagerFactory(
        employee_no=employee_no,
        user__password="pw-Secret-123",
        region=region or RegionFactory(),
        capacity=capacity,
        active=active,
        supervisor=supervisor,
    )


def make_supervisor(username: str, **fields):
    """A branch supervisor: staff in the group Supervisors (her branches: those of the managers she supervises)."""
    boss = get_user_model().objects.create_user(username=username, is_staff=True, **fields)
    boss.groups.add(Group.objects.get(name=SUPERVISORS_GROUP))
    return boss


def make_member(*, tier="gold", region=None, manager=None, started_on=dt.date(2026, 9, 1), **customer):
    if region:
        customer["region"] = region
    return ManagedMemberFactory(tier=tier, since=started_on, manager=manager, **customer)
