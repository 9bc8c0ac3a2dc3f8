"""Test support every app's tests share: the API error shape, API clients with scopes."""

from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import API_CLIENTS_GROUP


def assert_error(response, status: int, code: str) -> dict:
    """The response is the API's error shape with `status` and `code`; returns the error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def client_with(django_user_model, name: str, scopes) -> APIClient:
    """Another system's API client (a token) holding only `scopes`."""
    user = django_user_model.objects.create_user(username=f"api-{name}")
    user.groups.add(
        Group.objects.get(name=API_CLIENTS_GROUP), *Group.objects.filter(name__in=[f"api:{s}" for s in scopes])
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def as_user(user) -> APIClient:
    """An API client signed in as this user (a staff session, no token)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
