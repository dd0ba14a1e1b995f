"""The DuckDB driver: operands go in through Arrow registration, rows come out as Arrow.

Registration is zero-copy and needs neither ``executemany`` nor ``VALUES``
(measured: 1e6 nonzeros register in milliseconds; 1e5 rows as ``VALUES`` take
seconds). Registered names are unique and reserved (``__einsql_<token>_a<k>``)
and are unregistered when the driver closes, as are temporary tables.

The first ``duckdb.connect`` to a database file creates the database and then
adds the scan functions that read Python objects (``python_arrow_scan``), but
another thread can connect to the same file in between; a registration on that
connection fails with a CatalogException until the first ``connect`` returns
(DuckDB 2.0.1, one thread connecting and one registering: 54 of 200 trials failed).
A lock in einsql cannot prevent that (the other thread's ``connect`` is not
einsql's), so ``load`` retries that one error for a few seconds.

Without a connection (``con=None``) a call runs on a cursor of one in-memory
database per process, made on first use: a new database costs about 25 ms, a
cursor about 10 us. The cursor is a connection of its own (its registrations
and temporary tables are its own, so threads do not meet), and it is closed
when the call ends, so nothing einsql made stays behind.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from einsql.convention import Relation, axis_columns, value_columns
from einsql.dialect import load_dialect
from einsql.drivers.arrow import arrow_rows, arrow_table
from einsql.drivers.base import Driver, Rows, quietly, url_path
from einsql.errors import OptionError
from einsql.operands import CooArray

#: DuckDB's settings of progress tracking, as einsql sets them while it shows a bar.
PROGRESS_SETTINGS = {"enable_progress_bar": True, "enable_progress_bar_print": False}

#: How long ``load`` waits for another thread's ``duckdb.connect`` to finish opening the database.
SETUP_WAIT = 5.0


def from_sqlalchemy(con: Any) -> Any:
    """The DuckDB connection inside ``duckdb_engine``'s wrapper (SQLAlchemy's driver connection).

    >>> con = duckdb.connect()
    >>> from_sqlalchemy(con) is con
    True
    """
    if type(con).__module__.split(".")[0] == "duckdb_engine":
        return getattr(con, "_ConnectionWrapper__c", con)
    return con


def connect(con: Any) -> DuckDBDriver:
    """A driver on ``con``: None opens an in-memory database that the driver owns."""
    if con is None:
        return DuckDBDriver(duckdb.connect(), owned=True)
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBDriver(con, owned=False)
    raise OptionError(f"the duckdb backend needs a duckdb connection, got {type(con).__name__}")


_memory: tuple[int, duckdb.DuckDBPyConnection] | None = None
_memory_lock = threading.Lock()


def open_memory() -> duckdb.DuckDBPyConnection:
    """The connection a call without ``con=`` runs on: a cursor of :func:`memory_database`.

    >>> cursor = open_memory()
    >>> cursor.execute("SELECT 42").fetchall()
    [(42,)]
    >>> cursor.close()
    """
    return memory_database().cursor()


def memory_database() -> duckdb.DuckDBPyConnection:
    """The process's in-memory database that calls without a connection share (made once).

    A forked child makes its own: a database does not survive ``fork``.

    >>> memory_database() is memory_database()
    True
    """
    global _memory
    with _memory_lock:
        if _memory is None or _memory[0] != os.getpid():
            _memory = (os.getpid(), duckdb.connect())
        return _memory[1]


def open_url(url: str) -> duckdb.DuckDBPyConnection:
    """A new connection to the file a ``duckdb://`` URL names (a new database in memory if none).

    >>> open_url("duckdb://").execute("SELECT 42").fetchall()
    [(42,)]
    """
    return duckdb.connect(url_path(url))


def in_transaction(con: Any) -> bool:
    """Whether ``con`` is inside a transaction it began (two statements see one transaction id).

    DuckDB's Python API does not report it; outside a transaction each
    statement runs in a new one.

    >>> con = open_url("duckdb://")
    >>> before = in_transaction(con); _ = con.begin()
    >>> before, in_transaction(con)
    (False, True)
    """
    query = _transaction_id()
    return _one_transaction(lambda: con.execute(query).fetchall()[0][0])


def _transaction_id() -> str:
    """A query of the transaction id: the same twice in a row only inside one transaction."""
    return load_dialect("duckdb").render(exp.select(exp.Anonymous(this="txid_current").as_("t")))


def _one_transaction(read_id: Callable[[], Any]) -> bool:
    return bool(read_id() == read_id())


def list_tables(con: Any) -> list[str]:
    """The tables and views on ``con``, temporary and registered ones included.

    >>> con = open_url("duckdb://")
    >>> _ = con.execute("CREATE TEMPORARY TABLE t (x INT)")
    >>> list_tables(con), in_transaction(con)
    (['t'], False)
    """
    query = exp.select("table_name").from_("information_schema.tables")
    return [row[0] for row in con.sql(load_dialect("duckdb").render(query)).fetchall()]


class DuckDBDriver(Driver):
    """Runs einsql programs on one DuckDB connection."""

    def __init__(self, con: Any, owned: bool) -> None:
        self.con = con
        self.owned = owned
        self.dialect = load_dialect("duckdb")
        self.prefix = f"__einsql_{secrets.token_hex(4)}_"
        self.registered: list[str] = []
        self.errors = (duckdb.Error,)
        self.settings: dict[str, bool] | None = None
        self.untracked = False  # DuckDB refused to track progress (see ``progress``)

    def describe(self, sql: str) -> list[tuple[str, str]]:
        """The columns of a query and their DuckDB types."""
        with self.logged(sql):
            relation = self.con.sql(sql)
            return [(name, str(t)) for name, t in zip(relation.columns, relation.types)]

    def _load(self, coo: CooArray, kind: str) -> Relation:
        """Register ``coo`` as an Arrow table under a reserved name."""
        name = f"{self.prefix}o{len(self.registered)}"  # o: loaded operands (a: inlined ones)
        register(self.con, name, arrow_table(coo, kind))
        self.registered.append(name)
        return Relation(name, axis_columns(len(coo.shape)), value_columns(kind), kind)

    def _execute(self, sql: str) -> None:
        """Run one statement."""
        self.con.execute(sql)

    def _in_transaction(self) -> bool:
        """:func:`in_transaction` through the driver (its statements logged)."""
        query = _transaction_id()
        return _one_transaction(lambda: self.query(query)["t"][0])

    def swap(self, staging: str, into: str) -> None:
        """Drop ``into`` and rename ``staging`` to it in a transaction (the caller's, if open)."""
        if self._in_transaction():
            super().swap(staging, into)
            return
        self.execute(self.sql(exp.Transaction()))
        try:
            super().swap(staging, into)
        except BaseException as error:
            quietly(lambda: self.execute(self.sql(exp.Rollback())), error)
            raise
        self.execute(self.sql(exp.Commit()))

    def _query(self, sql: str) -> Rows:
        """Run one query; its Arrow columns become NumPy arrays."""
        relation = self.con.sql(sql)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB >= 1.4
        return arrow_rows(fetch())

    def progress(self) -> Callable[[], float] | None:
        """``query_progress``, once the connection tracks progress (see ``_set_progress``).

        None when DuckDB will not track it: in Jupyter, DuckDB refuses to turn
        it on without ``ipywidgets``; a statement then runs without a bar.
        """
        if self.untracked:
            return None
        if self.settings is None:
            doing = self.doing
            try:
                self.settings = self._set_progress(dict.fromkeys(PROGRESS_SETTINGS, None))
            except duckdb.Error:
                self.untracked = True
                return None
            finally:
                self.doing = doing
        return self.con.query_progress  # type: ignore[no-any-return]

    def _set_progress(self, values: dict[str, bool | None]) -> dict[str, bool]:
        """Set DuckDB's progress settings (None: einsql's), return what they were.

        DuckDB tracks a statement's progress only with ``enable_progress_bar``
        on; einsql turns it on and DuckDB's own printing off (einsql draws the
        bar), and puts both back when the driver closes.
        """
        self.doing = "reading DuckDB's progress settings"
        read = exp.select(*[exp.func("current_setting", exp.Literal.string(n)) for n in values])
        sql = self.sql(read)
        with self.logged(sql):
            (row,) = self.con.execute(sql).fetchall()  # all rows: DuckDB 2 refuses unfinished ones
            before = dict(zip(values, map(bool, row)))
        self.doing = "setting DuckDB's progress settings"
        done: list[str] = []
        try:
            for name, value in values.items():
                self._set(name, PROGRESS_SETTINGS[name] if value is None else value)
                done.append(name)
        except BaseException as error:  # put back what was set: all or nothing
            quietly(partial(self._put_back, done, before), error)
            raise
        return before

    def _put_back(self, names: list[str], before: dict[str, bool]) -> None:
        for name in names:
            self._set(name, before[name])

    def _set(self, name: str, value: bool) -> None:
        assignment = exp.EQ(this=exp.to_identifier(name), expression=exp.Boolean(this=value))
        sql = self.sql(exp.Set(expressions=[exp.SetItem(this=assignment)]))
        with self.logged(sql):
            self.con.execute(sql)

    def close(self, error: BaseException | None = None) -> None:
        """Unregister the loaded operands, put settings back, close an owned connection."""
        try:
            self.doing = "unregistering the loaded operands"
            for name in self.registered:
                self.con.unregister(name)
            if self.settings is not None and not self.owned:
                self._set_progress(dict(self.settings))
        finally:
            self.registered.clear()
            self.settings = None
            if self.owned:
                self.con.close()


def register(con: Any, name: str, table: pa.Table) -> None:
    """``con.register(name, table)``, waiting out a database another thread is still opening.

    Only the error that the missing Python scan function gives is retried (see
    the module docstring), for at most ``SETUP_WAIT`` seconds.

    >>> con = open_url("duckdb://")
    >>> register(con, "t", pa.table({"x": [1, 2]}))
    >>> con.sql("SELECT sum(x) FROM t").fetchall()
    [(3,)]
    """
    deadline = time.monotonic() + SETUP_WAIT
    pause = 0.001
    while True:
        try:
            con.register(name, table)
            return
        except duckdb.CatalogException as error:
            if "python_arrow_scan" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
