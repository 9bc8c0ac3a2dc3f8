"""A small seeded demo club (`seed_demo`, 30 customers) for a test module, in a transaction rolled back at the
module's end: `seeded_club = seeded_club_fixture()` in the module."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

DEMO_DAY = dt.date(2026, 11, 20)


def seeded_club_fixture(customers: int = 30):
    @pytest.fixture(scope="module")
    def seeded_club(django_db_setup, django_db_blocker, tmp_path_factory):
        with django_db_blocker.unblock():
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                with override_settings(VAR_DIR=tmp_path_factory.mktemp("var")):  # demo logins stay out of var/
                    call_command("seed_demo", f"--customers={customers}", f"--as-of={DEMO_DAY}", stdout=io.StringIO())
                yield DEMO_DAY
            finally:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)

    return seeded_club
