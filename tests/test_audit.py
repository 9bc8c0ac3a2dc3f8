"""The audit trail (issue 8): every staff change to tiers, policies, overrides, entitlements, calendars and
assignments is recorded with who and when, and the admin shows each changed field before and after."""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benefits.factories import TierEntitlementFactory
from benefits.models import Benefit, TierEntitlement
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


def test_a_tier_edit_in_the_admin_shows_who_and_before_and_after(staff_user):
    client = Client()
    client.force_login(staff_user)
    gold = Tier.objects.get(code="gold")
    # when the club admin renames gold in English on its page
    data = {"code": gold.code, "name_zh": gold.name_zh, "name_en": "Golden", "rank": gold.rank, "active": "on"}
    client.post(f"/admin/tiers/tier/{gold.pk}/change/", data, follow=True)
    # then the audit trail's newest row names them, the tier, and the name before and after
    newest = rows(client.get(AUDIT))[0]
    assert "clubadmin" in newest and "changed" in newest
    assert "Gold → Golden" in newest


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


def _audit_page_queries(client, staff_user, entitlement, changes: int) -> tuple[int, list[str]]:
    """The staff user changes the entitlement's quantity `changes` times, then renders their audit rows of
    entitlements: (queries, rows)."""
    entitlement._history_user = staff_user
    for _ in range(changes):
        entitlement.quantity += 1
        entitlement.save()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(AUDIT, {"model": "benefits.tierentitlement", "user": staff_user.pk})
    assert response.status_code == 200
    return len(queries), rows(response)


def test_the_page_costs_the_same_queries_for_few_and_many_rows(staff_user):
    # given an entitlement the club admin edited 5 times, then 35 times more
    client = Client()
    client.force_login(staff_user)
    entitlement = TierEntitlement.objects.select_related("benefit", "tier").first()
    start = entitlement.quantity
    few_queries, few_rows = _audit_page_queries(client, staff_user, entitlement, 5)
    many_queries, many_rows = _audit_page_queries(client, staff_user, entitlement, 35)
    # then the page shows 5 and then 40 rows for the same number of queries (the rows before them read in bulk)
    assert (len(few_rows), len(many_rows)) == (5, 40)
    assert many_queries == few_queries
    # and each row still shows the quantity before and after, newest first, named by tier and benefit
    label = f"{entitlement.tier.code} · {entitlement.benefit.code}"
    assert all("clubadmin" in row and label in row for row in many_rows)
    assert f"{start + 39} → {start + 40}" in many_rows[0]
    assert f"{start} → {start + 1}" in many_rows[-1]  # the first edit, against the row of the initial state


def _walk(client, params: dict) -> tuple[list[tuple], list[str]]:
    """Every page of the trail from the first, following "Older": the (date, model, history_id) of each row in
    page order, and the links followed."""
    seen, links = [], []
    response = client.get(AUDIT, params)
    while True:
        assert response.status_code == 200
        seen += [
            (e.record.history_date, e.model._meta.label_lower, e.record.history_id) for e in response.context["entries"]
        ]
        older = re.search(r'<a class="button" href="([^"]+)">Older</a>', response.content.decode())
        if not older:
            return seen, links
        links.append(html.unescape(older[1]))
        assert len(links) < 50, "the Older links go round in circles"
        response = client.get(AUDIT + links[-1])


def test_following_older_reaches_every_row_once_even_when_many_share_one_date(staff_user):
    # given more than a page of rows of two models written at one date (initial states written together), a few
    # rows of another model just after it, and edits and other rows before it
    together = timezone.now() + dt.timedelta(days=1)
    Benefit.history.update(history_date=together)
    TierEntitlement.history.update(history_date=together)
    assert Benefit.history.count() + TierEntitlement.history.count() > 50
    newer = list(Tier.history.order_by("history_id").values_list("history_id", flat=True)[:5])
    Tier.history.filter(history_id__in=newer).update(history_date=together + dt.timedelta(seconds=1))
    entitlement = TierEntitlement.objects.first()
    entitlement._history_user = staff_user
    for _ in range(30):
        entitlement.quantity = (entitlement.quantity or 0) + 1
        entitlement.save()
    expected = sorted(
        (
            (h.history_date, model._meta.label_lower, h.history_id)
            for model in audited_models()
            for h in model.history.all()
        ),
        reverse=True,
    )
    assert len(expected) > 100
    client = Client()
    client.force_login(staff_user)
    # when the club admin follows "Older" from the first page to the last
    seen, links = _walk(client, {})
    # then every row shows exactly once, newest first by date, model and row, 50 a page
    assert len(seen) == len(set(seen)) == len(expected)
    assert seen == expected
    assert len(links) == (len(expected) - 1) // 50
    # and the cursor stays readable: the last row's date, model and history id
    assert re.fullmatch(r"\?model=&user=&before=[0-9T:.-]+Z\|[a-z_]+\.[a-z_]+\|\d+", links[0]), links[0]
    # also within one model's rows, filtered by it
    seen, _links = _walk(client, {"model": "benefits.tierentitlement"})
    assert seen == [row for row in expected if row[1] == "benefits.tierentitlement"]


def test_a_row_naming_a_deleted_object_falls_back_to_the_model_and_id(staff_user):
    # given an entitlement of a benefit that was since deleted (the entitlement with it, its history kept)
    entitlement = TierEntitlementFactory(
        code="gold", benefit__code="gone", benefit__name_zh="已删", benefit__name_en="Gone", quantity=1
    )
    benefit = entitlement.benefit
    entitlement._history_user = staff_user
    entitlement.quantity = 2
    entitlement.save()
    client = Client()
    client.force_login(staff_user)
    with CaptureQueriesContext(connection) as before_delete:
        client.get(AUDIT, {"model": "benefits.tierentitlement"})
    benefit.delete()
    assert not TierEntitlement.objects.filter(pk=entitlement.pk).exists()
    # when the club admin opens the trail of entitlements
    with CaptureQueriesContext(connection) as queries:
        response = client.get(AUDIT, {"model": "benefits.tierentitlement"})
    # then it renders, naming the entitlement by model and id, with its changes
    assert response.status_code == 200
    page = rows(response)
    fallback = f"tier entitlement #{entitlement.pk} (related object deleted)"
    mine = [row for row in page if fallback in row]
    assert len(mine) == 3  # added, changed, deleted
    assert any("1 → 2" in row for row in mine)
    # and the deleted benefit costs no query per row (its absence is read with the others)
    assert len(queries) == len(before_delete)


@pytest.mark.parametrize(
    "before",
    [
        "yesterday",
        "2026-01-01T00:00:00Z",
        "2026-13-45T00:00:00",  # a date's shape, not a date
        "2026-13-45T00:00:00Z|benefits.benefit|1",
        "2026-02-30T10:00:00|benefits.benefit|1",
        "2026-01-01T00:00:00|benefits.benefit|1",
        "2026-01-01T00:00:00Z|customers.customer|1",
        "2026-01-01T00:00:00Z|benefits.benefit|-1",
        "2026-01-01T00:00:00Z|benefits.benefit|²",
        "2026-01-01T00:00:00Z|benefits.benefit|99999999999999999999999999",
        "2026-01-01T00:00:00Z|benefits.benefit|1|2",
    ],
)
def test_a_malformed_cursor_is_a_bad_request(staff_user, before):
    client = Client()
    client.force_login(staff_user)
    assert client.get(AUDIT, {"before": before}).status_code == 400
    assert client.get(AUDIT, {"model": "benefits.benefit", "user": "²", "before": before}).status_code == 400
