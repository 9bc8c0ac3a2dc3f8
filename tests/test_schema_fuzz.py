"""Fuzzing the API with schemathesis against the OpenAPI schema the project serves at /api/schema/ (issue 8), and
bad input to the API and the main pages (issue 13).

Every operation of the schema gets valid and invalid requests (path, query, headers, bodies; schemathesis'
positive and negative generation, at most MAX_EXAMPLES each) as a staff user with an API token, on a small demo
club (`seed_demo`, 40 customers, seeded once per module inside a transaction rolled back at the end). Half of the
path parameters that name a customer, a run or a manager are replaced by existing ones, so the answers are not
only 404s. The checks: never a server error (5xx), and every answer conforms to the schema — a documented status
code, the documented content type, and a body valid against the documented schema (errors included: core.schema).

Bad input (issue 13), checked only for: never a 5xx —
- the API with schemathesis' negative phases only: coverage (boundary and wrong-type values of every parameter and
  body field, unexpected methods) and fuzzing with negative data generation (strings with NUL and any Unicode,
  numbers far out of range, wrong types, missing fields), at most NEGATIVE_EXAMPLES each. Operations that take
  nothing but free strings (a msisdn in the path) have no negative case: the positive test above sends them
  arbitrary strings, NUL included;
- the pages: hypothesis draws query strings and path segments for the dashboard, the desk's lists, the admin's
  lists and reports (NUL, huge numbers, year 1 or 9999, Arabic-Indic and full-width digits, any Unicode) sent as a
  superuser or a supervisor.

Runtime: about a minute and a half on PostgreSQL, a minute on SQLite (2 cores), most of it the demo club's seed;
derandomized, no example database. FUZZ_MAX_EXAMPLES, FUZZ_NEGATIVE_EXAMPLES and FUZZ_PAGE_EXAMPLES raise the bounds.
"""

import io
import json
import os
import re
import zlib
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

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


# -- bad input (issue 13) ----------------------------------------------------------------------------------------

NEGATIVE_EXAMPLES = int(os.environ.get("FUZZ_NEGATIVE_EXAMPLES", "8"))
ODD_EXAMPLES = int(os.environ.get("FUZZ_ODD_EXAMPLES", "6"))
PAGE_EXAMPLES = int(os.environ.get("FUZZ_PAGE_EXAMPLES", "6"))

NEGATIVE = SchemathesisConfig.from_dict(
    {
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "generation": {"mode": "negative", "allow-x00": True, "codec": "utf-8", "deterministic": True},
    }
)
negative_schema = schemathesis.openapi.from_dict(SCHEMA, config=NEGATIVE)
negative_schema.app = WSGIHandler()
negative_schema.location = "/api/schema/"


@negative_schema.parametrize()
@settings(
    max_examples=NEGATIVE_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_answers_5xx_to_bad_input(case, club, wsgi_in_test_transaction):
    # given: a generated invalid request for one operation, as a staff API client
    use_known_values(case, club["known"])
    # when
    response = case.call(headers={"Authorization": f"Token {club['token']}"})
    # then: never a server error
    case.validate_response(response, checks=[not_a_server_error])


# -- odd values in every path, query and body field -------------------------------------------------------------------

WEIRD_DIGITS = "٠١٢٣٤٥٦٧٨٩０１２３４５６７８９۰۱۲۳"
SPECIAL = [
    "\x00",
    "a\x00b",
    "%00",
    "9999-12-31",
    "0001-01-01",
    "9999-12",
    "0000-01",
    "2026-13",
    "2026-02-30",
    "99999999999999999999",
    "-1",
    "1e9",
    "NaN",
    "Infinity",
    "١٢٣",
    "２０２６",
    "２０２６-１０",
    "٢٠٢٦-١٠-٠١",
    "13800138000",
    "１３８００１３８０００",
    "'",
    '"',
    "<script>",
    "../../",
    " ",
    "=HYPERLINK(1)",
    "\u202e",
    "🙂",
]
# the special values first: hypothesis starts from the simplest examples, so every run sends them
odd_values = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=WEIRD_DIGITS + "-.0123456789", min_size=1, max_size=12),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
odd_json = st.one_of(
    odd_values,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(odd_values, max_size=2),
    st.dictionaries(odd_values, odd_values, max_size=2),
)

OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in ("get", "post", "put", "patch", "delete")
]


