"""The SQLite driver, on the standard library's ``sqlite3``.

Operands are inserted into temporary tables with ``executemany`` (SQLite is in
process, so there is no faster path than its own insert loop). All work runs
inside a ``SAVEPOINT``, released on success and rolled back on failure: on a
connection with no open transaction that is a transaction of its own, and inside
a caller's transaction it nests, so einsql never commits or aborts the caller's
work.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

from sqlglot import exp

from einsql.convention import Relation, axis_columns, value_columns
from einsql.dialect import load_dialect
from einsql.drivers.base import (
    Rows,
    TemporaryTableDriver,
    load_columns,
    rows_from_tuples,
    url_path,
)
from einsql.errors import OptionError
from einsql.operands import CooArray
from einsql.sql import table_ref

#: The first SQLite with ``AS MATERIALIZED`` common table expressions.
MINIMUM_VERSION = (3, 35, 0)


def connect(con: Any) -> SQLiteDriver:
    """A driver on ``con``: None opens an in-memory database that the driver owns."""
    if sqlite3.sqlite_version_info < MINIMUM_VERSION:
        raise OptionError(
            f"einsql needs SQLite {'.'.join(map(str, MINIMUM_VERSION))} or later; "
            f"this Python has {sqlite3.sqlite_version}"
        )
    if con is None:
        return SQLiteDriver(sqlite3.connect(":memory:"), owned=True)
    if isinstance(con, sqlite3.Connection):
        return SQLiteDriver(con, owned=False)
    raise OptionError(f"the sqlite backend needs a sqlite3 connection, got {type(con).__name__}")


def open_url(url: str) -> sqlite3.Connection:
    """A new connection to the file a ``sqlite://`` URL names (a new database in memory if none).

    >>> open_url("sqlite://").execute("SELECT 42").fetchall()
    [(42,)]
    """
    return sqlite3.connect(url_path(url))


def in_transaction(con: sqlite3.Connection) -> bool:
    """Whether a transaction is open on ``con``."""
    return con.in_transaction


def list_tables(con: sqlite3.Connection) -> list[str]:
    """The tables, views and indexes on ``con``, temporary ones included.

    >>> con = open_url("sqlite://")
    >>> _ = con.execute("CREATE TEMPORARY TABLE t (x INT)")
    >>> list_tables(con), in_transaction(con)
    (['t'], False)
    """
    schemas = [exp.select("name").from_(f"{s}.sqlite_schema") for s in ("main", "temp")]
    query = exp.union(*schemas, distinct=False)
    return [row[0] for row in con.execute(load_dialect("sqlite").render(query)).fetchall()]


class SQLiteDriver(TemporaryTableDriver):
    """Runs einsql programs on one ``sqlite3`` connection, inside one savepoint."""

    def __init__(self, con: sqlite3.Connection, owned: bool) -> None:
        self.con = con
        self.owned = owned
        self.dialect = load_dialect("sqlite")
        self.prefix = f"__einsql_{secrets.token_hex(4)}_"
        self.savepoint = f"{self.prefix}work"
        self.loaded: list[str] = []
        self.errors = (sqlite3.Error,)
        self.doing = "opening a savepoint"
        self.execute(self.sql(exp.Command(this="SAVEPOINT", expression=self._savepoint())))

    def _savepoint(self) -> exp.Expression:
        return exp.to_identifier(self.savepoint, quoted=True)

    def _load(self, coo: CooArray, kind: str) -> Relation:
        """Insert ``coo`` into a new temporary table."""
        name = f"{self.prefix}o{len(self.loaded)}"  # o: loaded operands (a: inlined ones)
        axes, values = axis_columns(len(coo.shape)), value_columns(kind)
        columns = load_columns(coo, kind, self.dialect)
        self.create_temporary(name, columns)
        placeholders = exp.tuple_(*[exp.Placeholder() for _ in (*axes, *values)])
        insert = exp.insert(exp.Values(expressions=[placeholders]), table_ref(name))
        rows = zip(*[array.tolist() for _, array in columns.values()])
        sql = self.sql(insert)
        with self.logged(sql):
            self.con.executemany(sql, rows)
        return Relation(name, axes, values, kind)

    def _execute(self, sql: str) -> None:
        """Run one statement."""
        self.con.execute(sql)

    def _query(self, sql: str) -> Rows:
        """Run one query; return its columns (NULL, SQLite's NaN, as NaN)."""
        cursor = self.con.execute(sql)
        names = [column[0] for column in cursor.description or ()]
        return rows_from_tuples(names, cursor.fetchall())

    def end(self, error: BaseException | None) -> None:
        """Release the savepoint (rolled back first on error); close an owned connection."""
        try:
            if error is not None:
                self.doing = "rolling back the savepoint"
                rollback = exp.Rollback(savepoint=self._savepoint())
                self.execute(self.sql(rollback))
            self.doing = "releasing the savepoint"
            release = exp.Command(this="RELEASE", expression=self._savepoint())
            self.execute(self.sql(release))
        finally:
            if self.owned:
                self.con.close()
