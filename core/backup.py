"""Backups of the PostgreSQL database: `pg_dump` custom format, restored with `pg_restore` into a fresh database.

A backup is two files: `NAME.dump` (pg_dump's custom format, compressed, restorable table by table) and
`NAME.json` (its manifest: when, from which database, the server version and the row count of every table). The
counts are taken in the very snapshot pg_dump dumps (`pg_export_snapshot()` + `pg_dump --snapshot`), so a restore
can prove that it holds exactly what was dumped: `restore` compares every table's count with the manifest.

Both run over a direct connection to PostgreSQL (DATABASE_DIRECT_URL when DATABASE_URL points at PgBouncer): a
transaction pooler cannot keep pg_dump's session settings or the exporting transaction.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from .errors import InvalidInput

DUMP_SUFFIX = ".dump"


class BackupError(InvalidInput):
    default_code = "backup_failed"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def of_settings(cls, db: dict | None = None) -> tuple["Server", str]:
        """PostgreSQL itself (not a pooler) and the database name of `db` (default: the default database)."""
        db = db or settings.DATABASES["default"]
        if db["ENGINE"] not in ("django.db.backends.postgresql", "core.postgresql"):
            raise BackupError(
                f"Backups need PostgreSQL; the database is {db['ENGINE'].rsplit('.', 1)[-1]}. "
                "For the SQLite development database, copy var/vipclub.sqlite3 while nothing runs."
            )
        direct = {**db, **db.get("DIRECT", {})}
        server = cls(
            host=direct.get("HOST") or "localhost",
            port=int(direct.get("PORT") or 5432),
            user=direct.get("USER") or "",
            password=direct.get("PASSWORD") or "",
        )
        return server, db["NAME"]

    def env(self) -> dict:
        env = {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port)}
        if self.user:
            env["PGUSER"] = self.user
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, dbname: str, **kwargs) -> psycopg.Connection:
        credentials = {"user": self.user or None, "password": self.password or None}
        return psycopg.connect(
            host=self.host, port=self.port, dbname=dbname, connect_timeout=10, **credentials, **kwargs
        )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return path


def _run(args: list[str], server: Server) -> None:
    result = subprocess.run(args, env=server.env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def table_counts(cursor) -> dict[str, int]:
    """Rows of every table of the public schema, in the cursor's transaction."""
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    tables = [t for (t,) in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


def backup(directory: Path | None = None, *, output: Path | None = None, keep: int | None = None) -> dict:
    """Dump the default database to `output` (or a timestamped file in `directory`); returns the manifest.

    The dump is written to a temporary name and renamed once pg_dump succeeded and pg_restore can read its table
    of contents: a backup file that exists is complete. With `keep`, only the newest `keep` backups of the
    directory stay."""
    server, dbname = Server.of_settings()
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    if output is None:
        directory = Path(directory or settings.VAR_DIR / "backups")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        output = directory / f"{dbname}-{stamp}{DUMP_SUFFIX}"
        n = 1
        while output.exists():  # two backups within a second
            n += 1
            output = directory / f"{dbname}-{stamp}-{n}{DUMP_SUFFIX}"
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    started = time.monotonic()
    # One REPEATABLE READ transaction exports its snapshot; pg_dump dumps that snapshot and the counts are read in
    # it, so the manifest describes exactly the dump even while the club keeps writing.
    with server.connect(dbname, autocommit=True) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, version = cursor.fetchone()
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={partial}", dbname], server)
            counts = table_counts(cursor)
    _run([pg_restore, "--list", str(partial)], server)  # the archive reads back
    os.replace(partial, output)
    manifest = {
        "file": output.name,
        "database": dbname,
        "server_version": version,
        "taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 2),
        "bytes": output.stat().st_size,
        "tables": counts,
        "rows": sum(counts.values()),
    }
    manifest_path(output).write_text(json.dumps(manifest, indent=2) + "\n")
    if keep is not None:
        prune(output.parent, keep)
    return {**manifest, "path": str(output)}


def manifest_path(dump: Path) -> Path:
    return Path(dump).with_suffix(".json")


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (dump and manifest) of `directory`; returns what was deleted."""
    if keep < 1:
        raise BackupError("--keep must be at least 1.")
    dumps = sorted(Path(directory).glob(f"*{DUMP_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for dump in dumps[keep:]:
        for path in (dump, manifest_path(dump)):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def restore(dump: Path, database: str, *, jobs: int = 2) -> dict:
    """Restore `dump` into a new database `database` on the same server; returns the comparison with the
    manifest. Refuses an existing database (a restore never overwrites); drops what it created when it fails."""
    server, _ = Server.of_settings()
    pg_restore = _tool("pg_restore")
    dump = Path(dump)
    if not dump.is_file():
        raise BackupError(f"No backup file {dump}.")
    manifest = json.loads(manifest_path(dump).read_text()) if manifest_path(dump).is_file() else None
    with server.connect("postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            raise BackupError(f"Database {database!r} exists: restore writes into a new database only.")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    started = time.monotonic()
    try:
        _run([pg_restore, "--exit-on-error", "--no-owner", f"--jobs={jobs}", f"--dbname={database}", str(dump)], server)
        with server.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute("ANALYZE")
            counts = table_counts(cursor)
    except BaseException:
        with server.connect("postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        raise
    differences = {}
    if manifest is not None:
        for table in sorted(set(counts) | set(manifest["tables"])):
            if counts.get(table) != manifest["tables"].get(table):
                differences[table] = {"backup": manifest["tables"].get(table), "restored": counts.get(table)}
    return {
        "database": database,
        "seconds": round(time.monotonic() - started, 2),
        "tables": counts,
        "rows": sum(counts.values()),
        "verified": manifest is not None and not differences,
        "differences": differences,
    }
