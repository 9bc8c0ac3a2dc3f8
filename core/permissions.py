"""The club's one authorization model (issue 13): who is who, and which API requests each role may make.

Roles (groups kept in step by vipclub.roles after every `migrate`):

- club admin: a superuser or the group *Club admins* — everything, every branch;
- supervisor: staff in the group *Supervisors* — her branches are the regions of the account managers she
  supervises; the API's reads of her branches' customers, reassignment within them, contact logs and retention
  cases on them;
- account manager: the group *Account managers*, not staff — the API's reads of her own customers (active
  assignment), contact logs and retention cases on them;
- API client: the group `api_clients` — exactly its token's scopes (groups `api:<scope>`).

A login with none of these roles (staff or not) gets nothing in the API: a 403 `role_missing`. Being staff
is not a role: it only opens the admin site, where the model permissions of the role's group apply.

Which customers a role may address (her branches, her own) needs the managers' data: managers.selectors
(`customer_scope`, `scoped_customer`, `scope_rows`) is the one scoped lookup every customer read and write goes
through, and the API views that address customers live in managers, retention and vipclub.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.models import API_SCOPES, scope_codename

API_CLIENTS_GROUP = "api_clients"
CLUB_ADMINS_GROUP = "Club admins"
SUPERVISORS_GROUP = "Supervisors"
ACCOUNT_MANAGERS_GROUP = "Account managers"

CLUB_ADMIN = "club admin"
SUPERVISOR = "supervisor"
MANAGER = "account manager"
API_CLIENT = "API client"
PEOPLE = (SUPERVISOR, MANAGER)  # the roles a view may open to besides club admins and API clients


def _grants(user) -> tuple[frozenset[str], frozenset[str]]:
    """(the user's group names, the codenames of her scope permissions of the core app — given to her or to a
    group of hers), read once per request in one query and kept on the user object: role_of(), has_scope() and
    sees_pii() cost no further query."""
    grants = getattr(user, "_vipclub_grants", None)
    if grants is None:
        from django.contrib.auth.models import Group, Permission
        from django.db.models import CharField, Q, Value

        groups = Group.objects.filter(user=user).order_by().values_list(Value("g", output_field=CharField()), "name")
        perms = (
            Permission.objects.filter(Q(user=user) | Q(group__user=user))
            .filter(content_type__app_label="core", codename__startswith="scope_")
            .order_by()
            .values_list(Value("p", output_field=CharField()), "codename")
        )
        rows = list(groups.union(perms, all=True))
        grants = (
            frozenset(name for kind, name in rows if kind == "g"),
            frozenset(name for kind, name in rows if kind == "p"),
        )
        user._vipclub_grants = grants
    return grants


def remember_grants(user, groups, perms) -> None:
    """Keep the grants read elsewhere with the user (the token authentication reads them with the token, in the
    same query: core.authentication) as _grants() would have: its group names and scope permission codenames."""
    user._vipclub_grants = (frozenset(groups), frozenset(perms))


def _group_names(user) -> frozenset[str]:
    """The user's group names, read once per request (with her scope permissions: _grants)."""
    return _grants(user)[0]


def role_of(user) -> str | None:
    """The user's role in the club, or None (anonymous, or a login nobody gave a role)."""
    if not (user and user.is_authenticated):
        return None
    if user.is_superuser:
        return CLUB_ADMIN
    groups = _group_names(user)
    if CLUB_ADMINS_GROUP in groups:
        return CLUB_ADMIN
    if API_CLIENTS_GROUP in groups:
        return API_CLIENT
    if user.is_staff and SUPERVISORS_GROUP in groups:
        return SUPERVISOR
    if not user.is_staff and ACCOUNT_MANAGERS_GROUP in groups:
        return MANAGER
    return None


def is_api_client(user) -> bool:
    return role_of(user) == API_CLIENT


def is_club_admin(user) -> bool:
    """Superusers and the club admin role: everything, every branch."""
    return role_of(user) == CLUB_ADMIN


def has_scope(user, scope: str) -> bool:
    """An API client's token scope: the group `api:<scope>`, or the permission core.scope_<name> granted another
    way (to her, or to another group of hers; both read with her groups, no extra query). Only API clients have scopes: a person's rights come from her role."""
    assert scope in API_SCOPES, scope
    if not is_api_client(user):
        return False
    groups, perms = _grants(user)
    return f"api:{scope}" in groups or (user.is_active and scope_codename(scope) in perms)


def required_scope(request, view) -> str | None:
    """The scope a request needs: the view's `scopes` for the method, else `read` for reads; None = a write
    no scope opens (club admins only)."""
    scopes = getattr(view, "scopes", {})
    if request.method in scopes:
        return scopes[request.method]
    return "read" if request.method in SAFE_METHODS else None


def roles_allowed(request, view) -> tuple[str, ...]:
    """The people roles the view opens the request's method to (`view.roles`, reads under "GET")."""
    method = "GET" if request.method in SAFE_METHODS else request.method
    return tuple(getattr(view, "roles", {}).get(method, ()))


def sees_pii(request) -> bool:
    """Unmasked msisdns in lists and ID numbers: people (their own scope rules apply) and clients with `pii`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return not is_api_client(user) or has_scope(user, "pii")


class RoleOrScope(BasePermission):
    """The API's one permission: club admins may do everything; an API client what its token's scope for the
    request allows (`view.scopes`, default `read` for reads); a supervisor or an account manager the methods the
    view lists for her role (`view.roles`, e.g. `{"GET": PEOPLE}`), on her own customers only (the view's lookups
    go through managers.selectors); anybody else nothing. Every 403 names what is missing."""

    message = "This endpoint is for club admins and API clients with the scope it needs."

    def has_permission(self, request, view):
        user = request.user
        role = role_of(user)
        if role == CLUB_ADMIN:
            return True
        if not (user and user.is_authenticated):
            return False  # 401 (token) or 403 (session): not authenticated
        if role == API_CLIENT:
            scope = required_scope(request, view)
            if scope is not None and has_scope(user, scope):
                return True
            self._deny(
                "missing_scope" if scope else "staff_only",
                f"This API client's token lacks the scope '{scope}'."
                if scope
                else "This write is for club admins only.",
            )
            return False
        allowed = roles_allowed(request, view)
        if role is not None and role in allowed:
            return True
        if role is None:
            self._deny(
                "role_missing",
                "Your login has no role in the club (club admin, supervisor or account manager): "
                "ask a club admin to give you one.",
            )
        else:
            scope = required_scope(request, view)
            clients = [f"API clients with the scope '{scope}'"] if scope else []
            who = ", ".join(["club admins", *(f"{r}s" for r in allowed), *clients])
            self._deny("permission_denied", f"A {role} may not {request.method} this endpoint; it is for {who}.")
        return False

    def _deny(self, code: str, message: str) -> None:
        self.code, self.message = code, message
