"""Reads of the managers app: who may see which customers, obligations, the dashboard's figures."""

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from core.errors import NotFoundError
from core.filters import filtered
from core.permissions import API_CLIENT, CLUB_ADMIN, MANAGER, SUPERVISOR, role_of
from customers.models import Customer, KeyPerson, Region
from points import selectors as points_selectors
from tiers import selectors as tier_selectors
from tiers.models import CustomerTier

from . import rules
from .calendar import WorkCalendar, package_knows
from .models import (
    AccountManager,
    Assignment,
    CalendarYear,
    CardState,
    ContactLog,
    MembershipCard,
    Notification,
    Obligation,
    ObligationKind,
    ObligationStatus,
    PlanStatus,
    ServicePlan,
    WorkingDayOverride,
    WorkLog,
)


def manager_of_user(user) -> AccountManager | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return AccountManager.objects.filter(user=user).select_related("region").first()


def manager_get(*, employee_no: str) -> AccountManager:
    manager = (
        AccountManager.objects.select_related("user", "region", "supervisor").filter(employee_no=employee_no).first()
    )
    if manager is None:
        raise NotFoundError(f"No account manager {employee_no}.", code="unknown_manager")
    return manager


def scoped_manager(*, employee_no: str, user) -> AccountManager:
    """manager_get() among the managers this user may address: all for club admins and API clients, those of her
    branches for a supervisor; a 404 `unknown_manager` otherwise."""
    manager = manager_get(employee_no=employee_no)
    if not scope_managers(AccountManager.objects.filter(pk=manager.pk), user).exists():
        raise NotFoundError(f"No account manager {employee_no}.", code="unknown_manager")
    return manager


def supervised_managers(user) -> QuerySet:
    return AccountManager.objects.filter(supervisor=user).select_related("user", "region")


@dataclass(frozen=True)
class CustomerScope:
    """The customers a user may address (core.permissions' roles): every customer (club admins, API clients),
    those of some branches (a supervisor: the regions of the managers she supervises), those a manager serves
    (active assignment), or none (no role)."""

    everyone: bool = False
    region_ids: tuple[int, ...] | None = None
    manager_id: int | None = None


def customer_scope(user) -> CustomerScope:
    """The user's customer scope, computed once per request (kept on the user object)."""
    scope = getattr(user, "_vipclub_customer_scope", None)
    if scope is None:
        role = role_of(user)
        if role in (CLUB_ADMIN, API_CLIENT):
            scope = CustomerScope(everyone=True)
        elif role == SUPERVISOR:
            scope = CustomerScope(
                region_ids=tuple(sorted(set(supervised_managers(user).values_list("region_id", flat=True))))
            )
        elif role == MANAGER:
            manager_id = AccountManager.objects.filter(user=user).values_list("pk", flat=True).first()
            scope = CustomerScope(manager_id=manager_id) if manager_id else CustomerScope()
        else:
            scope = CustomerScope()
        if user is not None and getattr(user, "is_authenticated", False):
            user._vipclub_customer_scope = scope
    return scope


def branch_ids(user) -> tuple[int, ...] | None:
    """The regions whose rows a user sees: None for all (club admins, API clients), a supervisor's branches, none
    for anybody else (a manager's rows follow her customers, not a region)."""
    scope = customer_scope(user)
    if scope.everyone:
        return None
    return scope.region_ids or ()


def sees_all_customers(user) -> bool:
    return customer_scope(user).everyone


def scope_rows(qs: QuerySet, user, *, customer: str | None = "customer", region: str | None = None) -> QuerySet:
    """THE scoped lookup: the rows of `qs` whose customer (the path `customer`; "" for customers themselves, None
    for rows without one) this user may address. A supervisor's rows are those of her branches' customers, or with
    `region` those whose own region (that path) is one of her branches; a manager's those of the customers she
    serves (none of the rows without a customer); no role none."""
    scope = customer_scope(user)
    if scope.everyone:
        return qs
    prefix = f"{customer}__" if customer else ""
    if scope.region_ids is not None:
        return qs.filter(**{f"{region or prefix + 'region'}__in": scope.region_ids})
    if scope.manager_id is not None and customer is not None:
        mine = Assignment.objects.filter(
            customer_id=OuterRef(customer or "pk"), manager_id=scope.manager_id, ended_on__isnull=True
        )
        return qs.filter(Exists(mine))
    return qs.none()


