from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import backup


class Command(BaseCommand):
    help = (
        "Restore a backup (manage.py backup) with pg_restore into a NEW database on the same PostgreSQL server, then "
        "compare every table's row count with the backup's manifest. Never overwrites an existing database: point "
        "DATABASE_URL at the restored one once it is verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the .dump file")
        parser.add_argument("--database", required=True, help="name of the new database to restore into")
        parser.add_argument("--jobs", type=int, default=2, help="parallel pg_restore jobs (default 2)")

    def handle(self, *args, file, database, jobs, **options):
        try:
            result = backup.restore(file, database, jobs=jobs)
        except backup.BackupError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Restored {file} into {database}: {result['rows']:,} rows in {len(result['tables'])} tables "
            f"in {result['seconds']} s."
        )
        if result["differences"]:
            for table, diff in result["differences"].items():
                self.stderr.write(f"  {table}: {diff['backup']} rows in the backup, {diff['restored']} restored")
            raise CommandError(f"The restored database {database} differs from the backup's manifest (above).")
        if result["verified"]:
            self.stdout.write("Verified: every table holds the row count of the backup's manifest.")
        else:
            self.stdout.write("No manifest next to the backup: row counts not verified.")
