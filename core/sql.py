"""The SQL kit of the apps' set-based engines: one dialect (the few expressions in which PostgreSQL and SQLite
differ, side by side) and named query parameters.

Every engine builds its statements from `Params` (named placeholders, `%(p0)s`, in any order) and the
`Dialect` of the connection (`dialect()`), and names tables by `Model._meta.db_table`. Both databases are
tested: PostgreSQL in production and CI, SQLite as the embedded default.
"""

import contextlib
import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import ProgrammingError, connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dialect:
    """Expressions of one database. Methods take SQL expressions (column names, placeholders) and return SQL."""

    vendor: str
    date_cast: str  # appended to a date parameter
    distinct: str  # null-safe "differs"
    false: str  # the boolean false
    for_update: str  # row locks of a SELECT ('' where the database locks as a whole for a write)
    now: str  # the database's clock for bookkeeping timestamps, as Django's Now() writes it
    _greatest: str  # scalar maximum of several values
    _floor_int: str  # integer yuan of a non-negative amount, floored
    _fen: str  # integer fen of an amount
    _sum_yuan: str  # the sum of amounts floored to whole yuan each, as an integer
    _sum_fen: str  # the sum of amounts in integer fen
    _numeric: str  # a decimal parameter as a number
    _year: str  # integer year of a date
    _month: str  # integer month (1-12) of a date
    _day: str  # integer day of the month of a date
    _dec31: str  # the date 31 December of an integer year
    _local_midnight: str  # the UTC instant of a date column's local midnight ({col}, {tz}: see Params)
    _string_agg: str  # the strings of a group, concatenated ({expr}, {sep}, {order})
    _temp_options: str  # after a temporary table's definition

    @property
    def postgres(self) -> bool:
        return self.vendor == "postgresql"

    def greatest(self, *exprs: str) -> str:
        return f"{self._greatest}({', '.join(exprs)})"

    def floor_int(self, expr: str) -> str:
        return self._floor_int.format(expr)

    def fen(self, expr: str) -> str:
        return self._fen.format(expr)

    def sum_yuan(self, column: str) -> str:
        return self._sum_yuan.format(column)

    def sum_fen(self, column: str) -> str:
        return self._sum_fen.format(column)

    def numeric(self, expr: str) -> str:
        return self._numeric.format(expr)

    def year(self, expr: str) -> str:
        return self._year.format(expr)

    def month(self, expr: str) -> str:
        return self._month.format(expr)

    def day(self, expr: str) -> str:
        return self._day.format(expr)

    def dec31(self, year: str) -> str:
        return self._dec31.format(year)

    def string_agg(self, expr: str, sep: str, order: str) -> str:
        return self._string_agg.format(expr=expr, sep=sep, order=order)

    def temp_create(self, name: str) -> str:
        """`CREATE TEMP TABLE name … AS ` (followed by a SELECT); PostgreSQL drops it at the commit."""
        return f"CREATE TEMP TABLE {name}{self._temp_options} AS "

    def temp_table(self, name: str, columns: str) -> str:
        """`CREATE TEMP TABLE name (columns)`; PostgreSQL drops it at the commit."""
        return f"CREATE TEMP TABLE {name} ({columns}){self._temp_options}"

    def json_object(self, pairs: dict[str, str]) -> str:
        """A JSON object built in SQL from `{key: SQL expression}` (keys are trusted identifiers, not input)."""
        fn = "jsonb_build_object" if self.postgres else "json_object"
        args = ", ".join(f"'{k}', {v}" for k, v in pairs.items())
        return f"{fn}({args})"

    def json_agg(self, expr: str, order: str) -> str:
        """The JSON array of a group's `expr` (JSON objects). SQLite keeps the order of rows it is fed: feed it
        rows ordered by `order`."""
        if self.postgres:
            return f"jsonb_agg({expr} ORDER BY {order})"
        return f"json_group_array({expr})"

    def json_nested(self, expr: str) -> str:
        """A JSON value read from a subquery, to embed in a JSON object (SQLite would embed it as a string)."""
        return expr if self.postgres else f"json({expr})"

    def values(self, alias: str, columns: list[str], rows: list[str]) -> str:
        """A derived table `alias(columns…)` of literal rows (each a parenthesised list of placeholders)."""
        body = "VALUES " + ", ".join(rows)
        if self.postgres:
            return f"({body}) AS {alias} ({', '.join(columns)})"
        named = ", ".join(f"column{i + 1} AS {c}" for i, c in enumerate(columns))
        return f"(SELECT {named} FROM ({body})) AS {alias}"