def scope_managers(qs: QuerySet, user) -> QuerySet:
    """The account managers of the branches this user may address (all for club admins and API clients)."""
    return scope_rows(qs, user, customer=None, region="region")


def scope_customers(qs: QuerySet, user) -> QuerySet:
    """The customers of `qs` this user may address (scope_rows)."""
    return scope_rows(qs, user, customer="")


def filter_by_manager(qs: QuerySet, employee_no: str) -> QuerySet:
    """Customers whose active account manager has this employee number."""
    mine = Assignment.objects.filter(
        customer_id=OuterRef("pk"), ended_on__isnull=True, manager__employee_no=employee_no
    )
    return qs.filter(Exists(mine))


def scoped_customer(*, msisdn: str, user, base: QuerySet | None = None) -> Customer:
    """The customer with this msisdn if this user may address her; a 404 `unknown_customer` otherwise, the same
    answer as for an msisdn nobody has (never revealing that she exists). Every API read and write of one customer
    goes through here."""
    qs = base if base is not None else Customer.objects.select_related("region")
    # msisdn is unique: `[:1]`, not `.first()`, whose ORDER BY id cost ~10 ms of planning per read (issue 20)
    customer = next(iter(scope_customers(qs, user).filter(msisdn=msisdn)[:1]), None)
    if customer is None:
        raise NotFoundError(f"No customer with msisdn {msisdn}.", code="unknown_customer")
    return customer


def scoped_customer_ids(*, msisdns, user) -> dict[str, int]:
    """{msisdn: id} of the customers among `msisdns` this user may address (the others are unknown to her)."""
    qs = scope_customers(Customer.objects.filter(msisdn__in=list(msisdns)), user)
    return dict(qs.values_list("msisdn", "id"))


def scoped_customer_values(*, msisdn: str, user, values: dict[str, str]) -> dict:
    """scoped_customer() read as a dict {name: value} of `values` ({name: lookup}; the active assignment's columns
    as `ACTIVE_ASSIGNMENT__…`), in one query and without model instances: for the hottest reads. The same 404
    `unknown_customer` as scoped_customer()."""
    qs = scope_customers(with_active_assignment(Customer.objects.all()), user).filter(msisdn=msisdn)
    row = next(iter(qs.values(*values.values())[:1]), None)
    if row is None:
        raise NotFoundError(f"No customer with msisdn {msisdn}.", code="unknown_customer")
    return {name: row[lookup] for name, lookup in values.items()}


def active_assignment(customer: Customer) -> Assignment | None:
    return Assignment.objects.filter(customer=customer, ended_on__isnull=True).select_related("manager").first()


_ACTIVE = "active_assignment_row"  # the joined active assignment (FilteredRelation) on a customer
ACTIVE_ASSIGNMENT = _ACTIVE  # for scoped_customer_values() lookups
_ACTIVE_ID = "active_assignment_row_id"  # its id, None when she has none: marks that the join was made


def with_active_assignment(qs: QuerySet) -> QuerySet:
    """Customers with their active assignment and its manager joined (one query), for active_assignment_of().
    A customer has at most one active assignment (constraint assignment_one_active_per_customer): no duplicates."""
    return (
        qs.annotate(**{_ACTIVE: FilteredRelation("assignments", condition=Q(assignments__ended_on__isnull=True))})
        .annotate(**{_ACTIVE_ID: F(f"{_ACTIVE}__id")})
        .select_related(f"{_ACTIVE}__manager")
    )


def active_assignment_of(customer: Customer) -> Assignment | None:
    """active_assignment() from the row with_active_assignment() joined, without a query; read when not joined."""
    if not hasattr(customer, _ACTIVE_ID):
        return active_assignment(customer)
    if getattr(customer, _ACTIVE_ID) is None:
        return None
    return getattr(customer, _ACTIVE)


def scoped_customer_profile(*, msisdn: str, user) -> Customer:
    """scoped_customer() with what her profile shows joined in the same query: region, current tier, active
    assignment and manager, points account, stored credit rating (read with the apps' `*_of` selectors)."""
    qs = Customer.objects.select_related("region")
    qs = with_active_assignment(points_selectors.with_account_and_rating(tier_selectors.annotate_tier(qs)))
    return scoped_customer(msisdn=msisdn, user=user, base=qs)


