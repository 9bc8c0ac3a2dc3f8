from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import backup


class Command(BaseCommand):
    help = (
        "Back up the PostgreSQL database with pg_dump (custom format) into a timestamped file of --dir (default "
        "var/backups), with a manifest of every table's row count taken in the same snapshot; --keep N deletes all "
        "but the newest N backups there."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", dest="directory", type=Path, help="directory of the backups (default var/backups)")
        parser.add_argument("--output", type=Path, help="this file instead of a timestamped one in --dir")
        parser.add_argument("--keep", type=int, help="keep only the newest N backups of the directory")

    def handle(self, *args, directory, output, keep, **options):
        try:
            manifest = backup.backup(directory, output=output, keep=keep)
        except backup.BackupError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Backed up {manifest['database']}: {manifest['rows']:,} rows in {len(manifest['tables'])} tables, "
            f"{manifest['bytes'] / 1e6:.1f} MB in {manifest['seconds']} s → {manifest['path']}"
        )
