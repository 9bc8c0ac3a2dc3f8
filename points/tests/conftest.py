"""Fixtures of the points tests; the ledger invariant is checked after every test that used the database."""

import pytest

from points.tests.helpers import assert_ledger_sound


@pytest.fixture(autouse=True)
def ledger_invariant(request):
    """After every points test: for each customer, balance = Σ entries = Σ lot remaining, no lot negative.

    The check runs before the test's database is rolled back or flushed (it depends on the database fixture)."""
    uses_db = request.node.get_closest_marker("django_db") is not None or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if uses_db:
        request.getfixturevalue("_django_db_helper")
    yield
    if uses_db:
        assert_ledger_sound()


@pytest.fixture
def no_rewards(db):
    """Plain consumption points: floor(amount) a bill, no brand or tenure reward."""
    from points.models import RewardRule

    RewardRule.objects.update(active=False)