def scope_obligations(qs: QuerySet, user) -> QuerySet:
    return scope_rows(qs, user)


def obligation_list(*, filters: dict, user) -> QuerySet:

    from .filters import ObligationFilter

    qs = scope_obligations(Obligation.objects.select_related("customer", "manager"), user).order_by("due_on", "id")
    filterset = ObligationFilter(filters, queryset=qs)
    return filtered(filterset)


def compliance(*, managers, start: dt.date, end: dt.date) -> rules.Compliance:
    """Obligations done by their due date / obligations due, for due dates in [start, end]."""
    due = Obligation.objects.filter(manager__in=managers, due_on__gte=start, due_on__lte=end).exclude(
        status=ObligationStatus.CANCELLED
    )
    figures = due.aggregate(
        due=Count("id"),
        on_time=Count("id", filter=Q(status=ObligationStatus.DONE, done_at__date__lte=F("due_on"))),
    )
    return rules.Compliance(due=figures["due"], done_on_time=figures["on_time"])


def manager_overview(*, supervisor, on: dt.date) -> list[dict]:
    """Per manager of a supervisor: members, overdue, due today, compliance this month — one query each kind."""
    managers = list(supervised_managers(supervisor).order_by("employee_no"))
    ids = [m.pk for m in managers]
    members = dict(
        Assignment.objects.filter(manager_id__in=ids, ended_on__isnull=True)
        .values("manager_id")
        .annotate(n=Count("id"))
        .values_list("manager_id", "n")
    )
    start = on.replace(day=1)
    stats = {
        row["manager_id"]: row
        for row in Obligation.objects.filter(manager_id__in=ids)
        .values("manager_id")
        .annotate(
            overdue=Count("id", filter=Q(status=ObligationStatus.OVERDUE)),
            due_today=Count("id", filter=Q(status=ObligationStatus.OPEN, due_on=on)),
            due_month=Count("id", filter=Q(due_on__gte=start, due_on__lte=on) & ~Q(status=ObligationStatus.CANCELLED)),
            on_time=Count(
                "id",
                filter=Q(
                    due_on__gte=start, due_on__lte=on, status=ObligationStatus.DONE, done_at__date__lte=F("due_on")
                ),
            ),
        )
    }
    rows = []
    for m in managers:
        s = stats.get(m.pk, {})
        c = rules.Compliance(due=s.get("due_month", 0), done_on_time=s.get("on_time", 0))
        rows.append(
            {
                "manager": m,
                "members": members.get(m.pk, 0),
                "overdue": s.get("overdue", 0),
                "due_today": s.get("due_today", 0),
                "compliance": c.percent,
            }
        )
    return rows


def _birthdays_within(qs: QuerySet, on: dt.date, days: int) -> list[tuple[dt.date, Customer]]:
    """Members whose next birthday is in [on, on + days]: 29 February birthdays on 28 February in common years, as
    their birthday gift is (DOMAIN §4)."""
    window = [on + dt.timedelta(days=i) for i in range(days + 1)]
    pairs = {(day.month, day.day) for day in window}
    if any(day.month == 2 and day.day == 28 and not calendar.isleap(day.year) for day in window):
        pairs.add((2, 29))
    condition = Q(pk__in=[])
    for month, day in pairs:
        condition |= Q(birthday__month=month, birthday__day=day)
    result = [
        (rules.next_birthday(c.birthday, on), c) for c in qs.filter(condition).only("id", "msisdn", "name", "birthday")
    ]
    return sorted(result, key=lambda pair: pair[0])


# --- the account managers' pages (desk) ------------------------------------------------------------------

OPEN_STATES = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


def calendar_missing_years(on: dt.date) -> list[int]:
    """This year, or from 1 November next year, while its working days are not loaded."""
    return WorkCalendar(loaded_years=set(CalendarYear.objects.values_list("year", flat=True))).missing_years(on)


def serves(*, customer: Customer, manager: AccountManager) -> bool:
    """Whether the manager serves this customer (active assignment)."""
    return Assignment.objects.filter(customer=customer, manager=manager, ended_on__isnull=True).exists()


