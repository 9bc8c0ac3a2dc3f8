"""The search by a number's last digits (customers.selectors.msisdn_ends_with) served by an index on PostgreSQL.

`msisdn LIKE '%7065'` can use no index: it read the whole customers table (a million rows). The search asks
`reverse(msisdn) LIKE '5607%'` instead, a prefix of the reversed number, which a btree on `reverse(msisdn)` with
`text_pattern_ops` (prefix matches whatever the database's collation) answers in a range scan.

SQLite keeps no such index (its REVERSE is a function Django registers on its own connections, which an index
would need in every client that opens the file): there the same query reads the table, as before.
"""

from django.db import migrations

INDEX = "cust_msisdn_reverse_idx"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON customers_customer (reverse(msisdn) text_pattern_ops)"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_holiday_opt_out"),
    ]

    operations = [
        migrations.RunPython(_create, _drop, elidable=False),
    ]
