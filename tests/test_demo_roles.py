"""The demo's logins hold the real roles (issue 16 item 9): its supervisor is in Supervisors and nothing else, its
managers in Account managers, and a supervisor may read but not change tiers, policies, entitlements or targets."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from benefits.models import TierEntitlement
from core.permissions import ACCOUNT_MANAGERS_GROUP, SUPERVISORS_GROUP
from retention.models import ChurnTarget
from tiers.models import RatingPolicy, Tier

from .seeded_club import seeded_club_fixture

pytestmark = pytest.mark.django_db
seeded_club = seeded_club_fixture(customers=20)


def enabled_inputs(html: str) -> list[str]:
    """The inputs of the page's content she could type into (not hidden, not disabled)."""
    main = html.split('id="content-main"', 1)[1]
    tags = re.findall(r"<(?:input|select|textarea)\b[^>]*>", main)
    return [tag for tag in tags if 'type="hidden"' not in tag and "disabled" not in tag]


def login(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_the_demo_logins_are_in_the_documented_roles_only(seeded_club):
    # given the seeded demo club
    users = {u.username: u for u in get_user_model().objects.prefetch_related("groups")}
    # then the supervisor is in Supervisors, and in no demo-only group, with no permissions of her own
    supervisor = users["supervisor"]
    assert [g.name for g in supervisor.groups.all()] == [SUPERVISORS_GROUP]
    assert not supervisor.user_permissions.exists()
    # and every demo manager's login is in Account managers only
    for n in range(1, 7):
        assert [g.name for g in users[f"manager{n}"].groups.all()] == [ACCOUNT_MANAGERS_GROUP], n


@pytest.mark.parametrize(
    ("model", "lookup"),
    [(Tier, {"code": "diamond"}), (RatingPolicy, {}), (TierEntitlement, {}), (ChurnTarget, {})],
    ids=["tier", "policy", "entitlement", "churn-target"],
)
def test_a_supervisor_reads_but_cannot_change_the_club_configuration(seeded_club, model, lookup):
    # given the demo supervisor and one row of the configuration
    client = login("supervisor")
    obj = model.objects.filter(**lookup).order_by("pk").first()
    assert obj is not None
    opts = model._meta
    change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    before = {f.attname: getattr(obj, f.attname) for f in opts.concrete_fields}

    # when she opens its page: she reads it, with no save button and no input of any field
    page = client.get(change_url)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="_save"' not in text
    assert enabled_inputs(text) == []

    # and when she posts a change anyway, it is refused and nothing changes
    refused = client.post(change_url, {f.name: "1" for f in opts.concrete_fields if f.editable})
    assert refused.status_code == 403
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in opts.concrete_fields} == before

    # and its list offers no add button and no editable cells (the tier list's thresholds)
    listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert listing.status_code == 200
    add_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    assert 'name="_save"' not in listing.content.decode() and f'href="{add_url}"' not in listing.content.decode()


def test_a_supervisor_can_neither_propose_nor_approve_a_policy_change(seeded_club):
    # given an active policy's pending change proposed by the demo admin
    import datetime as dt

    from django.utils import timezone

    from tiers import services

    policy = RatingPolicy.objects.get(code="annual")
    admin_user = get_user_model().objects.get(username="admin")
    change = services.policy_change_propose(
        policy=policy,
        values={"thresholds": {**policy.thresholds, "diamond": "3900"}},
        effective_month=dt.date(2099, 1, 1),
        note="test",
        actor=admin_user,
        at=timezone.now(),
    )
    client = login("supervisor")
    # when the supervisor posts the policy's form, or approves the change, both are refused
    assert client.post(reverse("admin:tiers_ratingpolicy_change", args=[policy.pk]), {"name": "x"}).status_code == 403
    decide = reverse("admin:tiers_policychange_decide", args=[change.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 403
    change.refresh_from_db()
    assert change.status == "pending"
    # and she may read the change (no approve button for her)
    page = client.get(reverse("admin:tiers_policychange_change", args=[change.pk])).content.decode()
    assert 'value="approve"' not in page