def manager_customers(*, manager: AccountManager, user, tier: str = "", status: str = "", q: str = "") -> QuerySet:
    """A manager's customers (active assignment) this user may see, filtered (tier code or "none", status) and
    searched (msisdn prefix or name), each with its tier, `next_due` (the due date of her next open obligation)
    and `late` (one is overdue); the next due first."""
    mine = Assignment.objects.filter(manager=manager, customer_id=OuterRef("pk"), ended_on__isnull=True)
    open_obligations = Obligation.objects.filter(customer_id=OuterRef("pk"), manager=manager, status__in=OPEN_STATES)
    qs = (
        scope_customers(tier_selectors.annotate_tier(Customer.objects.all()), user)
        .filter(Exists(mine))
        .annotate(
            next_due=Subquery(open_obligations.order_by("due_on").values("due_on")[:1]),
            late=Exists(open_obligations.filter(status=ObligationStatus.OVERDUE)),
        )
    )
    if tier:
        qs = tier_selectors.filter_by_tier(qs, tier)
    if status:
        qs = qs.filter(status=status)
    q = q.strip()
    if q.isdigit():
        qs = qs.filter(msisdn__startswith=q)
    elif q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by(F("next_due").asc(nulls_last=True), "name", "pk")


def customer_open_obligations(customer: Customer) -> list[Obligation]:
    """Her open and overdue obligations, whoever's, the first due first."""
    return list(
        Obligation.objects.filter(customer=customer, status__in=OPEN_STATES)
        .select_related("manager")
        .order_by("due_on")
    )


def latest_card(customer: Customer) -> MembershipCard | None:
    return (
        MembershipCard.objects.filter(customer=customer).select_related("tier").order_by("-created_at", "-id").first()
    )


def card_in_progress(customer: Customer) -> MembershipCard | None:
    return MembershipCard.objects.filter(customer=customer).exclude(state=CardState.RECEIVED).first()


def contact_timeline(customer: Customer) -> QuerySet:
    """All her contacts, the latest first (the customer page pages them)."""
    return ContactLog.objects.filter(customer=customer).select_related("manager").order_by("-occurred_at", "-id")


def latest_birthday_gift(customer: Customer) -> Obligation | None:
    """Her latest birthday-gift obligation, whatever its state (the customer page's gift status)."""
    return (
        Obligation.objects.filter(customer=customer, kind=ObligationKind.BIRTHDAY_GIFT)
        .order_by("-due_on", "-id")
        .first()
    )


def birthday_gift_of(*, customer: Customer, obligation_id: int) -> Obligation | None:
    return Obligation.objects.filter(pk=obligation_id, customer=customer, kind=ObligationKind.BIRTHDAY_GIFT).first()


def plan_of(*, manager: AccountManager, plan_id) -> ServicePlan | None:
    return ServicePlan.objects.filter(pk=plan_id, manager=manager).first()


def work_log_of(*, manager: AccountManager, on: dt.date) -> WorkLog | None:
    return WorkLog.objects.filter(manager=manager, date=on).first()


def plans_of(manager: AccountManager, *, limit: int = 20, offset: int = 0) -> QuerySet:
    return ServicePlan.objects.filter(manager=manager).select_related("reviewed_by")[offset : offset + limit]


def plan_count(manager: AccountManager) -> int:
    return ServicePlan.objects.filter(manager=manager).count()


def work_logs_of(manager: AccountManager, *, limit: int = 14) -> QuerySet:
    return WorkLog.objects.filter(manager=manager).select_related("reviewed_by")[:limit]


def plans_to_review(supervisor) -> QuerySet:
    """The plans her managers submitted, the earliest period first."""
    return (
        ServicePlan.objects.filter(manager__supervisor=supervisor, status=PlanStatus.SUBMITTED)
        .select_related("manager")
        .order_by("period_start", "manager__employee_no")
    )


def work_logs_to_review(supervisor, *, limit: int = 50) -> QuerySet:
    """Her managers' work logs not reviewed yet, the latest first."""
    return (
        WorkLog.objects.filter(manager__supervisor=supervisor, reviewed_at__isnull=True)
        .select_related("manager")
        .order_by("-date", "manager__employee_no")[:limit]
    )


def team_plan(*, supervisor, plan_id: int) -> ServicePlan | None:
    return ServicePlan.objects.filter(pk=plan_id, manager__supervisor=supervisor).select_related("manager").first()


def team_work_log(*, supervisor, log_id: int) -> WorkLog | None:
    return WorkLog.objects.filter(pk=log_id, manager__supervisor=supervisor).select_related("manager").first()


