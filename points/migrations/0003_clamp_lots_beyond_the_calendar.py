"""Issue 13: a bill for month 9999-12 (accepted then) earned a lot expiring on 31 December 10001, a date no read
can convert, and every points read, redemption and transfer of that customer was a 500. Such lots now expire on
the last accepted date (core.bounds.DATE_MAX); the bills API takes only months that have ended, and the earning
skips bills of months after its business date, so no new one can appear."""

from django.db import migrations

LAST = "2099-12-31"  # core.bounds.DATE_MAX, frozen here


def clamp(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE points_pointslot SET expires_on = %s WHERE expires_on > %s", [LAST, LAST])
        else:  # SQLite keeps a date as text: a year past 9999 has five digits and compares as text before 2099
            cursor.execute(
                "UPDATE points_pointslot SET expires_on = %s WHERE length(expires_on) <> 10 OR expires_on > %s",
                [LAST, LAST],
            )


class Migration(migrations.Migration):
    dependencies = [("points", "0002_seed_points_and_credit_policy")]
    operations = [migrations.RunPython(clamp, migrations.RunPython.noop)]
