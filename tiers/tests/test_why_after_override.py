"""The finding of issue 16: "Why this tier" contradicted "Current tier" after an override applied between runs.
The customer page's panel now starts with what decided her current tier when that was not the last run."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from tiers import services
from tiers.models import Tier
from tiers.tests.helpers import make_customer, monthly_bills, run_month

pytestmark = pytest.mark.django_db

M = dt.date(2026, 10, 1)


def why_block(html: str) -> str:
    return re.search(r'<div class="why-tier" id="why-this-tier">(.*?)</div>', html, re.S).group(1)


def test_why_this_tier_agrees_with_the_current_tier_after_an_override(admin_client, django_user_model):
    # given a diamond member by score (the run of October)
    customer = make_customer(join_date=dt.date(2010, 1, 1), bills=monthly_bills(M, [400] * 12))
    run_month(M)
    url = f"/admin/customers/customer/{customer.pk}/change/"
    assert "<strong>Diamond</strong> · Score" in admin_client.get(url).content.decode()
    # when an override to silver is approved between runs (a second staff user approves it)
    requester = django_user_model.objects.create_user(username="requester", is_staff=True)
    approver = django_user_model.objects.create_user(username="approver", is_staff=True)
    override = services.tier_override_create(
        customer=customer,
        tier=Tier.objects.get(code="silver"),
        reason="complaint settled",
        starts_on=dt.date(2026, 10, 20),
        ends_on=dt.date(2026, 12, 31),
        actor=requester,
    )
    services.tier_override_approve(override=override, actor=approver, at=timezone.now(), on=dt.date(2026, 10, 21))
    html = admin_client.get(url).content.decode()
    # then the current tier is silver by the override, and "Why this tier" says the same first
    assert "<strong>Silver</strong> · Staff override" in html
    why = why_block(html)
    now = re.search(r'<p class="why-now">(.*?)</p>', why, re.S)
    assert now, "the panel names what decided the current tier"
    assert "Silver" in now.group(1) and "Staff override" in now.group(1) and "complaint settled" in now.group(1)
    assert "2026-10-21" in now.group(1)
    # and the run's decision is shown as what came before it, not as her tier now
    assert "before this change" in why