def manager_obligations(manager: AccountManager, *, on: dt.date) -> tuple[list[Obligation], list[Obligation]]:
    """(overdue, due by today) of one manager, the first due first, at most 100 each."""
    mine = Obligation.objects.filter(manager=manager).select_related("customer")
    overdue = list(mine.filter(status=ObligationStatus.OVERDUE).order_by("due_on", "id")[:100])
    due_today = list(mine.filter(status=ObligationStatus.OPEN, due_on__lte=on).order_by("due_on", "id")[:100])
    return overdue, due_today


def manager_obligation_counts(manager: AccountManager, *, on: dt.date) -> dict[str, int]:
    """The true sizes of manager_obligations()' two lists (which show at most 100 each): one query."""
    return Obligation.objects.filter(manager=manager).aggregate(
        overdue=Count("id", filter=Q(status=ObligationStatus.OVERDUE)),
        due_today=Count("id", filter=Q(status=ObligationStatus.OPEN, due_on__lte=on)),
    )


def lowest_load_managers(*, region_ids) -> dict[int, int]:
    """{region id: the id of its active manager with the lowest load against capacity} (ties: fewer members, then
    employee number), as the assignment of new members chooses."""
    best: dict[int, tuple] = {}
    managers = (
        AccountManager.objects.filter(active=True, region_id__in=list(region_ids))
        .annotate(load=Count("assignments", filter=Q(assignments__ended_on__isnull=True)))
        .values_list("id", "region_id", "capacity", "load", "employee_no")
    )
    for manager_id, region_id, capacity, load, employee_no in managers:
        key = (load / max(capacity, 1), load, employee_no, manager_id)
        if region_id not in best or key < best[region_id]:
            best[region_id] = key
    return {region_id: key[-1] for region_id, key in best.items()}


def group_account_managers(*, group_ids, on: dt.date) -> dict[int, int]:
    """{group id: the id of the group's account manager (集团客户经理, DOMAIN §4)} on `on`.

    The model keeps no manager on a group, so she is derived: the active manager who serves most of the group's
    key persons (ties: the lower id); for a group none of whose key persons has a manager, the lowest-load active
    manager of the branch most of its key persons belong to (ties: the lower region id). Groups of a branch
    without an active manager are left out."""
    group_ids = set(group_ids)
    if not group_ids:
        return {}
    served: dict[int, tuple[int, int]] = {}
    rows = (
        Assignment.objects.filter(
            ended_on__isnull=True,
            started_on__lte=on,
            manager__active=True,
            customer__key_person_roles__group_id__in=group_ids,
        )
        .values_list("customer__key_person_roles__group_id", "manager_id")
        .annotate(n=Count("customer_id", distinct=True))
    )
    for group_id, manager_id, n in rows:
        if group_id not in served or (-n, manager_id) < (-served[group_id][1], served[group_id][0]):
            served[group_id] = (manager_id, n)
    result = {group_id: manager_id for group_id, (manager_id, _n) in served.items()}
    branch: dict[int, tuple[int, int]] = {}
    rows = (
        KeyPerson.objects.filter(group_id__in=group_ids - set(result))
        .values_list("group_id", "customer__region_id")
        .annotate(n=Count("customer_id", distinct=True))
    )
    for group_id, region_id, n in rows:
        if group_id not in branch or (-n, region_id) < (-branch[group_id][1], branch[group_id][0]):
            branch[group_id] = (region_id, n)
    lowest = lowest_load_managers(region_ids={region_id for region_id, _n in branch.values()})
    for group_id, (region_id, _n) in branch.items():
        if region_id in lowest:
            result[group_id] = lowest[region_id]
    return result


# --- the staff cockpit: compliance per branch, the working-day calendar (vipclub.staff) --------------------------


