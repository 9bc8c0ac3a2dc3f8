"""Fuzzing the API with schemathesis against the OpenAPI schema the project serves at /api/schema/ (issue 8).

Every operation of the schema gets valid and invalid requests (path, query, headers, bodies; schemathesis'
positive and negative generation, at most MAX_EXAMPLES each) as a staff user with an API token, on a small demo
club (`seed_demo`, 40 customers, seeded once per module inside a transaction rolled back at the end). Half of the
path parameters that name a customer, a run or a manager are replaced by existing ones, so the answers are not
only 404s. The checks: never a server error (5xx), and every answer conforms to the schema — a documented status
code, the documented content type, and a body valid against the documented schema (errors included: core.schema).

Runtime: about a minute on PostgreSQL and on SQLite (2 cores); FUZZ_MAX_EXAMPLES raises the bound.
"""

import io
import json
import os
import zlib

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DEMO_DAY = "2026-06-15"


def served_schema() -> dict:
    """The schema /api/schema/ serves (same generator and settings as drf-spectacular's view), as JSON."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


SCHEMA = served_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = WSGIHandler()
schema.location = "/api/schema/"


@pytest.fixture(scope="module")
def club(django_db_setup, django_db_blocker, tmp_path_factory):
    """A demo club and a staff token, in a transaction that the end of the module rolls back."""
    from customers.models import Customer
    from managers.models import AccountManager
    from tiers.models import RatingRun

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(VAR_DIR=tmp_path_factory.mktemp("var")):  # demo logins stay out of var/
                call_command("seed_demo", "--customers=40", f"--as-of={DEMO_DAY}", stdout=io.StringIO())
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_superuser(username="fuzzer", password="x-Strong-pass-1")
            known = {
                "msisdn": list(Customer.objects.order_by("pk").values_list("msisdn", flat=True)[:10]),
                "run_id": [str(pk) for pk in RatingRun.objects.values_list("pk", flat=True)],
                "employee_no": list(AccountManager.objects.values_list("employee_no", flat=True)),
            }
            yield {"token": Token.objects.create(user=user).key, "known": known}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def wsgi_in_test_transaction(db):
    """The WSGI handler closes the connection after each request (request_finished): not inside a test's
    transaction. Django's test client disconnects the same receivers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def use_known_values(case, known: dict) -> None:
    """Half of the generated path parameters become existing objects (chosen from the generated value)."""
    for name, value in (case.path_parameters or {}).items():
        choices = known.get(name)
        if choices and zlib.crc32(repr(value).encode()) % 2 == 0:
            case.path_parameters[name] = choices[zlib.crc32(repr(value).encode()) % len(choices)]


@pytest.mark.django_db
def test_the_fuzzed_schema_is_the_served_one(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(username="reader", password="x-Strong-pass-1"))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content) == SCHEMA
    assert len(SCHEMA["paths"]) >= 25


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_conform_to_the_schema(case, club, wsgi_in_test_transaction):
    # given: a generated request (valid or not) for one operation, as a staff API client
    use_known_values(case, club["known"])
    # when
    response = case.call(headers={"Authorization": f"Token {club['token']}"})
    # then: no server error, and status, content type and body as documented
    case.validate_response(response, checks=CHECKS)
