from rest_framework.permissions import BasePermission

API_CLIENTS_GROUP = "api_clients"


def is_api_client(user) -> bool:
    return bool(user and user.is_authenticated and user.groups.filter(name=API_CLIENTS_GROUP).exists())


class IsStaffOrApiClient(BasePermission):
    """Club staff (session) or another system (token of an API client)."""

    message = "This endpoint is for club staff and API clients."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or is_api_client(user)))