def compliance_by_branch(*, start: dt.date, end: dt.date, region_ids=None) -> list[dict]:
    """Per branch (of `region_ids`; None: all), by the managers' region: obligations due in [start, end], done by
    their due date, the compliance % and the obligations overdue now. One GROUP BY (plus the regions)."""
    qs = Obligation.objects.all()
    if region_ids is not None:
        qs = qs.filter(manager__region_id__in=list(region_ids))
    in_window = Q(due_on__gte=start, due_on__lte=end) & ~Q(status=ObligationStatus.CANCELLED)
    # only the rows counted: those due in the window and the overdue ones (the status and due-date index)
    qs = qs.filter(Q(due_on__gte=start, due_on__lte=end) | Q(status=ObligationStatus.OVERDUE))
    stats = {
        row["region_id"]: row
        for row in qs.values(region_id=F("manager__region_id")).annotate(
            due=Count("id", filter=in_window),
            on_time=Count("id", filter=in_window & Q(status=ObligationStatus.DONE, done_at__date__lte=F("due_on"))),
            overdue=Count("id", filter=Q(status=ObligationStatus.OVERDUE)),
        )
    }
    regions = Region.objects.order_by("province", "code")
    if region_ids is not None:
        regions = regions.filter(pk__in=list(region_ids))
    rows = []
    for region in regions:
        s = stats.get(region.pk, {})
        c = rules.Compliance(due=s.get("due", 0), done_on_time=s.get("on_time", 0))
        rows.append(
            {
                "region": region,
                "due": c.due,
                "on_time": c.done_on_time,
                "percent": c.percent,
                "overdue": s.get("overdue", 0),
            }
        )
    return rows


def calendar_state(*, year: int) -> dict:
    """Whether the working-day calendar knows `year`: loaded by staff (who, when), known to the package, and how
    many overrides it has."""
    loaded = CalendarYear.objects.filter(year=year).select_related("loaded_by").first()
    overrides = WorkingDayOverride.objects.filter(date__year=year).count()
    return {
        "year": year,
        "loaded": loaded,
        "package": package_knows(year),
        "known": loaded is not None or package_knows(year),
        "overrides": overrides,
    }


def calendar_month(*, month: dt.date) -> list[list[dict | None]]:
    """The weeks (Monday first) of `month`, each day {date, working, kind, override, name} (None outside the
    month). Kinds: working, rest (weekend off), holiday (a weekday off), makeup (a weekend day worked)."""
    first = month.replace(day=1)
    days_in = calendar.monthrange(first.year, first.month)[1]
    last = first.replace(day=days_in)
    overrides = {o.date: o for o in WorkingDayOverride.objects.filter(date__gte=first, date__lte=last)}
    cal = WorkCalendar(
        {d: o.is_working for d, o in overrides.items()},
        set(CalendarYear.objects.filter(year=first.year).values_list("year", flat=True)),
    )
    weeks: list[list[dict | None]] = []
    week: list[dict | None] = [None] * first.weekday()
    for n in range(days_in):
        day = first + dt.timedelta(days=n)
        working = cal.is_working(day)
        weekend = day.weekday() >= 5
        kind = ("makeup" if weekend else "working") if working else ("rest" if weekend else "holiday")
        override = overrides.get(day)
        week.append(
            {
                "date": day,
                "working": working,
                "kind": kind,
                "override": override is not None,
                "name": override.name if override else "",
            }
        )
        if len(week) == 7:
            weeks.append(week)
            week = []
    if week:
        weeks.append(week + [None] * (7 - len(week)))
    return weeks


ID_LIMIT = 2**63  # ids from a URL or a query string at or past it match no row (and would overflow bigint)

# --- the work queue (desk) -------------------------------------------------------------------------------

QUEUE_SECTIONS = ("overdue", "today", "week")


