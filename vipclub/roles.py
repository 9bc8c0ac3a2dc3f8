"""Roles and API scopes as Django groups (issues 8 and 13), kept in step with the code after every `migrate`.
What each role may do is core.permissions' model; this module writes the groups and their admin permissions.

- Club admins: everything.
- Supervisors (staff): read the club in the admin, propose overrides, review managers' plans and work logs,
  reassign, handle retention cases; every customer row in the admin and the API is limited to her branches (the
  regions of the managers she supervises).
- Account managers (not staff): the dashboard and the API's reads of their own customers; they log contacts,
  plans and work logs. Every manager's login is in the group (manager_upsert puts it there; this sync too).
- API clients (group `api_clients`) with scopes: one group `api:<scope>` per scope holding the permission
  core.scope_<name> (see core.models.API_SCOPES); `create_api_client NAME --scopes read,bills:write`.

The groups are written by a post_migrate handler rather than a data migration because `migrate` creates the
permissions only after all migrations ran (and a test database flush recreates them the same way)."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from core.models import API_SCOPES, scope_codename
from core.permissions import ACCOUNT_MANAGERS_GROUP, API_CLIENTS_GROUP, CLUB_ADMINS_GROUP, SUPERVISORS_GROUP
from managers.models import AccountManager

CLUB_ADMINS = CLUB_ADMINS_GROUP
SUPERVISORS = SUPERVISORS_GROUP
ACCOUNT_MANAGERS = ACCOUNT_MANAGERS_GROUP
CLUB_APPS = ("customers", "tiers", "benefits", "points", "managers", "retention", "service")

# (app_label, codename) beyond viewing the club's apps
SUPERVISOR_WRITES = (
    ("tiers", "add_tieroverride"),
    ("managers", "change_assignment"),
    ("managers", "change_serviceplan"),
    ("managers", "change_worklog"),
    ("managers", "change_membershipcard"),
    ("retention", "add_retentioncase"),
    ("retention", "change_retentioncase"),
    ("service", "add_complaint"),
    ("service", "change_complaint"),
    ("service", "add_signup"),
    ("service", "change_signup"),
    ("service", "change_giftorder"),
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
    # managers created before their logins got the role (or by hand in the admin): their logins join it
    logins = AccountManager.objects.filter(user__is_staff=False).exclude(user__groups=managers)
    managers.user_set.add(*logins.values_list("user_id", flat=True))
