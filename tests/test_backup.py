"""Backups (issue 13, point 7): `manage.py backup` (pg_dump, custom format) and `manage.py restore` (pg_restore into a
fresh database) give back the same club: every table's row count, and ledgers that still add up."""

import datetime as dt
import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from core import backup
from core.errors import DomainError
from customers.models import Customer

AS_OF = dt.date(2026, 11, 15)
# pg_dump and pg_restore need PostgreSQL: those tests are marked `postgres` (skipped on SQLite by the root conftest.py)

# The ledgers' invariants, one row per violation: a points balance that is not the sum of its entries or of its
# lots' remaining points, a benefit account whose granted or used is not the sum of its ledger's changes.
POINTS_VIOLATIONS = """
SELECT a.customer_id FROM points_pointsaccount a
LEFT JOIN (SELECT customer_id, SUM(amount) s FROM points_pointsentry GROUP BY customer_id) e USING (customer_id)
LEFT JOIN (SELECT customer_id, SUM(remaining) s FROM points_pointslot GROUP BY customer_id) l USING (customer_id)
WHERE a.balance <> COALESCE(e.s, 0) OR a.balance <> COALESCE(l.s, 0)
"""
BENEFIT_VIOLATIONS = """
SELECT a.id FROM benefits_benefitaccount a
LEFT JOIN (SELECT account_id, SUM(granted_delta) g, SUM(used_delta) u FROM benefits_benefitentry GROUP BY account_id) e
  ON e.account_id = a.id
WHERE a.granted <> COALESCE(e.g, 0) OR a.used <> COALESCE(e.u, 0)
"""
TOTALS = """
SELECT (SELECT COALESCE(SUM(balance), 0) FROM points_pointsaccount),
       (SELECT COALESCE(SUM(used), 0) FROM benefits_benefitaccount),
       (SELECT COALESCE(SUM(granted), 0) FROM benefits_benefitaccount)
"""


def figures(cursor) -> dict:
    cursor.execute(POINTS_VIOLATIONS)
    points_bad = cursor.fetchall()
    cursor.execute(BENEFIT_VIOLATIONS)
    benefits_bad = cursor.fetchall()
    cursor.execute(TOTALS)
    totals = tuple(cursor.fetchone())
    return {
        "counts": backup.table_counts(cursor),
        "points_violations": points_bad,
        "benefit_violations": benefits_bad,
        "totals": totals,
    }


@pytest.fixture
def seeded_club(settings, tmp_path):
    """A demo club (customers, 24 months of bills, tiers, benefit grants and expiries, points), plus one points
    redemption and one benefit redemption so that `used` and the ledgers' debits are not all zero."""
    from benefits import services as benefit_services
    from benefits.models import BenefitAccount
    from points import services as points_services
    from points.models import PointsAccount

    settings.VAR_DIR = tmp_path  # the demo logins file goes here
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", customers=40, on=AS_OF, seed=3, stdout=io.StringIO())
    rich = PointsAccount.objects.filter(balance__gte=100, customer__status="active").select_related("customer").first()
    points_services.points_redeem(customer=rich.customer, points=100, reference="bk", idempotency_key="bk-1", on=AS_OF)
    accounts = BenefitAccount.objects.filter(unlimited=False, granted__gt=F("used"), customer__status="active")
    for account in accounts.select_related("benefit", "customer"):
        try:
            benefit_services.benefit_redeem(
                customer=account.customer,
                benefit=account.benefit,
                reference="bk",
                idempotency_key="bk-2",
                on=AS_OF,
                at=timezone.now(),
            )
            return
        except DomainError:  # a money benefit, another period's account: the next one
            continue
    pytest.fail("no benefit could be redeemed in the seeded club")


@pytest.fixture
def restored_name():
    name = f"{connection.settings_dict['NAME']}_restored"[:63]
    server, _ = backup.Server.of_settings()
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with server.connect("postgres", autocommit=True) as conn:
        conn.execute(drop)
    yield name
    with server.connect("postgres", autocommit=True) as conn:
        conn.execute(drop)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_restores_into_a_fresh_database_with_the_same_rows_and_sound_ledgers(
    seeded_club, restored_name, tmp_path
):
    server, source_name = backup.Server.of_settings()
    with server.connect(source_name) as conn, conn.cursor() as cursor:
        source = figures(cursor)
    assert source["counts"]["customers_customer"] == Customer.objects.count() == 40
    assert source["totals"][0] > 0 and source["totals"][1] > 0  # points held, a benefit used

    # when the club is backed up with the command, and the backup restored into a new database with the command
    out = io.StringIO()
    call_command("backup", "--dir", str(tmp_path / "backups"), stdout=out)
    dumps = list((tmp_path / "backups").glob("*.dump"))
    assert len(dumps) == 1 and f"→ {dumps[0]}" in out.getvalue()
    out = io.StringIO()
    call_command("restore", str(dumps[0]), "--database", restored_name, stdout=out)
    assert "Verified: every table holds the row count of the backup's manifest." in out.getvalue()

    # then the restored database holds every table with the same number of rows, the same balances, and ledgers
    # that add up (balances = Σ entries = Σ lots; benefit granted and used = Σ of the ledger)
    with server.connect(restored_name) as conn, conn.cursor() as cursor:
        restored = figures(cursor)
    assert restored["counts"] == source["counts"]
    assert len(restored["counts"]) > 50 and restored["counts"]["points_pointsentry"] > 0
    assert restored["points_violations"] == restored["benefit_violations"] == []
    assert restored["totals"] == source["totals"]
    # and the manifest's counts are the source's, taken in the dump's snapshot
    manifest = backup.manifest_path(dumps[0]).read_text()
    assert f'"customers_customer": {source["counts"]["customers_customer"]}' in manifest


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_never_writes_into_an_existing_database(tmp_path, customer):
    path = backup.backup(tmp_path)["path"]
    # when the target is the live database itself
    with pytest.raises(CommandError, match="exists: restore writes into a new database only"):
        call_command("restore", path, "--database", connection.settings_dict["NAME"], stdout=io.StringIO())
    # then it is untouched
    assert Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_keep_leaves_the_newest_backups(tmp_path, customer):
    for n in range(3):
        result = backup.backup(tmp_path, keep=2)
        os.utime(result["path"], (1_000_000 + n, 1_000_000 + n))  # distinct ages, oldest first
    dumps = sorted(p.name for p in tmp_path.glob("*.dump"))
    assert len(dumps) == 2 and len(list(tmp_path.glob("*.json"))) == 2


@pytest.mark.sqlite
def test_a_backup_of_sqlite_is_refused_with_the_reason():
    with pytest.raises(CommandError, match="Backups need PostgreSQL"):
        call_command("backup", stdout=io.StringIO())


@pytest.mark.postgres  # restore needs PostgreSQL
def test_a_missing_backup_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "nothing.dump"), "--database", "x", stdout=io.StringIO())


def test_backups_go_to_postgresql_itself_not_to_the_pooler():
    # behind PgBouncer, pg_dump and pg_restore connect to PostgreSQL itself (DATABASE_DIRECT_URL), not the pooler
    server, name = backup.Server.of_settings(
        {
            "ENGINE": "core.postgresql",
            "NAME": "club",
            "HOST": "pgbouncer",
            "PORT": 6432,
            "USER": "app",
            "PASSWORD": "",
            "DIRECT": {"HOST": "postgres", "PORT": 5432, "USER": "app", "PASSWORD": "secret"},
        }
    )
    assert (server.host, server.port, name) == ("postgres", 5432, "club")
    assert server.env()["PGPASSWORD"] == "secret"