POSTGRES = Dialect(
    vendor="postgresql",
    date_cast="::date",
    distinct="IS DISTINCT FROM",
    false="false",
    for_update=" FOR UPDATE",
    now="STATEMENT_TIMESTAMP()",  # CURRENT_TIMESTAMP would be the transaction's start
    _greatest="GREATEST",
    _floor_int="FLOOR({})::bigint",
    _fen="(({}) * 100)::bigint",  # numeric to bigint rounds; amounts have two places
    # summed as numeric and cast once per customer: a cast per bill row cost a third more than the sum itself
    _sum_yuan="CAST(SUM(FLOOR({})) AS BIGINT)",
    _sum_fen="CAST(SUM({}) * 100 AS BIGINT)",
    _numeric="CAST({} AS numeric)",
    _year="EXTRACT(YEAR FROM {})::int",
    _month="EXTRACT(MONTH FROM {})::int",
    _day="EXTRACT(DAY FROM {})::int",
    _dec31="make_date({}, 12, 31)",
    _local_midnight="({col}::timestamp AT TIME ZONE {tz})",
    _string_agg="string_agg({expr}, {sep} ORDER BY {order})",
    _temp_options=" ON COMMIT DROP",
)
SQLITE = Dialect(
    vendor="sqlite",
    date_cast="",
    distinct="IS NOT",  # IS DISTINCT FROM only since SQLite 3.39
    false="0",
    for_update="",
    # CURRENT_TIMESTAMP has whole seconds; this is what Django writes (UTC text), milliseconds included
    now="STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'now')",
    _greatest="MAX",
    # SQLite keeps decimals as floating point: each amount is made an exact integer before any sum
    _floor_int="CAST({} AS INTEGER)",
    _fen="CAST(ROUND(({}) * 100) AS INTEGER)",
    _sum_yuan="SUM(CAST({} AS INTEGER))",
    _sum_fen="SUM(CAST(ROUND({} * 100) AS INTEGER))",
    _numeric="CAST({} AS REAL)",
    _year="CAST(strftime('%%Y', {}) AS INTEGER)",
    _month="CAST(strftime('%%m', {}) AS INTEGER)",
    _day="CAST(strftime('%%d', {}) AS INTEGER)",
    _dec31="printf('%%04d-12-31', {})",
    _local_midnight="datetime({col}, {tz})",
    _string_agg="group_concat({expr}, {sep})",
    _temp_options="",
)


def dialect() -> Dialect:
    """The dialect of the default connection."""
    return POSTGRES if connection.vendor == "postgresql" else SQLITE


class Params(dict):
    """Named query parameters: `p(value)` returns a placeholder, so SQL fragments can be built in any order.

    Dates are followed by the dialect's `date_cast` (`::date` on PostgreSQL, nothing on SQLite); dates and
    datetimes are adapted as Django stores them (SQLite: UTC text). `p.d` is the dialect."""

    def __init__(self, d: Dialect | None = None):
        super().__init__()
        self.d = d or dialect()

    def __call__(self, value) -> str:
        name = f"p{len(self)}"
        cast = ""
        if isinstance(value, dt.datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, dt.date):
            value = connection.ops.adapt_datefield_value(value)
            cast = self.d.date_cast
        self[name] = value
        return f"%({name})s{cast}"

    def case(self, expr: str, pairs, default: str = "0") -> str:
        """`CASE expr WHEN … THEN … ELSE default END`."""
        if not pairs:
            return default
        return f"CASE {expr} " + " ".join(f"WHEN {self(k)} THEN {self(v)}" for k, v in pairs) + f" ELSE {default} END"

    def array(self, values) -> str:
        """A PostgreSQL array literal of dates, numbers or plain words as ONE text parameter (cast it: ::date[]):
        far cheaper to send and parse than thousands of parameters."""
        return self("{" + ",".join(v.isoformat() if isinstance(v, dt.date) else str(v) for v in values) + "}")

    def in_list(self, values) -> str:
        """`(p0, p1, …)` for an IN clause."""
        return "(" + ", ".join(self(v) for v in values) + ")"

    def local_midnight(self, column: str, day: dt.date, tz: dt.tzinfo) -> str:
        """The UTC instant of the local midnight (in `tz`) starting the date in `column`. SQLite shifts by the
        offset `tz` has on `day`."""
        if self.d.postgres:
            return self.d._local_midnight.format(col=column, tz=self(str(tz)))
        offset = dt.datetime.combine(day, dt.time.min, tz).utcoffset()
        return self.d._local_midnight.format(col=column, tz=self(f"{-int(offset.total_seconds()):+d} seconds"))


