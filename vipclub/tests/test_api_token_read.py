"""The customer read of an API client (issue 20): the token, its user and her grants in one query, the customer in
one more — and nothing kept between requests: a revoked token, a deactivated client or a scope taken away counts
from the very next request, whichever way the scope was given (her group `api:<scope>`, the scope permission given
to her or to another group of hers)."""

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import API_CLIENTS_GROUP
from customers.factories import CustomerFactory
from points.models import CreditRating

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated_customer(region):
    customer = CustomerFactory(region=region, id_number="440106199001011234")
    CreditRating.objects.create(
        customer=customer, stars=3, score=500, as_of=dt.date(2026, 11, 1), computed_at=timezone.now()
    )
    return customer


def client_with(django_user_model, *groups: str, username: str = "hotline") -> tuple[APIClient, Token]:
    user = django_user_model.objects.create_user(username=username)
    user.groups.add(Group.objects.get_or_create(name=API_CLIENTS_GROUP)[0], *Group.objects.filter(name__in=groups))
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, token


def scope_permission(scope: str) -> Permission:
    return Permission.objects.get(content_type__app_label="core", codename=f"scope_{scope}")


def test_a_client_reads_a_customer_in_two_queries(django_user_model, rated_customer, django_assert_max_num_queries):
    # given an API client with the read scope
    client, _ = client_with(django_user_model, "api:read")
    # when she reads a customer, then the token with her grants and the customer are one query each on PostgreSQL
    # (DRF's token query, the grants and the customer elsewhere)
    with django_assert_max_num_queries(2 if connection.vendor == "postgresql" else 3):
        response = client.get(f"/api/v1/customers/{rated_customer.msisdn}/")
    assert response.status_code == 200
    assert response.json()["credit_stars"] == 3


def test_a_revoked_token_is_refused_at_the_next_request(django_user_model, rated_customer):
    # given a client that just read a customer
    client, token = client_with(django_user_model, "api:read")
    url = f"/api/v1/customers/{rated_customer.msisdn}/"
    assert client.get(url).status_code == 200
    # when her token is deleted, then her next read is a 401
    token.delete()
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_deactivated_client_is_refused_at_the_next_request(django_user_model, rated_customer):
    client, token = client_with(django_user_model, "api:read")
    url = f"/api/v1/customers/{rated_customer.msisdn}/"
    assert client.get(url).status_code == 200
    token.user.is_active = False
    token.user.save(update_fields=["is_active"])
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_scope_taken_away_counts_at_the_next_request(django_user_model, rated_customer):
    client, token = client_with(django_user_model, "api:read", "api:pii")
    url = f"/api/v1/customers/{rated_customer.msisdn}/"
    assert client.get(url).json()["id_number"] == "440106199001011234"
    # when the pii scope is taken away, the ID number is masked; without read, the read is refused
    token.user.groups.remove(Group.objects.get(name="api:pii"))
    assert client.get(url).json()["id_number"] == "440106********1234"
    token.user.groups.remove(Group.objects.get(name="api:read"))
    response = client.get(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"


def test_a_scope_given_as_a_permission_to_her_or_to_another_group_counts(django_user_model, rated_customer):
    url = f"/api/v1/customers/{rated_customer.msisdn}/"
    # given a client whose read scope is a permission given to her, and whose pii scope comes from another group
    client, token = client_with(django_user_model)
    assert client.get(url).status_code == 403
    token.user.user_permissions.add(scope_permission("read"))
    assert client.get(url).json()["id_number"] == "440106********1234"
    partners = Group.objects.create(name="partners")
    partners.permissions.add(scope_permission("pii"))
    token.user.groups.add(partners)
    # then both count
    assert client.get(url).json()["id_number"] == "440106199001011234"


def test_an_unknown_token_is_a_401_in_the_error_shape(rated_customer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get(f"/api/v1/customers/{rated_customer.msisdn}/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_msisdn_is_a_404_for_a_client(django_user_model, db):
    client, _ = client_with(django_user_model, "api:read")
    response = client.get("/api/v1/customers/13999999999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_customer"


@pytest.mark.skipif(
    not django_settings.DATABASE_PREPARED_STATEMENTS,
    reason="PostgreSQL connected directly (behind a transaction pooler nothing is prepared: DATABASE_DIRECT_URL)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_server_that_forgot_a_prepared_read_still_answers(django_user_model, rated_customer, monkeypatch):
    # given prepared reads (a direct connection) and a client who read once, so that they are prepared
    from core import sql

    monkeypatch.setattr(sql, "_prepared_statements", True)
    client, _ = client_with(django_user_model, "api:read")
    url = f"/api/v1/customers/{rated_customer.msisdn}/"
    assert client.get(url).status_code == 200
    # when the server forgets them, as behind a transaction pooler that hands the next one another connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        names = [name for (name,) in cursor.fetchall()]
        for name in names:
            cursor.execute(f'DEALLOCATE "{name}"')
    # then the read still answers (unprepared from now on)
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["credit_stars"] == 3
    assert names and sql._prepared_statements is False
