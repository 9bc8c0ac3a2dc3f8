"""Roles and API scopes as Django groups (issue 8), kept in step with the code after every `migrate`.

- Club admins: everything.
- Supervisors (staff): read the club, propose overrides, review managers' plans and work logs, reassign,
  handle retention cases; customer lists and reports are limited to the branches of the managers they supervise.
- Account managers (not staff): the dashboard only, for their own customers; they log contacts, plans and
  work logs there.
- API clients (group `api_clients`) with scopes: one group `api:<scope>` per scope holding the permission
  core.scope_<name> (see core.models.API_SCOPES); `create_api_client NAME --scopes read,bills:write`.

The groups are written by a post_migrate handler rather than a data migration because `migrate` creates the
permissions only after all migrations ran (and a test database flush recreates them the same way)."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core.models import API_SCOPES, scope_codename
from core.permissions import API_CLIENTS_GROUP, CLUB_ADMINS_GROUP

CLUB_ADMINS = CLUB_ADMINS_GROUP
SUPERVISORS = "Supervisors"
ACCOUNT_MANAGERS = "Account managers"
CLUB_APPS = ("customers", "tiers", "benefits", "points", "managers", "retention")

# (app_label, codename) beyond viewing the club's apps
SUPERVISOR_WRITES = (
    ("tiers", "add_tieroverride"),
    ("managers", "change_assignment"),
    ("managers", "change_serviceplan"),
    ("managers", "change_worklog"),
    ("managers", "change_membershipcard"),
    ("retention", "add_retentioncase"),
    ("retention", "change_retentioncase"),
)
MANAGER_WRITES = (
    ("managers", "add_contactlog"),
    ("managers", "add_serviceplan"),
    ("managers", "add_worklog"),
)


def _perms(pairs) -> list[Permission]:
    q = Q(pk__in=[])
    for app_label, codename in pairs:
        q |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(q))


def sync_groups(**kwargs) -> None:
    """Create or update the role and scope groups (idempotent; staff-added permissions are kept)."""
    Group.objects.get_or_create(name=API_CLIENTS_GROUP)
    for scope in API_SCOPES:
        group, _ = Group.objects.get_or_create(name=f"api:{scope}")
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="core", codename=scope_codename(scope))
        )
    admins, _ = Group.objects.get_or_create(name=CLUB_ADMINS)
    admins.permissions.add(*Permission.objects.all())
    supervisors, _ = Group.objects.get_or_create(name=SUPERVISORS)
    views = Permission.objects.filter(content_type__app_label__in=CLUB_APPS, codename__startswith="view_")
    supervisors.permissions.add(*views, *_perms(SUPERVISOR_WRITES))
    managers, _ = Group.objects.get_or_create(name=ACCOUNT_MANAGERS)
    managers.permissions.add(*_perms(MANAGER_WRITES))
