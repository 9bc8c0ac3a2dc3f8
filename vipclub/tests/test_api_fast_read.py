"""GET /customers/{msisdn}/ answers from one narrow query (issue 20): the same JSON as ClubCustomerSerializer, for
every kind of customer and every reader (masked ID number without `pii`, a manager's own customers only)."""

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from core.permissions import API_CLIENTS_GROUP
from customers.factories import CustomerFactory
from managers.factories import AssignmentFactory, ManagerFactory
from managers.selectors import scoped_customer_profile
from points.factories import PointsAccountFactory
from points.models import CreditRating
from tiers.factories import CustomerTierFactory
from vipclub.api.serializers import ClubCustomerSerializer

pytestmark = pytest.mark.django_db


def rated(customer, stars: int = 4) -> None:
    CreditRating.objects.create(
        customer=customer, stars=stars, score=600, as_of=dt.date(2026, 11, 1), computed_at=timezone.now()
    )


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def serializer_answer(msisdn: str, user) -> dict:
    """What the serializer writes for this reader: the reference the fast read must equal."""
    request = type("Request", (), {"user": user})()
    customer = scoped_customer_profile(msisdn=msisdn, user=user)
    return json.loads(JSONRenderer().render(ClubCustomerSerializer(customer, context={"request": request}).data))


def test_the_fast_read_answers_what_the_serializer_answers(django_user_model, region):
    # given customers of every shape: a member with tier, manager, frozen account and stars; a plain customer with
    # stars only; a suspended one (frozen by her status) without an account; one closed with a lapsed tier row
    member = CustomerFactory(region=region, landline="020-1", status_changed_at=timezone.now())
    CustomerTierFactory(
        customer=member, code="gold", valid_until=dt.date(2027, 6, 30), since=dt.date(2026, 7, 1), source="score"
    )
    AssignmentFactory(customer=member, manager=ManagerFactory(region=region), started_on=dt.date(2026, 2, 1))
    PointsAccountFactory(customer=member, balance=1234, frozen=True)
    rated(member, 5)
    plain = CustomerFactory(region=region, birthday=None)
    rated(plain, 2)
    suspended = CustomerFactory(region=region, status="suspended", suspension_kind="arrears")
    rated(suspended, 0)
    lapsed = CustomerFactory(region=region, status="closed", closure_kind="voluntary")
    CustomerTierFactory(customer=lapsed, code=None)
    rated(lapsed, 1)
    reader = django_user_model.objects.create_user(username="reader")
    reader.groups.add(Group.objects.get_or_create(name=API_CLIENTS_GROUP)[0], Group.objects.get(name="api:read"))
    pii_reader = django_user_model.objects.create_user(username="pii-reader")
    pii_reader.groups.add(*reader.groups.all(), Group.objects.get(name="api:pii"))
    for user in (reader, pii_reader):
        client = client_of(user)
        for customer in (member, plain, suspended, lapsed):
            # when the client reads her
            response = client.get(f"/api/v1/customers/{customer.msisdn}/")
            # then the answer is the serializer's, field for field
            assert response.status_code == 200
            assert response.json() == serializer_answer(customer.msisdn, user)
    assert "*" in client_of(reader).get(f"/api/v1/customers/{member.msisdn}/").json()["id_number"]


def test_a_customer_never_rated_gets_her_stars_computed_on_demand(api, customer):
    # given a customer whose credit stars were never computed
    # when she is read
    body = api.get(f"/api/v1/customers/{customer.msisdn}/").json()
    # then the stars are computed for today (and not stored)
    assert body["credit_stars"] in range(6)
    assert body["credit_stars_as_of"] == timezone.localdate().isoformat()
    assert not CreditRating.objects.filter(customer=customer).exists()


def test_a_manager_reads_only_her_own_customers(region):
    # given a manager with one customer of hers and another customer of the branch
    manager = ManagerFactory(region=region)
    mine, other = CustomerFactory(region=region), CustomerFactory(region=region)
    AssignmentFactory(customer=mine, manager=manager)
    rated(mine)
    rated(other)
    client = APIClient()
    client.force_authenticate(manager.user)
    # when she reads both, then hers is answered and the other is unknown to her
    assert client.get(f"/api/v1/customers/{mine.msisdn}/").json()["manager"]["employee_no"] == manager.employee_no
    assert client.get(f"/api/v1/customers/{other.msisdn}/").status_code == 404
