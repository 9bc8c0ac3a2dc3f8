"""`/api/v1/webhook-endpoints/` (API.md): scope `webhooks:manage`; the secret is shown once, on create and rotation;
the SSRF guard answers 400 `unsafe_url`."""

import pytest
from standardwebhooks import Webhook

from core.tests.helpers import assert_error, client_with
from partners.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-endpoints/"


@pytest.fixture
def manager(django_user_model):
    return client_with(django_user_model, "boss", ["webhooks:manage"])


def test_the_scope_webhooks_manage_is_needed(django_user_model):
    reader = client_with(django_user_model, "reader", ["read", "pii"])
    assert_error(reader.get(URL), 403, "missing_scope")
    assert_error(
        reader.post(URL, {"url": "http://127.0.0.1/x", "types": ["tier.changed"]}, format="json"), 403, "missing_scope"
    )
    assert not WebhookEndpoint.objects.exists()


def test_create_shows_the_secret_once_then_list_change_rotate_delete(manager):
    created = manager.post(
        URL, {"url": "http://127.0.0.1:9000/hook", "types": ["tier.changed"], "description": None}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["types"] == ["tier.changed"]
    Webhook(body["secret"])  # a valid Standard Webhooks secret
    assert WebhookEndpoint.objects.get().secret == body["secret"]
    listed = manager.get(URL).json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    detail = f"{URL}{body['id']}/"
    assert "secret" not in manager.get(detail).json()
    changed = manager.patch(detail, {"types": ["tier.changed", "points.changed"], "active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["types"] == ["points.changed", "tier.changed"]
    rotated = manager.post(f"{detail}rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", body["secret"])
    assert manager.delete(detail).status_code == 204
    assert_error(manager.get(detail), 404, "unknown_endpoint")


def test_unknown_event_types_and_unsafe_urls_are_refused(manager, settings):
    error = assert_error(
        manager.post(URL, {"url": "http://127.0.0.1/x", "types": ["tier.bogus"]}, format="json"), 400, "invalid"
    )
    assert "types" in error["fields"]
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = False
    error = assert_error(manager.post(URL, {"url": "https://127.0.0.1/x"}, format="json"), 400, "unsafe_url")
    assert "url" in error["fields"]
    assert_error(manager.post(URL, {"url": "http://partner.example.com/x"}, format="json"), 400, "unsafe_url")
    assert not WebhookEndpoint.objects.exists()
