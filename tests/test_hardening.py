"""Production hardening: `check --deploy` passes with production settings, the API throttles in the error shape,
and no msisdn or ID number reaches the logs."""

import io
import logging
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from core.logging import GunicornLogger, MaskPIIFilter, mask_pii

ROOT = Path(__file__).resolve().parent.parent


# -- check --deploy ---------------------------------------------------------------------------------------------------


def production_env(**overrides) -> dict:
    """The environment of a production deployment: DEBUG off, a real secret, no DJANGO_SECURE_* (the defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIPCLUB_THROTTLE"))}
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="vip.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://vip.example.com",
        PYTHONWARNINGS="ignore",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_production_settings_pass_check_deploy_with_no_warning():
    # given: production settings, as a deployment sets them; when: Django's deployment checklist runs
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    # then: not a single warning (drf-spectacular's schema warnings included)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output and "W0" not in output, output


def test_check_deploy_fails_when_a_protection_is_switched_off():
    # given: production settings without HSTS and with insecure cookies (the test above can fail)
    env = production_env(DJANGO_SECURE_HSTS_SECONDS="0", DJANGO_SECURE_COOKIES="false")
    # when
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    # then: Django names each one
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for warning in ("security.W004", "security.W012", "security.W016"):
        assert warning in output, output


def test_behind_a_proxy_https_comes_from_x_forwarded_proto():
    # given: production behind a TLS-terminating proxy; when: the settings are read
    result = manage("diffsettings", env=production_env(DJANGO_BEHIND_PROXY="true"))
    assert result.returncode == 0, result.stderr
    settings_ = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    # then: the proxy's header says https; redirect, cookies and HSTS stay on
    assert settings_["SECURE_PROXY_SSL_HEADER"] == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert settings_["SECURE_SSL_REDIRECT"] == "True"
    assert settings_["SESSION_COOKIE_SECURE"] == settings_["CSRF_COOKIE_SECURE"] == "True"
    assert settings_["SECURE_HSTS_SECONDS"] == "31536000"
    assert settings_["CSRF_TRUSTED_ORIGINS"] == "['https://vip.example.com']"
    # and without the setting, no client can claim https with a header
    plain = manage("diffsettings", env=production_env())
    assert "SECURE_PROXY_SSL_HEADER" not in plain.stdout


@pytest.mark.django_db
def test_https_redirect_spares_only_the_health_check(settings):
    # given: production's redirect to https (load balancers and compose call health over plain http)
    settings.SECURE_SSL_REDIRECT = True
    client = APIClient()
    # then
    assert client.get("/api/v1/health/").status_code == 200
    response = client.get("/api/v1/customers/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/api/v1/customers/"
    assert client.get("/admin/").status_code == 301


# -- throttling -------------------------------------------------------------------------------------------------------


@pytest.fixture
def throttle(settings):
    """Set rates; the counts go to keys of this test only (a Redis cache outlives the test database)."""
    default = {**settings.CACHES["default"], "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "default": default}

    def rates(**scopes):
        settings.VIPCLUB_THROTTLE_RATES = scopes

    return rates


def token_client(name: str) -> APIClient:
    """Another system's client, made as the club makes them (`create_api_client NAME`, default scope `read`)."""
    token = io.StringIO()
    call_command("create_api_client", name, stdout=token, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.getvalue().strip()}")
    return client


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.content
    assert response.json() == {
        "error": {"code": "throttled", "message": response.json()["error"]["message"], "fields": {}}
    }
    assert "throttled" in response.json()["error"]["message"].lower()
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


@pytest.mark.django_db
def test_an_api_client_over_its_rate_gets_429_in_the_error_shape(throttle, customer):
    # given: 2 requests a minute per API client
    throttle(token="2/min")
    billing, hotline = token_client("billing"), token_client("hotline")
    url = f"/api/v1/customers/{customer.msisdn}/"
    with time_machine.travel(time.time(), tick=False):
        # when: billing asks three times
        answers = [billing.get(url) for _ in range(3)]
        # then: the third is refused with 429, the error shape and Retry-After; another client is not affected
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert_throttled(answers[2])
        assert hotline.get(url).status_code == 200
    # and in the next window billing is served again
    with time_machine.travel(time.time() + 61, tick=False):
        assert billing.get(url).status_code == 200


@pytest.mark.django_db
def test_anonymous_health_checks_are_throttled_per_address(throttle):
    # given
    throttle(anon="3/min")
    client = APIClient()
    with time_machine.travel(time.time(), tick=False):
        # when: one address calls health four times
        codes = [client.get("/api/v1/health/", REMOTE_ADDR="10.0.0.7").status_code for _ in range(4)]
        # then: the fourth is throttled; another address is served
        assert codes == [200, 200, 200, 429]
        assert_throttled(client.get("/api/v1/health/", REMOTE_ADDR="10.0.0.7"))
        assert client.get("/api/v1/health/", REMOTE_ADDR="10.0.0.8").status_code == 200


