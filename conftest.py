"""Fixtures shared by every test package."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import API_CLIENTS_GROUP
from customers.tests.factories import CustomerFactory, RegionFactory


@pytest.fixture
def api_user(django_user_model):
    """Another system's user with every scope (tests of one scope use their own clients)."""
    user = django_user_model.objects.create_user(username="api-billing")
    user.groups.add(Group.objects.get_or_create(name=API_CLIENTS_GROUP)[0])
    user.groups.add(*Group.objects.filter(name__startswith="api:"))
    return user


@pytest.fixture
def api(api_user):
    """An API client authenticated as another system (token)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=api_user).key}")
    return client


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser(username="clubadmin", password="x-Strong-pass-1")


@pytest.fixture
def region(db):
    return RegionFactory()


@pytest.fixture
def customer(region):
    return CustomerFactory(region=region, msisdn="13800138000")


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run inline in tests, unless a test runs a real worker (marker `real_worker`)."""
    from vipclub.celery import app

    eager = request.node.get_closest_marker("real_worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def no_api_throttling(settings):
    """The suite makes many requests as the same users within a minute: throttling is off unless a test sets
    rates (tests/test_hardening.py)."""
    settings.VIPCLUB_THROTTLE_RATES = {}
