"""The audit trail (issue 8): every staff change to tiers, policies, overrides, entitlements, calendars and
assignments is recorded with who and when, and the admin shows each changed field before and after."""

import datetime as dt
import re

import pytest
from django.test import Client

from benefits.models import TierEntitlement
from managers import services as manager_services
from managers.models import Assignment
from managers.tests.helpers import make_manager, make_member
from tiers.models import Tier
from vipclub.audit import AUDITED, audited_models

pytestmark = pytest.mark.django_db
AUDIT = "/admin/audit/"


def rows(response) -> list[str]:
    """The audit table's rows as plain text, newest first."""
    html = response.content.decode()
    body = html.split('<table id="audit-trail"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tr)).strip() for tr in body.split("<tr>")[2:]]


def test_every_audited_model_keeps_history():
    # given the configuration models that staff change
    # then each has a history table (simple-history), so a change to it cannot go unrecorded
    assert len(audited_models()) == len(AUDITED)
    for model in audited_models():
        assert hasattr(model, "history"), model


def test_a_threshold_edit_in_the_admin_shows_who_and_before_and_after(staff_user):
    client = Client()
    client.force_login(staff_user)
    gold = Tier.objects.get(code="gold")
    before = gold.threshold
    # when the club admin edits gold's threshold in the tier list
    tiers = list(Tier.objects.order_by("-rank"))
    data = {"form-TOTAL_FORMS": len(tiers), "form-INITIAL_FORMS": len(tiers), "_save": "Save"}
    for i, tier in enumerate(tiers):
        data[f"form-{i}-id"] = tier.pk
        data[f"form-{i}-threshold"] = str(before + 500) if tier.code == "gold" else str(tier.threshold)
        if tier.active:
            data[f"form-{i}-active"] = "on"
    client.post("/admin/tiers/tier/", data, follow=True)
    # then the audit trail's newest row names them, the tier, and the threshold before and after
    newest = rows(client.get(AUDIT))[0]
    assert "clubadmin" in newest and "changed" in newest
    assert f"{before} → {before + 500}" in newest
    assert gold.name_en in newest or gold.code in newest


@pytest.mark.parametrize("assigned_in_bulk", [False, True])
def test_a_reassignment_is_audited_for_both_assignments_with_the_actor(staff_user, assigned_in_bulk):
    # given a member of one manager, assigned one by one or in bulk by the pipeline (then without history)
    old = make_manager("E1")
    new = make_manager("E2", region=old.region)
    member = make_member(manager=None if assigned_in_bulk else old, region=old.region)
    if assigned_in_bulk:
        Assignment.objects.bulk_create([Assignment(customer=member, manager=old, started_on=dt.date(2026, 9, 1))])
    # when staff reassign the member (a bulk service: no model signals fire)
    manager_services.customers_reassign(
        customer_ids=[member.pk], manager=new, on=dt.date(2026, 11, 20), actor=staff_user
    )
    # then the ended and the new assignment both have an audit row naming the actor and the reason
    history = Assignment.history.filter(customer_id=member.pk).order_by("history_id")
    assert [(h.history_type, h.history_user, h.history_change_reason) for h in history] == [
        ("+", None, "state before the change" if assigned_in_bulk else None),
        ("~", staff_user, "reassigned"),
        ("+", staff_user, "reassigned"),
    ]
    client = Client()
    client.force_login(staff_user)
    page = rows(client.get(AUDIT, {"model": "managers.assignment"}))
    staff_rows = [row for row in page if "clubadmin" in row]
    assert len(staff_rows) == 2 and all("reassigned" in row for row in staff_rows)
    assert any("— → 2026-11-20" in row for row in staff_rows)  # the ended assignment's end date, before → after


def test_an_entitlement_edit_is_filtered_by_model_and_user(staff_user, django_user_model):
    other = django_user_model.objects.create_superuser(username="supervisor2", password="x-Strong-pass-1")
    entitlement = TierEntitlement.objects.select_related("benefit", "tier").first()
    # when another admin changes an entitlement's quantity (the history middleware names the user)
    client = Client()
    client.force_login(other)
    entitlement._history_user = other
    entitlement.quantity += 1
    entitlement.save()
    # then the trail filtered to entitlements shows it; filtered to the first admin it does not
    client.force_login(staff_user)
    assert any("supervisor2" in row for row in rows(client.get(AUDIT, {"model": "benefits.tierentitlement"})))
    mine = rows(client.get(AUDIT, {"model": "benefits.tierentitlement", "user": staff_user.pk}))
    assert mine == ["No changes recorded."]


def test_the_trail_is_for_staff_who_may_view_the_configuration(django_user_model):
    # a staff user without the view permissions gets 403; a manager (not staff) is sent to the login page
    clerk = django_user_model.objects.create_user(username="clerk", password="x-Strong-pass-1", is_staff=True)
    client = Client()
    client.force_login(clerk)
    assert client.get(AUDIT).status_code == 403
    manager = make_manager("E9")
    client.force_login(manager.user)
    assert client.get(AUDIT).status_code == 302
