"""Named parameters for the set-based SQL of the apps' engines (PostgreSQL and SQLite)."""

import datetime as dt

from django.db import connection


class Params(dict):
    """Named query parameters: `p(value)` returns a placeholder, so SQL fragments can be built in any order.

    `d` is the engine's dialect: its `date_cast` (`::date` on PostgreSQL, nothing on SQLite) follows date
    parameters. Dates and datetimes are adapted as Django stores them (SQLite: UTC text)."""

    def __init__(self, d):
        super().__init__()
        self.d = d

    def __call__(self, value, as_date: bool | None = None) -> str:
        name = f"p{len(self)}"
        cast = ""
        if isinstance(value, dt.datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        elif isinstance(value, dt.date):
            value = connection.ops.adapt_datefield_value(value)
            cast = "" if as_date is False else self.d.date_cast
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
