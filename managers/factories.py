"""Factories of the managers app (test support): users, account managers, assignments, members with a manager,
obligations."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.permissions import ACCOUNT_MANAGERS_GROUP
from customers.factories import RegionFactory
from managers.models import AccountManager, Assignment, Obligation
from tiers.factories import MemberFactory


class UserFactory(factory.django.DjangoModelFactory):
    """A login (no usable password unless `password=` is given)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted)  # None: an unusable password, as create_user(password=None)
        if create:
            user.save(update_fields=["password"])


class ManagerFactory(factory.django.DjangoModelFactory):
    """An account manager with her login, in the role's group as `manager_upsert` puts her (`in_group=False`: not)."""

    class Meta:
        model = AccountManager
        skip_postgeneration_save = True

    employee_no = factory.Sequence(lambda n: f"E{n:03d}")
    name = factory.LazyAttribute(lambda o: f"经理{o.employee_no}")
    user = factory.SubFactory(UserFactory, username=factory.LazyAttribute(lambda u: f"u{u.factory_parent.employee_no}"))
    region = factory.SubFactory(RegionFactory)

    @factory.post_generation
    def in_group(manager, create, extracted, **kwargs):
        if create and extracted is not False:
            manager.user.groups.add(Group.objects.get(name=ACCOUNT_MANAGERS_GROUP))


class AssignmentFactory(factory.django.DjangoModelFactory):
    """A member's assignment to a manager from `started_on` (open unless `ended_on`)."""

    class Meta:
        model = Assignment

    customer = factory.SubFactory(MemberFactory)
    manager = factory.SubFactory(ManagerFactory)
    started_on = dt.date(2026, 1, 1)
    reason = "new_member"


class ManagedMemberFactory(MemberFactory):
    """A member with a tier (MemberFactory) assigned to `manager` from `assigned_on` (default: `since`), in the
    manager's branch; without a manager, a member of her own region and no assignment."""

    class Meta:
        skip_postgeneration_save = True

    class Params:
        manager = None
        assigned_on = factory.SelfAttribute("since")
        assignment_reason = "new_member"

    region = factory.Maybe("manager", factory.SelfAttribute("manager.region"), factory.SubFactory(RegionFactory))
    assignment = factory.Maybe(
        "manager",
        yes_declaration=factory.RelatedFactory(
            AssignmentFactory,
            factory_related_name="customer",
            manager=factory.SelfAttribute("..manager"),
            started_on=factory.SelfAttribute("..assigned_on"),
            reason=factory.SelfAttribute("..assignment_reason"),
        ),
        no_declaration=None,
    )


class ObligationFactory(factory.django.DjangoModelFactory):
    """Something `manager` owes `customer` by `due_on` (a periodic contact by default, open)."""

    class Meta:
        model = Obligation

    customer = factory.SubFactory(MemberFactory)
    manager = factory.SubFactory(ManagerFactory)
    kind = "periodic_contact"
    period = factory.Sequence(lambda n: f"p{n}")
    due_on = dt.date(2026, 10, 14)
    opened_on = factory.SelfAttribute("due_on")


BACKLOG_TIERS = ("diamond", "gold", "silver")
BACKLOG_KINDS = ("periodic_contact", "routine_call", "first_contact")


def queue_backlog(manager: AccountManager, *, on: dt.date, overdue: int, today: int = 0, week: int = 0, prefix="137"):
    """A manager's members with a backlog, bulk-created (test and browser support): `overdue` members each with one
    overdue obligation (1 to 15 days late, each day a diamond, a gold and a silver member in turn; the kinds in
    blocks of 45), `today` due on `on`, `week` due the next days
    of the week (at most until Sunday). Returns the obligations in the order created."""
    from customers.factories import make_id_number
    from customers.models import Customer
    from tiers.models import CustomerTier, Tier

    n = overdue + today + week
    tiers = {t.code: t for t in Tier.objects.filter(code__in=BACKLOG_TIERS)}
    Customer.objects.bulk_create(
        Customer(
            msisdn=f"{prefix}{i:08d}",
            name=f"会员{i:03d}",
            id_number=make_id_number(10_000 + i),
            birthday=dt.date(1980, 1 + i % 12, 1 + i % 27),
            join_date=dt.date(2015, 3, 1),
            brand="gotone",
            region=manager.region,
        )
        for i in range(n)
    )
    ids = list(Customer.objects.filter(msisdn__startswith=prefix).order_by("msisdn").values_list("id", flat=True))
    CustomerTier.objects.bulk_create(
        CustomerTier(customer_id=cid, tier=tiers[BACKLOG_TIERS[i % 3]], source="score", since=dt.date(2025, 1, 1))
        for i, cid in enumerate(ids)
    )
    Assignment.objects.bulk_create(
        Assignment(customer_id=cid, manager=manager, started_on=dt.date(2025, 1, 6), reason="new_member") for cid in ids
    )
    week_days = max((6 - on.weekday()), 1)
    rows = []
    for i, cid in enumerate(ids):
        if i < overdue:
            due, status = on - dt.timedelta(days=1 + (i // 3) % 15), "overdue"
        elif i < overdue + today:
            due, status = on, "open"
        else:
            due, status = on + dt.timedelta(days=1 + i % week_days), "open"
        rows.append(
            Obligation(
                customer_id=cid,
                manager=manager,
                kind=BACKLOG_KINDS[(i // 45) % 3],
                period=f"b{i}",
                opened_on=on - dt.timedelta(days=30),
                due_on=due,
                status=status,
                overdue_since=due + dt.timedelta(days=1) if status == "overdue" else None,
            )
        )
    return Obligation.objects.bulk_create(rows)