@pytest.mark.django_db
def test_people_are_throttled_per_user_and_scopes_are_separate(throttle, staff_user, customer):
    # given: people 1 request a minute, API clients unlimited
    throttle(user="1/min")
    client = APIClient()
    client.force_login(staff_user)
    url = f"/api/v1/customers/{customer.msisdn}/"
    with time_machine.travel(time.time(), tick=False):
        # when / then
        assert client.get(url).status_code == 200
        assert_throttled(client.get(url))


@pytest.mark.django_db
def test_default_rates_do_not_throttle_ordinary_use(throttle, customer):
    # given: the rates of settings.py (the suite runs with throttling off, see conftest.py)
    from vipclub import settings as project_settings

    throttle(**project_settings.VIPCLUB_THROTTLE_RATES)
    billing = token_client("billing")
    # when: an API client reads 50 customers in a burst; then: all served
    assert {billing.get(f"/api/v1/customers/{customer.msisdn}/").status_code for _ in range(50)} == {200}
    assert set(project_settings.VIPCLUB_THROTTLE_RATES) == {"token", "user", "anon"}


def test_a_bad_rate_is_a_configuration_error():
    from django.core.exceptions import ImproperlyConfigured

    from core.throttling import parse_rate

    assert parse_rate("120/min") == (120, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("") is None
    with pytest.raises(ImproperlyConfigured):
        parse_rate("lots/min")


# -- personal data in the logs ----------------------------------------------------------------------------------------


@pytest.fixture
def console():
    """The output of the console handler configured by settings.LOGGING (the one production writes to)."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_logged_msisdns_and_id_numbers_are_masked(console):
    # given: a message with a msisdn and an ID number as arguments and in the text
    log = logging.getLogger("customers.services")
    # when
    log.warning("customer %s (id %s) moved", "13812345678", "44010619900101123X")
    log.warning("lookup /api/v1/customers/13900001111/ for 440106900101123")
    try:
        raise ValueError("duplicate key (msisdn)=(13512345678), id_number 110101199003071234")
    except ValueError:
        log.exception("import failed")
    # then: masked as in lists (138****5678, 440106********123X), nothing else touched
    output = console.getvalue()
    assert "customer 138****5678 (id 440106********123X) moved" in output
    assert "/api/v1/customers/139****1111/ for 440106*****1123" in output
    assert "(msisdn)=(135****5678), id_number 110101********1234" in output
    for raw in (
        "13812345678",
        "44010619900101123X",
        "13900001111",
        "440106900101123",
        "13512345678",
        "110101199003071234",
    ):
        assert raw not in output


def test_the_mask_leaves_other_numbers_alone():
    assert mask_pii("run 12 took 1234567890 µs, order 123456789012345678901") == (
        "run 12 took 1234567890 µs, order 123456789012345678901"
    )
    assert mask_pii("tel:+8613812345678") == "tel:+86138****5678"


def test_gunicorns_access_log_is_masked():
    # given: gunicorn's logger as the compose file and the bench start it (--logger-class core.logging.GunicornLogger)
    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", "-")
    logger = GunicornLogger(config)
    # then: its access and error logs carry the filter
    assert any(isinstance(f, MaskPIIFilter) for f in logger.access_log.filters)
    assert any(isinstance(f, MaskPIIFilter) for f in logger.error_log.filters)
    stream = io.StringIO()
    logger.access_log.handlers[0].setStream(stream)
    logger.access_log.info("%(r)s %(s)s", {"r": "GET /api/v1/customers/13812345678/ HTTP/1.1", "s": "200"})
    assert stream.getvalue().strip() == "GET /api/v1/customers/138****5678/ HTTP/1.1 200"


def test_celery_logs_through_the_masking_handlers(monkeypatch):
    # given: the worker's logging set up as `celery worker` and `celery beat` do it
    import logging.config

    from django.conf import settings

    from vipclub.celery import app

    configured = []
    monkeypatch.setattr(logging.config, "dictConfig", configured.append)
    task_handlers = list(logging.getLogger("celery.task").handlers)
    already = app.log.already_setup
    app.log.already_setup = False
    try:
        app.log.setup_logging_subsystem(loglevel="INFO")
    finally:
        app.log.already_setup = already
    # then: Django's LOGGING (whose handlers mask) is applied, and Celery added no handler of its own
    assert configured == [settings.LOGGING]
    assert all("mask_pii" in h["filters"] for h in settings.LOGGING["handlers"].values())
    assert logging.getLogger("celery.task").handlers == task_handlers


# -- request bodies ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_oversized_and_malformed_bodies_are_client_errors_in_the_error_shape(api, settings):
    # given: a form with more fields than Django parses, and a body over Django's in-memory limit
    many_fields = api.post("/api/v1/assignments/reassign/", {"msisdns": ["13800138000"] * 1500, "manager": "E1"})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    rows = [{"msisdn": "13800138000", "month": "2026-10", "amount": "1.00", "paid": True}] * 50
    too_large = api.post("/api/v1/bills/bulk/", rows, format="json")
    # then: 413 and 400, never a 500
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "request_too_large"
    assert many_fields.status_code == 400
    assert many_fields.json()["error"]["code"] == "malformed_request"


def test_the_bulk_cap_fits_in_a_request_body():
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= settings.VIPCLUB_BULK_MAX_ROWS * 1024