@contextlib.contextmanager
def statement_settings(cursor, when: bool = True, **settings: str):
    """Run the statements of the block with the given PostgreSQL settings (`jit="off"`) and restore the session's own
    values after it, within the transaction (set_config(…, true)): the rest of the transaction keeps what the
    operator or an outer step set. Nothing on SQLite, or when `when` is false. When the block raises, nothing is
    restored: the transaction (or its savepoint) is rolled back, and PostgreSQL undoes the settings with it — a
    statement sent into the aborted transaction would only hide the block's error behind its own."""
    if not (when and connection.vendor == "postgresql" and settings):
        yield
        return
    names = sorted(settings)
    cursor.execute(
        "SELECT " + ", ".join("current_setting(%s), set_config(%s, %s, true)" for _ in names),
        [x for name in names for x in (name, name, settings[name])],
    )
    row = cursor.fetchone()
    before = {name: row[2 * i] for i, name in enumerate(names)}
    yield
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
        [x for name in names for x in (name, before[name])],
    )


def load_temp_table(cursor, name: str, columns: str, rows, *, analyze: bool = True) -> None:
    """Create the temporary table `name (columns)` (dropped first if it exists; PostgreSQL drops it at the commit)
    and load `rows` (tuples in the columns' order, Python values) into it: one `COPY … FROM STDIN` on PostgreSQL,
    batched multi-row INSERTs on SQLite. `rows` may be any iterable (a generator streams). PostgreSQL then
    ANALYZEs it (a temporary table has no statistics otherwise, and the planner would guess its size)."""
    d = dialect()
    names = ", ".join(column.split()[0] for column in re.split(r",(?![^()]*\))", columns))  # numeric(12, 2)
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(d.temp_table(name, columns))
    if d.postgres:
        with cursor.cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:  # psycopg 3
            for row in rows:
                copy.write_row(row)
        if analyze:
            cursor.execute(f"ANALYZE {name}")
        return
    width = len(names.split(","))
    batch: list = []
    per = max(1, 900 // width)  # SQLite's bound parameters per statement (999 before 3.32)

    def flush() -> None:
        values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * (len(batch) // width))
        cursor.execute(f"INSERT INTO {name} ({names}) VALUES {values}", batch)
        batch.clear()

    for row in rows:
        batch.extend(_sqlite_value(v) for v in row)
        if len(batch) >= per * width:
            flush()
    if batch:
        flush()


def _sqlite_value(value):
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


# -- the hottest fixed reads, prepared on the server (issue 20) ---------------------------------------------------------

_prepared_statements = True  # False once a server forgot a statement this process prepared (a transaction pooler)


def fetchone_prepared(sql: str, params) -> tuple | None:
    """The first row of a fixed read statement that runs at (nearly) every API request: the token's and the
    customer's. On PostgreSQL with settings.DATABASE_PREPARED_STATEMENTS it runs through a server-binding cursor
    that prepares it (psycopg's `prepare=True`; Django switches psycopg's automatic preparation off): once per
    connection, later executions are bound and executed, not parsed and planned again (under load, two thirds of
    the statement's time); Django's cursor wrapper still logs and wraps it. Behind a transaction-mode pooler
    (PgBouncer before 1.21) the next transaction may run on a server connection that never saw the statement: the
    setting is off there (DATABASE_DIRECT_URL set), and should a server not know a statement anyway, this process
    stops preparing (a warning) and runs the statement again unprepared."""
    global _prepared_statements
    if _prepared_statements and connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS:
        try:
            with _server_binding_cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        except ProgrammingError as exc:
            from psycopg.errors import InvalidSqlStatementName

            if not isinstance(exc.__cause__, InvalidSqlStatementName) or connection.in_atomic_block:
                raise
            _prepared_statements = False
            logger.warning("Prepared statements switched off: the server forgot one (%s). A transaction pooler?", exc)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _server_binding_cursor():
    """Django's cursor (its wrapper: query log, execute wrappers, database errors) over a psycopg cursor with
    server-side binding that prepares what it executes, instead of the client-side one Django uses, on the same
    connection."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _preparing_cursor_class()(connection.connection)
        # the time zone as Django's create_cursor() sets it
        if connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone != connection.timezone:
            register_tzloader(connection.timezone, cursor)
    return connection._prepare_cursor(cursor)


@functools.cache
def _preparing_cursor_class():
    """Django's server-binding psycopg cursor, preparing every statement it executes (made once: PostgreSQL only)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparingCursor
