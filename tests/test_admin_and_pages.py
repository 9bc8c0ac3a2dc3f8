"""The admin and the pages people see: login, masking, search, actions, languages."""

import os
import subprocess
import sys

import pytest

from customers.factories import BillFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_admin_customer_list_masks_msisdn_and_id_number(admin_client, region):
    customer = CustomerFactory(msisdn="13812345678", name="张三", region=region)
    html = admin_client.get("/admin/customers/customer/").content.decode()
    assert "138****5678" in html
    assert "13812345678" not in html
    assert customer.id_number not in html
    assert customer.id_number[:6] + "********" in html


def test_admin_search_by_exact_msisdn_and_name_prefix(admin_client, region):
    CustomerFactory(msisdn="13812345678", name="张三", region=region)
    CustomerFactory(msisdn="13912345678", name="李四", region=region)
    by_msisdn = admin_client.get("/admin/customers/customer/", {"q": "13912345678"}).content.decode()
    assert "李四" in by_msisdn and "张三" not in by_msisdn
    by_name = admin_client.get("/admin/customers/customer/", {"q": "张"}).content.decode()
    assert "张三" in by_name and "李四" not in by_name


def test_admin_customer_page_shows_bills(admin_client, region):
    bill = BillFactory(customer=CustomerFactory(region=region))
    html = admin_client.get(f"/admin/customers/customer/{bill.customer_id}/change/").content.decode()
    assert "188.00" in html


def test_admin_action_refuses_an_impossible_transition_with_a_message(admin_client, region):
    closed = CustomerFactory(region=region, status="closed", closure_kind="voluntary")
    response = admin_client.post(
        "/admin/customers/customer/",
        {"action": "reactivate_x", "_selected_action": [closed.pk]},
        follow=True,
    )
    assert "Cannot reactivate a customer who is closed" in response.content.decode()
    closed.refresh_from_db()
    assert closed.status == "closed"


def test_login_required_for_pages(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_speaks_chinese_and_english(client):
    assert "Log in" in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "登录" in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()


def test_language_switch_changes_the_page_language(admin_client):
    admin_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    html = admin_client.get("/").content.decode()
    assert "欢迎" in html
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Welcome to the VIP club" in admin_client.get("/").content.decode()


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "", "DJANGO_SETTINGS_MODULE": "vipclub.settings"})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_unknown_pages_get_a_friendly_404_and_the_api_a_json_one(admin_client):
    api = admin_client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    plain = admin_client.get("/no-such-page/")
    assert plain.status_code == 404 and "Not found" in plain.content.decode()
