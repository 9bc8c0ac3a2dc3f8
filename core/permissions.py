from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.models import API_SCOPES, scope_codename

API_CLIENTS_GROUP = "api_clients"
CLUB_ADMINS_GROUP = "Club admins"


def _group_names(user) -> frozenset[str]:
    """The user's group names, read once per request (kept on the user object)."""
    names = getattr(user, "_vipclub_group_names", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._vipclub_group_names = names
    return names


def is_api_client(user) -> bool:
    return bool(user and user.is_authenticated and API_CLIENTS_GROUP in _group_names(user))


def is_club_admin(user) -> bool:
    """Superusers and the club admin role (vipclub.roles): everything, every branch."""
    return bool(user and user.is_authenticated and (user.is_superuser or CLUB_ADMINS_GROUP in _group_names(user)))


def has_scope(user, scope: str) -> bool:
    """An API client's token scope: the group `api:<scope>` (no extra query), or the permission
    core.scope_<name> granted another way; staff have them all."""
    assert scope in API_SCOPES, scope
    if not (user and user.is_authenticated):
        return False
    return bool(user.is_staff or f"api:{scope}" in _group_names(user) or user.has_perm(f"core.{scope_codename(scope)}"))


def required_scope(request, view) -> str | None:
    """The scope a request needs: the view's `scopes` for the method, else `read` for reads; None = a write
    no scope opens (staff only)."""
    scopes = getattr(view, "scopes", {})
    if request.method in scopes:
        return scopes[request.method]
    return "read" if request.method in SAFE_METHODS else None


def api_client_allowed(request, view) -> bool:
    """An API client (token of another system) holding the scope this request needs."""
    user = request.user
    if not is_api_client(user):
        return False
    scope = required_scope(request, view)
    return scope is not None and has_scope(user, scope)


def sees_pii(request) -> bool:
    """Unmasked msisdns in lists and ID numbers: people (their own scope rules apply) and clients with `pii`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return not is_api_client(user) or has_scope(user, "pii")


class IsStaffOrApiClient(BasePermission):
    """Club staff (session) or another system whose token has the scope of the request (view.scopes).

    Subclasses admit more users through `also_allows`; an API client is never among them, and its 403 names the
    scope its token lacks (or that the write is for club staff)."""

    message = "This endpoint is for club staff and API clients with the scope it needs."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff or api_client_allowed(request, view):
            return True
        if is_api_client(user):
            deny_with_scope(self, request, view)
            return False
        return self.also_allows(request, view)

    def also_allows(self, request, view) -> bool:
        """Who else may use the endpoint (an authenticated user, neither staff nor API client): nobody here."""
        return False


def deny_with_scope(permission, request, view) -> None:
    """Name what is missing in the 403: the token's scope, or that the write is for club staff."""
    if is_api_client(request.user):
        scope = required_scope(request, view)
        permission.code = "missing_scope" if scope else "staff_only"
        permission.message = (
            f"This API client's token lacks the scope '{scope}'." if scope else "This write is for club staff only."
        )
