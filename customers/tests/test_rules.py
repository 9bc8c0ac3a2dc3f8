import datetime as dt

import pytest

from core import dates
from customers import rules
from customers.factories import make_id_number


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-03", dt.date(2026, 3, 1)), ("1999-12", dt.date(1999, 12, 1))],
)
def test_parse_month_accepts_yyyy_mm(text, month):
    assert rules.parse_month(text) == month
    assert dates.month_str(month) == text


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "202603", "2026-03-01", "", "abcd-ef"])
def test_parse_month_refuses_anything_else(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        rules.parse_month(text)


def test_add_months_crosses_years():
    assert dates.add_months(dt.date(2026, 11, 1), 2) == dt.date(2027, 1, 1)
    assert dates.add_months(dt.date(2026, 1, 1), -12) == dt.date(2025, 1, 1)


def test_id_number_checksum():
    # given a valid 18-character ID number (the GB 11643 example)
    assert rules.id_number_problem("11010519491231002X") is None
    # when its check digit is altered, it is refused with the reason
    assert "check digit" in rules.id_number_problem("110105194912310021")
    assert rules.id_number_problem("110105491231002") is None  # legacy 15 digits
    assert "18 characters" in rules.id_number_problem("1101051949")
    assert rules.birthday_from_id_number(make_id_number(7, dt.date(1990, 2, 28))) == dt.date(1990, 2, 28)


def test_id_number_with_impossible_birth_date_is_refused():
    first17 = "44010619900230123"  # 30 February
    assert "birth date" in rules.id_number_problem(first17 + rules.id_number_check_digit(first17))


@pytest.mark.parametrize(
    ("action", "current", "kind", "allowed"),
    [
        ("suspend", "active", "arrears", True),
        ("suspend", "suspended", "arrears", False),
        ("reactivate", "suspended", "", True),
        ("reactivate", "closed", "", False),
        ("reactivate", "pending_closure", "", False),
        ("request_closure", "active", "", True),
        ("request_closure", "suspended", "", True),
        ("request_closure", "closed", "", False),
        ("cancel_closure", "pending_closure", "", True),
        ("cancel_closure", "active", "", False),
        ("close", "pending_closure", "voluntary", True),
        ("close", "pending_closure", "arrears", True),
        ("close", "suspended", "arrears", True),
        ("close", "suspended", "voluntary", False),
        ("close", "active", "voluntary", False),
        ("close", "closed", "arrears", False),
    ],
)
def test_lifecycle_transitions(action, current, kind, allowed):
    problem = rules.transition_problem(action, current, kind)
    assert (problem is None) is allowed
