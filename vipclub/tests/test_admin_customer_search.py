"""The customer list's search (issue 16 item 7): full msisdn, its last 4+ digits, the masked form a list shows, the
start of a name, and an ID number for staff who see personal data only."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from customers import selectors as customer_selectors
from customers.factories import CustomerFactory, RegionFactory, make_id_number
from customers.models import Customer
from managers.tests.helpers import make_manager, make_member, make_supervisor

pytestmark = pytest.mark.django_db
URL = reverse("admin:customers_customer_changelist")


@pytest.fixture
def club():
    # given three customers; 王芳 and 王磊 share a surname, 王芳 and 李强 the tail 7065
    return {
        "fang": CustomerFactory(msisdn="13412347065", name="王芳", id_number=make_id_number(1)),
        "lei": CustomerFactory(msisdn="13898761234", name="王磊", id_number=make_id_number(2)),
        "qiang": CustomerFactory(msisdn="15912347065", name="李强", id_number=make_id_number(3)),
    }


def found(client: Client, term: str) -> set[str]:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return {c.name for c in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("13412347065", {"王芳"}),
        ("134 1234 7065", {"王芳"}),
        ("7065", {"王芳", "李强"}),
        ("47065", {"王芳", "李强"}),
        ("****7065", {"王芳", "李强"}),
        ("134****7065", {"王芳"}),
        ("159****7065", {"李强"}),
        ("王", {"王芳", "王磊"}),
        ("王芳", {"王芳"}),
        ("706", set()),  # fewer than 4 digits: not a tail, not a name
        ("芳", set()),  # a name is matched from its start
    ],
)
def test_staff_find_a_customer_by_msisdn_tail_masked_form_or_name(admin_client, club, term, names):
    # when a club admin searches the customer list, then she finds exactly those customers
    assert found(admin_client, term) == names


def test_an_id_number_finds_the_customer_for_staff_who_see_personal_data(admin_client, club):
    # when a club admin (who sees personal data) searches an ID number, then she finds its customer
    assert found(admin_client, club["lei"].id_number) == {"王磊"}
    assert found(admin_client, club["lei"].id_number.lower()) == {"王磊"}


def test_an_id_number_search_finds_nobody_for_a_supervisor_and_says_why(client):
    # given a supervisor with a member of her branch
    gz = RegionFactory(code="GZ")
    boss = make_supervisor("gz-boss")
    member = make_member(manager=make_manager("E1", region=gz, supervisor=boss), msisdn="13611117065", name="陈静")
    client.force_login(boss)
    # when she searches the tail of the member's number, she finds her
    assert found(client, "7065") == {"陈静"}
    # when she searches the member's ID number, she finds nobody, and is told that ID numbers need the permission
    response = client.get(URL, {"q": member.id_number})
    assert list(response.context["cl"].result_list) == []
    assert "needs the permission to see personal data" in response.content.decode()


@pytest.mark.postgres
@pytest.mark.parametrize("term", ["7065", "****7065", "12347065"])
def test_a_search_by_the_last_digits_is_served_by_an_index(club, term):
    # given the customers (a plan that scans the whole table ruled out, as it would be among a million of them)
    queryset = Customer.objects.filter(customer_selectors.customer_search_q(term, pii=False))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # when the search by the number's last digits is planned, then the index on the reversed number serves it
        assert "cust_msisdn_reverse_idx" in queryset.explain()
