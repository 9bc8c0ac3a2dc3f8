"""Login throttling and lockout on /accounts/login/ and /admin/login/ (issue 13): per username and per address,
a cool-off, a clear message in both languages, the lockouts listed for club admins."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "x-Strong-pass-1"  # staff_user's (conftest)
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Dozens of password checks: a fast hasher (the logins' behaviour does not depend on it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client: Client, page: str, username: str, password: str, *, address="10.0.0.1", language="en"):
    return client.post(
        page, {"username": username, "password": password}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language
    )


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("login_page", LOGIN_PAGES)
def test_thirty_wrong_passwords_then_the_right_one_does_not_log_in(login_page, staff_user):
    """Issue 13: 30 wrong passwords in 8 s, then the right one logged in as the superuser."""
    client = Client()
    # when: 30 wrong passwords for the superuser
    answers = [attempt(client, login_page, "clubadmin", f"guess-{i}").status_code for i in range(30)]
    # then: the first ones are the login form again; from the limit on, 429 with the lockout page
    limit = 5  # VIPCLUB_LOGIN_FAILURE_LIMIT's default
    assert answers[: limit - 1] == [200] * (limit - 1) and set(answers[limit - 1 :]) == {429}
    # and the right password does not log her in during the cool-off
    locked = attempt(client, login_page, "clubadmin", PASSWORD)
    assert locked.status_code == 429 and not logged_in(client)
    assert int(locked["Retry-After"]) == 15 * 60
    html = locked.content.decode()
    assert "Too many failed logins" in html and "15 minutes" in html


def test_the_lockout_message_speaks_chinese_too(staff_user):
    client = Client()
    for i in range(5):
        attempt(client, "/accounts/login/", "clubadmin", f"guess-{i}", language="zh-hans")
    html = attempt(client, "/accounts/login/", "clubadmin", PASSWORD, language="zh-hans").content.decode()
    assert "登录失败次数过多" in html and "15 分钟" in html


def test_an_address_guessing_many_usernames_is_locked_out(staff_user, django_user_model):
    # given: five failures from one address, each for another username
    django_user_model.objects.create_user(username="li", password=PASSWORD)
    client = Client()
    for name in ["a", "b", "c", "d", "e"]:
        attempt(client, "/accounts/login/", name, "wrong", address="10.0.0.9")
    # then: that address cannot log in anybody, even with the right password; another address can
    assert attempt(client, "/accounts/login/", "li", PASSWORD, address="10.0.0.9").status_code == 429
    assert not logged_in(client)
    assert attempt(client, "/accounts/login/", "li", PASSWORD, address="10.0.0.10").status_code == 302
    assert logged_in(client)


def test_a_username_guessed_from_many_addresses_is_locked_out(staff_user):
    client = Client()
    for i in range(5):
        attempt(client, "/admin/login/", "clubadmin", "wrong", address=f"10.1.0.{i}")
    assert attempt(client, "/admin/login/", "clubadmin", PASSWORD, address="10.9.9.9").status_code == 429
    assert not logged_in(client)


def test_after_the_cool_off_the_right_password_logs_in(staff_user):
    client = Client()
    for i in range(5):
        attempt(client, "/accounts/login/", "clubadmin", f"guess-{i}")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        assert attempt(client, "/accounts/login/", "clubadmin", PASSWORD).status_code == 302
        assert logged_in(client)


def test_fewer_failures_than_the_limit_do_not_lock(staff_user):
    client = Client()
    for i in range(4):
        attempt(client, "/accounts/login/", "clubadmin", f"guess-{i}")
    assert attempt(client, "/accounts/login/", "clubadmin", PASSWORD).status_code == 302
    assert logged_in(client)


def test_logging_in_with_ones_own_account_does_not_wipe_the_guesses_at_another(staff_user, django_user_model):
    # given: an insider guesses the superuser's password 4 times, then logs in as herself from the same address
    django_user_model.objects.create_user(username="insider", password=PASSWORD)
    client = Client()
    for i in range(4):
        attempt(client, "/accounts/login/", "clubadmin", f"guess-{i}")
    assert attempt(client, "/accounts/login/", "insider", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    # then: her next guess still reaches the limit
    assert attempt(client, "/accounts/login/", "clubadmin", "guess-5").status_code == 429
    assert attempt(client, "/accounts/login/", "clubadmin", PASSWORD).status_code == 429


def test_club_admins_see_the_lockouts_and_can_lift_one(staff_user, admin_client):
    from axes.models import AccessAttempt

    client = Client()
    for i in range(5):
        attempt(client, "/accounts/login/", "clubadmin", f"guess-{i}", address="10.2.0.1")
    # then: the club admin's list of attempts shows the username and the address
    page = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "clubadmin" in page and "10.2.0.1" in page
    # when: she deletes the attempts, the user may log in again
    AccessAttempt.objects.all().delete()
    assert attempt(client, "/accounts/login/", "clubadmin", PASSWORD, address="10.2.0.1").status_code == 302


def test_the_api_session_and_token_logins_are_untouched_by_the_lockout(staff_user, api):
    # a locked username does not stop a session already open, nor API tokens
    session = Client()
    session.force_login(staff_user)
    for i in range(6):
        attempt(Client(), "/accounts/login/", "clubadmin", f"guess-{i}")
    assert session.get("/api/v1/customers/").status_code == 200
    answer = api.get("/api/v1/customers/")
    assert answer.status_code == 200, answer.content


def test_behind_the_proxy_the_address_is_the_one_the_proxy_forwarded(settings, staff_user):
    # given: the TLS proxy appends the client's address to X-Forwarded-For (REMOTE_ADDR is the proxy's)
    settings.BEHIND_PROXY = True
    client = Client()
    for i in range(5):
        client.post(
            "/accounts/login/",
            {"username": f"x{i}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 203.0.113.7",
        )
    # then: 203.0.113.7 is locked out, whatever it claims first; another client behind the same proxy is not
    ok = {"username": "clubadmin", "password": PASSWORD}
    assert (
        client.post("/accounts/login/", ok, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code
        == 429
    )
    assert (
        client.post("/accounts/login/", ok, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code
        == 302
    )