def _body_fields(operation: dict) -> tuple[list[str], bool]:
    """The top-level fields of an operation's JSON body, and whether the body is an array of them."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return [], False
    body = content["schema"]
    many = body.get("type") == "array"
    ref = (body.get("items", {}) if many else body).get("$ref", "")
    component = SCHEMA["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(component.get("properties", {})), many


@pytest.mark.parametrize("method, path, operation", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_api_field_takes_odd_values_without_a_5xx(method, path, operation, club, wsgi_in_test_transaction):
    from django.test import Client

    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {club['token']}")
    path_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    query_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"] or ["q"]
    fields, many = _body_fields(operation)

    @settings(
        max_examples=ODD_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path_values=st.fixed_dictionaries({name: odd_values for name in path_names}),
        query=st.dictionaries(st.sampled_from(query_names), odd_values, max_size=2),
        body=st.dictionaries(st.sampled_from(fields), odd_json, max_size=len(fields)) if fields else st.none(),
        key=odd_values,
    )
    def request(path_values, query, body, key):
        # given: odd values (NUL, year 9999, Arabic-Indic digits, any Unicode…) in the path, the query, the body
        url = path.format(**{k: quote(v, safe="") or "x" for k, v in path_values.items()})
        if query:
            url += "?" + urlencode(query)
        payload = json.dumps([body] if many else body) if body is not None else None
        # when: the request is sent as the staff API client
        response = client.generic(
            method, url, payload or "", content_type="application/json", HTTP_IDEMPOTENCY_KEY=key[:200] or "k"
        )
        # then: a client error at worst, never a server error
        assert response.status_code < 500, (method, url, payload, response.status_code, response.content[:300])

    request()


# -- the pages --------------------------------------------------------------------------------------------------------

PAGES = {  # page -> who looks at it (the desk is for managers and supervisors, the admin for staff)
    "/": "manager",
    "/dashboard/": "manager",
    "/dashboard/customers/": "manager",
    "/dashboard/plans/": "manager",
    "/dashboard/retention/": "manager",
    "/dashboard/risk/": "manager",
    "/dashboard/birthdays/": "manager",
    "/dashboard/cards/": "manager",
    "/dashboard/notifications/": "manager",
    "/dashboard/team/": "supervisor",
    "/admin/": "admin",
    "/admin/customers/customer/": "admin",
    "/admin/customers/monthlybill/": "admin",
    "/admin/customers/billingmonth/": "admin",
    "/admin/tiers/ratingrun/": "admin",
    "/admin/tiers/tierchange/": "supervisor",
    "/admin/tiers/tieroverride/": "admin",
    "/admin/benefits/benefitentry/": "admin",
    "/admin/benefits/benefit/usage/": "admin",
    "/admin/points/pointsentry/": "admin",
    "/admin/points/pointslot/": "admin",
    "/admin/points/creditrating/": "admin",
    "/admin/managers/obligation/": "supervisor",
    "/admin/managers/contactlog/": "admin",
    "/admin/managers/assignment/": "admin",
    "/admin/retention/retentioncase/": "supervisor",
    "/admin/retention/churnrecord/": "admin",
    "/admin/retention/churnrecord/report/": "supervisor",
    "/admin/retention/churnrecord/tiers/": "admin",
    "/admin/retention/riskscore/": "admin",
    "/admin/vipclub/inboundevent/": "admin",
    "/admin/audit/": "admin",
    "/admin/staff/reports/": "supervisor",
    "/admin/staff/reports/compliance/": "supervisor",
    "/admin/staff/reports/points/": "admin",
    "/admin/staff/reports/migration/": "supervisor",
    "/admin/staff/calendar/": "admin",
}
PATHS = {  # a page of one object, its segment drawn
    "/dashboard/customers/{}/": "manager",
    "/dashboard/contact/{}/": "manager",
    "/dashboard/team/{}/": "supervisor",
    "/admin/customers/customer/{}/change/": "admin",
    "/admin/tiers/ratingrun/{}/change/": "admin",
}
GENERIC_PARAMS = [
    "q",
    "o",
    "p",
    "e",
    "page",
    "year",
    "month",
    "region",
    "format",
    "_changelist_filters",
    "all",
    "kind",
    "tier",
    "undo",
]


@pytest.fixture(scope="module")
def page_users(club, django_db_blocker):
    """The demo club's people: the fuzzing superuser, a supervisor, an account manager she supervises."""
    from django.contrib.auth import get_user_model

    from managers.models import AccountManager

    with django_db_blocker.unblock():
        manager = AccountManager.objects.exclude(supervisor=None).select_related("user", "supervisor").first()
        return {
            "admin": get_user_model().objects.get(username="fuzzer"),
            "supervisor": manager.supervisor,
            "manager": manager.user,
        }


def _query_names(client, page: str) -> list[str]:
    """The query parameters a page offers (its filter links and its forms' fields), and a few every list reads."""
    html = client.get(page).content.decode()
    names = {m.split("=", 1)[0] for href in re.findall(r'href="\?([^"#]*)"', html) for m in href.split("&amp;")}
    names |= set(re.findall(r'<(?:input|select)[^>]* name="([^"]+)"', html))
    return sorted((names - {"csrfmiddlewaretoken", ""}) | set(GENERIC_PARAMS))


@pytest.mark.parametrize("url", list(PAGES))
def test_the_main_pages_never_answer_5xx_to_odd_query_strings(url, club, page_users, wsgi_in_test_transaction):
    from django.test import Client

    # given: the page's own people and the query parameters it offers
    client = Client(raise_request_exception=False)
    client.force_login(page_users[PAGES[url]])
    names = _query_names(client, url)

    @settings(
        max_examples=PAGE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(query=st.dictionaries(st.sampled_from(names), odd_values, min_size=1, max_size=3), raw=st.booleans())
    def visit(query, raw):
        # when: a drawn query string, encoded, or raw (a "%00" left as typed)
        if raw:
            target = url + "?" + "&".join(f"{quote(k, safe='%')}={quote(v, safe='%=')}" for k, v in query.items())
        else:
            target = url + "?" + urlencode(query)
        response = client.get(target)
        # then: never a server error
        assert response.status_code < 500, (target, response.status_code)

    visit()


@pytest.mark.parametrize("path", list(PATHS))
def test_odd_path_segments_on_the_pages_never_answer_5xx(path, club, page_users, wsgi_in_test_transaction):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(page_users[PATHS[path]])

    @settings(
        max_examples=PAGE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(value=odd_values)
    def visit(value):
        url = path.format(quote(value, safe="") or "x")
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)

    visit()
