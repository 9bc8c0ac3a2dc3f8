import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import RuleViolation
from core.models import ActionLog
from customers import services
from customers.factories import CustomerFactory
from customers.models import MonthlyBill, StatusChange

AT = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)  # when a clerk acts (a record timestamp)


@pytest.mark.django_db
def test_transition_writes_history_and_refuses_impossible_moves(customer):
    # given an active customer suspended for arrears
    services.customer_transition(customer=customer, action="suspend", kind="arrears", source="test", at=timezone.now())
    customer.refresh_from_db()
    assert (customer.status, customer.suspension_kind) == ("suspended", "arrears")
    # when closed for arrears
    services.customer_transition(customer=customer, action="close", kind="arrears", at=timezone.now())
    customer.refresh_from_db()
    assert (customer.status, customer.closure_kind, customer.suspension_kind) == ("closed", "arrears", "")
    # then reactivating is refused and changes nothing
    with pytest.raises(RuleViolation) as exc:
        services.customer_transition(customer=customer, action="reactivate", at=timezone.now())
    assert exc.value.code == "invalid_transition"
    customer.refresh_from_db()
    assert customer.status == "closed"
    assert list(StatusChange.objects.filter(customer=customer).values_list("to_status", flat=True)) == [
        "suspended",
        "closed",
    ]


@pytest.mark.django_db
def test_bill_correction_reports_the_amount_change(customer):
    month = dt.date(2026, 9, 1)
    first = services.bills_bulk_upsert(
        rows=[{"customer_id": customer.id, "month": month, "amount": Decimal("100.10"), "paid": False}]
    )
    assert (first.created, first.updated) == (1, 0)
    assert first.changed == 1
    assert services.bill_changes() == [(customer.id, month, None, Decimal("100.10"))]
    # a correction is an update with the old and new amount; the same amount again is no change
    second = services.bills_bulk_upsert(
        rows=[{"customer_id": customer.id, "month": month, "amount": Decimal("90.00"), "paid": True}]
    )
    assert (second.created, second.updated) == (0, 1)
    assert second.changed == 1
    assert services.bill_changes() == [(customer.id, month, Decimal("100.10"), Decimal("90.00"))]
    third = services.bills_bulk_upsert(
        rows=[{"customer_id": customer.id, "month": month, "amount": Decimal("90.00"), "paid": True}]
    )
    assert (third.created, third.updated, third.changed) == (0, 1, 0)
    assert services.bill_changes() == []
    bill = MonthlyBill.objects.get()
    assert (bill.amount, bill.paid) == (Decimal("90.00"), True)


@pytest.mark.django_db
def test_plan_change_keeps_history_and_current_plan(customer):
    services.customer_change_plan(customer=customer, plan_code="388", started_on=dt.date(2026, 5, 3))
    services.customer_change_plan(customer=customer, plan_code="588", started_on=dt.date(2026, 8, 1))
    customer.refresh_from_db()
    assert (customer.plan_code, customer.plan_started_on) == ("588", dt.date(2026, 8, 1))
    assert list(customer.plan_periods.values_list("plan_code", flat=True)) == ["388", "588"]


@pytest.mark.django_db
def test_number_change_refuses_a_taken_number(customer):
    other = CustomerFactory(region=customer.region)
    with pytest.raises(RuleViolation) as exc:
        services.customer_change_number(customer=customer, new_msisdn=other.msisdn, at=timezone.now())
    assert exc.value.code == "msisdn_exists"
    services.customer_change_number(customer=customer, new_msisdn="13900000001", at=timezone.now())
    customer.refresh_from_db()
    assert customer.msisdn == "13900000001"
    assert customer.identity_changes.get().before == {"msisdn": "13800138000"}


@pytest.mark.django_db
def test_billing_month_cannot_close_before_it_ends():
    with pytest.raises(RuleViolation) as exc:
        services.billing_month_close(month=dt.date(2026, 11, 1), at=AT, on=dt.date(2026, 11, 30))
    assert exc.value.code == "month_not_over"
    closed = services.billing_month_close(month=dt.date(2026, 11, 1), at=AT, on=dt.date(2026, 12, 1))
    again = services.billing_month_close(month=dt.date(2026, 11, 1), at=AT, on=dt.date(2026, 12, 5))
    assert closed.closed_at == again.closed_at


@pytest.mark.django_db
def test_closing_a_billing_month_records_who_closed_it(django_user_model):
    # given a clerk
    clerk = django_user_model.objects.create_user(username="clerk")
    # when she closes November, and another user closes it again
    closed = services.billing_month_close(month=dt.date(2026, 11, 1), at=AT, on=dt.date(2026, 12, 1), actor=clerk)
    services.billing_month_close(month=dt.date(2026, 11, 1), at=AT, on=dt.date(2026, 12, 2), actor="late-script")
    # then the action log names her, once, at the closing time
    log = ActionLog.objects.get(action="billing_month_closed", object_id=str(closed.pk))
    assert (log.actor, log.app_label, log.model, log.at) == ("clerk", "customers", "billingmonth", closed.closed_at)


@pytest.mark.django_db
def test_a_plan_change_records_who_changed_it(customer):
    services.customer_change_plan(customer=customer, plan_code="588", started_on=dt.date(2026, 8, 1), actor="evt-42")
    log = ActionLog.objects.get(action="plan_changed", object_id=str(customer.pk))
    assert (log.actor, log.details) == ("evt-42", {"plan_code": "588", "started_on": "2026-08-01"})
