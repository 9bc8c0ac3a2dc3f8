"""No retention case open without what opened it (DOMAIN §8), as a database guarantee on PostgreSQL.

A deferred constraint trigger checks, when a transaction that opened a case or moved a customer commits, that every
open case of that customer belongs to a customer pending closure or in a requested suspension
(`retention.rules.case_may_be_open`). The case's trigger takes a share lock on the customer row, so a case opening
and a status change committing at the same moment cannot both pass. A violation aborts the commit (SQLSTATE 23514).

SQLite has no deferred triggers, and it runs one writer at a time: there the check in `services.case_open`, under
the same lock order, is the guarantee.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION retention_open_case_needs_request() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
    st varchar;
    sk varchar;
BEGIN
    IF TG_TABLE_NAME = 'retention_retentioncase' THEN
        cid := NEW.customer_id;
    ELSE
        cid := NEW.id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM retention_retentioncase
                   WHERE customer_id = cid AND state NOT IN ('retained', 'churned')) THEN
        RETURN NULL;
    END IF;
    SELECT status, suspension_kind INTO st, sk FROM customers_customer WHERE id = cid FOR SHARE;
    IF st = 'pending_closure' OR (st = 'suspended' AND sk = 'requested') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'retention case open on customer % who is %: a case needs her closure request', cid, st
        USING ERRCODE = 'check_violation', CONSTRAINT = 'retention_open_case_needs_request';
END
$$;

CREATE CONSTRAINT TRIGGER retention_open_case_needs_request
    AFTER INSERT OR UPDATE OF state, customer_id ON retention_retentioncase
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state NOT IN ('retained', 'churned'))
    EXECUTE FUNCTION retention_open_case_needs_request();

CREATE CONSTRAINT TRIGGER retention_open_case_needs_request
    AFTER UPDATE OF status, suspension_kind ON customers_customer
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.suspension_kind IS DISTINCT FROM OLD.suspension_kind)
    EXECUTE FUNCTION retention_open_case_needs_request();
"""

DROP = """
DROP TRIGGER IF EXISTS retention_open_case_needs_request ON retention_retentioncase;
DROP TRIGGER IF EXISTS retention_open_case_needs_request ON customers_customer;
DROP FUNCTION IF EXISTS retention_open_case_needs_request();
"""


def _run(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: the % of RAISE stay as they are


def create(apps, schema_editor):
    _run(schema_editor, CREATE)


def drop(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0002_seed_offers_targets_weights"),
        ("customers", "0003_customer_lifecycle_at"),
    ]

    operations = [migrations.RunPython(create, drop)]
