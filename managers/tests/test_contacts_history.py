"""contacts_history_load: a history of contacts at once (an import of past work, the demo), set-based."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.models import ActionLog
from managers import services
from managers.factories import ObligationFactory
from managers.models import ContactLog
from managers.tests.helpers import make_manager, make_member

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI)


def test_contacts_are_inserted_and_close_only_what_they_satisfy_once_opened(django_assert_max_num_queries):
    # given: a member with a periodic contact, a routine SMS, a card notice and an obligation opened later
    manager = make_manager("E800")
    customer = make_member(manager=manager)
    periodic = ObligationFactory(
        customer=customer, manager=manager, opened_on=dt.date(2026, 11, 1), due_on=dt.date(2026, 11, 20)
    )
    sms = ObligationFactory(
        customer=customer,
        manager=manager,
        kind="routine_sms",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 8),
    )
    card = ObligationFactory(
        customer=customer,
        manager=manager,
        kind="card_pickup_notice",
        opened_on=dt.date(2026, 11, 1),
        due_on=dt.date(2026, 11, 4),
    )
    later = ObligationFactory(
        customer=customer, manager=manager, opened_on=dt.date(2026, 11, 15), due_on=dt.date(2026, 11, 30)
    )
    base = {"customer_id": customer.pk, "manager_id": manager.pk}
    rows = [
        {**base, "channel": "sms", "outcome": "reached", "occurred_at": at(dt.date(2026, 1, 1)), "note": "春节问候"},
        # a call that reached her: closes the periodic contact and not the SMS, the card notice or what opened later
        {
            **base,
            "channel": "call",
            "outcome": "reached",
            "occurred_at": at(dt.date(2026, 11, 10)),
            "closes": [periodic.pk, sms.pk, card.pk, later.pk],
            "logged_by_id": manager.user_id,
            "source": "dashboard",
        },
    ]

    # when
    with django_assert_max_num_queries(8):
        result = services.contacts_history_load(rows=rows, source="import")

    # then
    assert result == {"contacts": 2, "closed": 1}
    logs = list(ContactLog.objects.order_by("occurred_at"))
    assert [(log.channel, log.source, log.logged_by_id) for log in logs] == [
        ("sms", "import", None),
        ("call", "dashboard", manager.user_id),
    ]
    for obligation in (periodic, sms, card, later):
        obligation.refresh_from_db()
    assert periodic.status == "done" and periodic.done_at == at(dt.date(2026, 11, 10)) and periodic.done_by == logs[1]
    assert (sms.status, card.status, later.status) == ("open", "open", "open")
    assert ActionLog.objects.filter(action="contacts_history_loaded", actor="import").count() == 1


def test_no_rows_writes_nothing():
    assert services.contacts_history_load(rows=[], source="import") == {"contacts": 0, "closed": 0}
    assert not ContactLog.objects.exists()