def work_queue_qs(*, manager: AccountManager, on: dt.date, kind: str = "", tier: str = "") -> QuerySet:
    """Everything the manager owes up to the end of this week (open or overdue), each with `section` (0 overdue:
    marked overdue or due before `on`; 1 due today; 2 later this week) and `tier_rank` (her tier's rank, None
    without one); filtered by obligation kind and tier code ("none": not a member). Set-based: one query."""
    qs = Obligation.objects.filter(manager=manager, status__in=OPEN_STATES, due_on__lte=rules.week_end(on))
    if kind:
        qs = qs.filter(kind=kind)
    if tier == "none":
        qs = qs.filter(Q(customer__tier_state__isnull=True) | Q(customer__tier_state__tier__isnull=True))
    elif tier:
        qs = qs.filter(customer__tier_state__tier__code=tier)
    return qs.annotate(
        section=Case(
            When(Q(status=ObligationStatus.OVERDUE) | Q(due_on__lt=on), then=Value(0)),
            When(due_on=on, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
        tier_rank=F("customer__tier_state__tier__rank"),
    )


def work_queue_counts(*, manager: AccountManager, on: dt.date, kind: str = "", tier: str = "") -> dict[str, int]:
    """The true number of items per section of the queue (never capped), with `total`: one query."""
    figures = work_queue_qs(manager=manager, on=on, kind=kind, tier=tier).aggregate(
        overdue=Count("id", filter=Q(section=0)),
        today=Count("id", filter=Q(section=1)),
        week=Count("id", filter=Q(section=2)),
    )
    counts = {name: figures[name] or 0 for name in QUEUE_SECTIONS}
    counts["total"] = sum(counts.values())
    return counts


def work_queue_page(
    *, manager: AccountManager, on: dt.date, offset: int, limit: int, kind: str = "", tier: str = ""
) -> list[Obligation]:
    """One page of the queue in its order: overdue first (the most days late first), then due today, then later this
    week (the earliest due first); within a due date the highest tier first (diamond), then kind. Each item with
    `section`, `tier_rank`, `days_late` (0 unless overdue), its customer and her tier joined: one query."""
    rows = list(
        work_queue_qs(manager=manager, on=on, kind=kind, tier=tier)
        .select_related("customer", "customer__tier_state__tier")
        .order_by("section", "due_on", F("tier_rank").desc(nulls_last=True), "kind", "id")[offset : offset + limit]
    )
    for row in rows:
        row.days_late = max((on - row.due_on).days, 0)
    return rows


def undoable_log(*, user, log_id, at: dt.datetime) -> ContactLog | None:
    """The contact this user logged with id `log_id` while it may still be undone at `at`; None otherwise."""
    if not (str(log_id).isdigit() and int(log_id) < ID_LIMIT):
        return None
    log = ContactLog.objects.filter(pk=log_id, logged_by=user).select_related("customer").first()
    if log is None or not rules.undo_open(log.created_at, at):
        return None
    return log


def contact_log_of(*, user, log_id: int) -> ContactLog | None:
    """A contact log of a customer this user may address (the author is checked by the undo service)."""
    if log_id >= ID_LIMIT:
        return None
    return scope_rows(ContactLog.objects.select_related("customer"), user).filter(pk=log_id).first()


# --- the desk's tabs ---------------------------------------------------------------------------------------


def members_of(manager: AccountManager) -> QuerySet:
    return Assignment.objects.filter(manager=manager, ended_on__isnull=True)


def member_count(manager: AccountManager) -> int:
    return members_of(manager).count()


def members_by_tier(manager: AccountManager) -> list[dict]:
    return list(
        CustomerTier.objects.filter(customer_id__in=members_of(manager).values("customer_id"), tier__isnull=False)
        .values("tier__code", "tier__name_zh", "tier__name_en", "tier__rank")
        .annotate(n=Count("pk"))
        .order_by("-tier__rank")
    )


BIRTHDAY_DAYS = 7


def birthdays_of(manager: AccountManager, *, on: dt.date, days: int = BIRTHDAY_DAYS) -> list[tuple[dt.date, Customer]]:
    """Her members whose next birthday is in [on, on + days], the soonest first: one query."""
    member_ids = members_of(manager).values("customer_id")
    return _birthdays_within(Customer.objects.filter(pk__in=member_ids), on, days)


def cards_in_progress(manager: AccountManager) -> QuerySet:
    """The cards of her members not received yet, the oldest first."""
    return (
        MembershipCard.objects.filter(customer_id__in=members_of(manager).values("customer_id"))
        .exclude(state=CardState.RECEIVED)
        .select_related("customer")
        .order_by("created_at", "id")
    )


def tab_counts(*, manager: AccountManager, on: dt.date) -> dict[str, int]:
    """The managers app's figures of the desk's tabs: the queue's total, her members, birthdays in the next 7 days,
    cards in progress (a fixed number of queries)."""
    members = members_of(manager).values("customer_id")
    return {
        "queue": work_queue_counts(manager=manager, on=on)["total"],
        "customers": member_count(manager),
        "birthdays": len(birthdays_of(manager, on=on)),
        "cards": MembershipCard.objects.filter(customer_id__in=members).exclude(state=CardState.RECEIVED).count(),
    }


# --- notifications ---------------------------------------------------------------------------------------


def notifications_of(user) -> QuerySet:
    """Her notifications, the unread first, then the latest first."""
    return Notification.objects.filter(user=user).order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_of(*, user, notification_id: int) -> Notification | None:
    if notification_id >= ID_LIMIT:
        return None
    return Notification.objects.filter(pk=notification_id, user=user).first()
