"""Fixtures shared by every test package, and the one hook that honours the database and service markers."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.permissions import API_CLIENTS_GROUP
from customers.factories import CustomerFactory, RegionFactory


def _service_missing(marker: str) -> str | None:
    """Why a test marked `marker` cannot run here (None: it can)."""
    if marker == "postgres" and connection.vendor != "postgresql":
        return f"needs PostgreSQL (DATABASE_URL=postgres://...); this run uses {connection.vendor}"
    if marker == "sqlite" and connection.vendor != "sqlite":
        return f"the embedded SQLite database only; this run uses {connection.vendor}"
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis (REDIS_URL is unset)"
    return None


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres`, `@pytest.mark.sqlite` and `@pytest.mark.redis` skip, with the reason, a test whose
    database or Redis this run does not have (the markers are registered in pyproject.toml)."""
    for item in items:
        for marker in ("postgres", "sqlite", "redis"):
            if item.get_closest_marker(marker) and (reason := _service_missing(marker)):
                item.add_marker(pytest.mark.skip(reason=reason))
                break


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


@pytest.fixture
def vipclub_celery():
    """The project's Celery app (the apps' own tests may not import `vipclub`: layers)."""
    from vipclub.celery import app

    return app


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
