"""The PostgreSQL driver, on psycopg 3.

Operands are loaded into temporary tables with binary ``COPY``, the payload built
by NumPy in one pass (measured: ``executemany`` took 32 s for 1e6 rows), and
each loaded table is ``ANALYZE``d: without statistics the planner guesses row
counts and a 100-table join ran 15.5 s instead of 0.02 s.

Everything a driver does runs in one transaction block of psycopg
(``Connection.transaction()``): a new transaction, or a savepoint inside one the
caller has open. It commits (or releases) when the work succeeds and rolls back
when it fails, so no transaction einsql started is left open or aborted, and a
caller's open transaction stays usable.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.convention import Relation, axis_columns, value_columns
from einsql.dialect import load_dialect
from einsql.drivers.base import (
    Rows,
    TemporaryTableDriver,
    load_columns,
    quietly,
    rows_from_tuples,
)
from einsql.errors import OptionError
from einsql.operands import CooArray
from einsql.sql import table_ref

#: Big-endian NumPy types of PostgreSQL's binary format, by SQL type.
_BINARY = {"INT": ">i4", "BIGINT": ">i8", "DOUBLE PRECISION": ">f8", "BOOLEAN": "?"}

#: Rows per ``COPY`` chunk: bounds the memory of the binary payload.
_CHUNK = 1 << 20

#: Rows per chunk of a result read packed (:meth:`PostgresDriver.result`): a chunk's
#: column is one array value, at most 13 bytes a row in binary form, and PostgreSQL
#: holds no value past 1 GB.
PACKED_ROWS = 1 << 24

#: The column types a result is read packed in, with the NumPy type of each one's
#: binary form. ``real`` is not among them: the text form read otherwise is its
#: shortest decimal, which as a float64 is not the float4 value binary gives.
_PACKED = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float8": ">f8", "bool": "?"}


def connect(con: Any) -> PostgresDriver:
    """A driver on a psycopg 3 connection (PostgreSQL needs a connection or URL)."""
    import psycopg

    if isinstance(con, psycopg.Connection):
        return PostgresDriver(con, owned=False)
    raise OptionError(
        "the postgres backend needs a psycopg 3 connection or a postgresql:// URL, "
        f"got {type(con).__name__}"
    )


def open_url(url: str) -> Any:
    """A new psycopg connection from a URL of any PostgreSQL scheme, or a libpq DSN.

    The scheme becomes ``postgresql://``, which libpq reads (``postgresql+psycopg``
    is SQLAlchemy's spelling).
    """
    import psycopg

    _, separator, rest = url.partition("://")
    return psycopg.connect("postgresql://" + rest if separator else url)


def in_transaction(con: Any) -> bool:
    """Whether a transaction is open (or failed) on ``con``."""
    from psycopg.pq import TransactionStatus

    return bool(con.info.transaction_status != TransactionStatus.IDLE)


def list_tables(con: Any) -> list[str]:
    """The relations in ``pg_class`` (tables, views, indexes, ...), read in a transaction block.

    The block is a transaction of its own, or a savepoint in the caller's open one,
    so the connection is left as it was.
    """
    query = exp.select("relname").from_("pg_class")
    with con.transaction(), con.cursor() as cursor:
        cursor.execute(load_dialect("postgres").render(query))
        return [row[0] for row in cursor.fetchall()]


class PostgresDriver(TemporaryTableDriver):
    """Runs einsql programs on one psycopg connection, inside one transaction block."""

    def __init__(self, con: Any, owned: bool) -> None:
        import psycopg
        from psycopg.pq import TransactionStatus

        if con.info.transaction_status == TransactionStatus.INERROR:
            raise OptionError(
                "the connection's transaction has failed; roll it back before using einsql"
            )
        self.con = con
        self.owned = owned
        self.dialect = load_dialect("postgres")
        self.prefix = f"__einsql_{secrets.token_hex(4)}_"
        self.loaded: list[str] = []
        self.errors = (psycopg.Error,)
        own = not in_transaction(con)
        self.transaction = con.transaction()
        self.transaction.__enter__()
        self.restore: list[tuple[str, str]] = []
        try:
            self.restore = self._changed(self.dialect.settings, restored=not own)
        except BaseException as error:
            quietly(partial(self.end, error), error)
            raise

    def _load(self, coo: CooArray, kind: str) -> Relation:
        """Copy ``coo`` into a new temporary table and ``ANALYZE`` it."""
        from psycopg import sql

        name = f"{self.prefix}o{len(self.loaded)}"  # o: loaded operands (a: inlined ones)
        columns = load_columns(coo, kind, self.dialect)
        self.create_temporary(name, columns)
        copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(name))
        with (
            self.logged(copy_sql.as_string(self.con)),
            self.con.cursor() as cursor,
            cursor.copy(copy_sql) as copy,
        ):
            for chunk in _binary_copy(list(columns.values()), coo.nnz):
                copy.write(chunk)
        self.execute(self.sql(exp.Analyze(tables=[table_ref(name)])))
        return Relation(name, axis_columns(len(coo.shape)), value_columns(kind), kind)

    def _execute(self, sql: str) -> None:
        """Run one statement.

        Never as a prepared statement: psycopg prepares a text it has run five
        times, and a user table dropped and created again with other column
        types then fails ("cached plan must not change result type").
        """
        self.con.execute(sql, prepare=False)

    def describe(self, sql: str) -> list[tuple[str, str]]:
        """The columns of a query and their PostgreSQL types (``int8``, ``numeric(10,2)``, ...)."""
        with self.logged(sql), self.con.cursor() as cursor:
            cursor.execute(sql, prepare=False)
            return [(column.name, column.type_display) for column in cursor.description or ()]

    def _query(self, sql: str) -> Rows:
        """Run one query; return its columns (``numeric`` sums as exact ints)."""
        with self.con.cursor() as cursor:
            cursor.execute(sql, prepare=False)
            names = [column.name for column in cursor.description or ()]
            return rows_from_tuples(names, cursor.fetchall())

    def result(self, query: exp.Query) -> Rows:
        """Run a result's query; read it packed, as arrays, where every column allows.

        Fetching rows as Python tuples (and psycopg's ``COPY TO``, a Python call
        per row) took more time than the query itself on large results. Where
        every column is of a type in ``_PACKED``, the database packs each column
        into one array per chunk of rows (:func:`packed_query`) and NumPy reads
        its binary form with no Python loop per row. Other results (``numeric``:
        exact integer sums), and any holding a NULL (the one row of a scalar sum
        over nothing), are read the ordinary way, a NULL one by running it again;
        so is an ordered query, as chunks keep no order.
        """
        if query.args.get("order"):
            return super().result(query)
        self.doing, doing = "reading the column types of the result", self.doing
        described = self.describe(self.sql(exp.select("*").from_(query.subquery("q")).limit(0)))
        self.doing = doing
        if not described or any(sql_type not in _PACKED for _, sql_type in described):
            return super().result(query)
        sql = self.sql(packed_query(query, [name for name, _ in described]))
        with self.running(sql), self.con.cursor() as cursor:
            cursor.execute(sql, prepare=False, binary=True)
            result = cursor.pgresult
            assert result is not None, "a query has a result"
            chunks = [
                [result.get_value(r, c) or b"" for c in range(result.nfields)]
                for r in range(result.ntuples)
            ]
        rows = unpacked(described, chunks)
        return super().result(query) if rows is None else rows

    @contextmanager
    def configured(self, settings: Sequence[tuple[str, str]]) -> Iterator[None]:
        """Run the block under ``settings``, local to the transaction block, restored after.

        ``set_config(name, value, true)`` lasts until the transaction ends, and
        the rollback after an error undoes it; after success the old values are
        set again, so a caller's open transaction goes on as it was.
        """
        old = self._changed(settings, restored=True)
        yield
        if old:
            self._set(old)

    def _changed(
        self, settings: Sequence[tuple[str, str]], restored: bool
    ) -> list[tuple[str, str]]:
        """Set ``settings`` until the transaction ends; return the old values if ``restored``."""
        if not settings:
            return []
        old = []
        if restored:
            self.doing = "reading the settings einsql changes"
            names = [name for name, _ in settings]
            current = [
                exp.func("current_setting", exp.Literal.string(n)).as_(f"s{k}")
                for k, n in enumerate(names)
            ]
            values = self.query(self.sql(exp.select(*current)))
            old = [(name, str(values[f"s{k}"][0])) for k, name in enumerate(names)]
        self._set(settings)
        return old

    def _set(self, settings: Sequence[tuple[str, str]]) -> None:
        """``SELECT set_config(name, value, true), ...``: each until the transaction ends."""
        self.doing = "changing settings for this transaction"
        calls = [
            exp.func("set_config", exp.Literal.string(name), exp.Literal.string(value), exp.true())
            for name, value in settings
        ]
        self.query(self.sql(exp.select(*calls)))

    def discard(self, names: Any) -> None:
        """Nothing to do: the failed transaction block is rolled back on close."""

    def end(self, error: BaseException | None) -> None:
        """Leave the transaction block (rolled back on error); close an owned connection."""
        try:
            if error is None:
                self._restore_and_commit()
            else:
                self.transaction.__exit__(type(error), error, error.__traceback__)
        finally:
            if self.owned:
                self.con.close()

    def _restore_and_commit(self) -> None:
        """Set the settings einsql changed in the caller's transaction back; leave the block."""
        try:
            if self.restore:
                self._set(self.restore)
        except BaseException as error:
            exit_block = partial(self.transaction.__exit__, type(error), error, error.__traceback__)
            quietly(exit_block, error)
            raise
        self.transaction.__exit__(None, None, None)


def _binary_copy(columns: list[tuple[str, np.ndarray]], count: int) -> Iterator[bytes]:
    """PostgreSQL's binary ``COPY`` format for these columns, in chunks.

    A header, then per row a 16-bit field count and per field a 32-bit length
    and the big-endian value, then a trailer of -1.

    >>> payload = b"".join(_binary_copy([("INT", np.array([7]))], 1))
    >>> payload[19:].hex(" "), len(payload)
    ('00 01 00 00 00 04 00 00 00 07 ff ff', 31)
    """
    fields = [("count", ">i2")]
    for k, (sql_type, _) in enumerate(columns):
        fields += [(f"length{k}", ">i4"), (f"value{k}", _BINARY[sql_type])]
    record = np.dtype(fields)
    yield b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    for start in range(0, count, _CHUNK):
        stop = min(start + _CHUNK, count)
        rows = np.empty(stop - start, dtype=record)
        rows["count"] = len(columns)
        for k, (_, values) in enumerate(columns):
            rows[f"length{k}"] = record[f"value{k}"].itemsize
            rows[f"value{k}"] = values[start:stop]
        yield rows.tobytes()
    yield b"\xff\xff"


def packed_query(query: exp.Query, names: Sequence[str], rows: int | None = None) -> exp.Select:
    """``query``'s rows as one row per chunk of ``rows``: a count, and an array per column.

    >>> sql = packed_query(exp.select("x").from_("t"), ["x"], 4)
    >>> print(load_dialect("postgres").render(sql))
    SELECT
      COUNT(*),
      ARRAY_AGG("q"."x")
    FROM (
      SELECT
        "q".*,
        (
          ROW_NUMBER() OVER () - 1
        ) / 4 AS "chunk"
      FROM (
        SELECT
          "x"
        FROM "t"
      ) AS "q"
    ) AS "q"
    GROUP BY
      "q"."chunk"
    """
    number = exp.Sub(this=exp.Window(this=exp.RowNumber()), expression=exp.Literal.number(1))
    size = exp.Literal.number(PACKED_ROWS if rows is None else rows)
    chunk = exp.Div(this=exp.paren(number), expression=size, typed=True)
    numbered = exp.select(exp.column(exp.Star(), table="q"), chunk.as_("chunk"))
    arrays = [exp.ArrayAgg(this=exp.column(name, table="q")) for name in names]
    return (
        exp.select(exp.Count(this=exp.Star()), *arrays)
        .from_(numbered.from_(query.subquery("q")).subquery("q"))
        .group_by(exp.column("chunk", table="q"))
    )


def unpacked(columns: Sequence[tuple[str, str]], chunks: Sequence[Sequence[Any]]) -> Rows | None:
    """The columns of a result read packed (:func:`packed_query`); None if one holds a NULL.

    ``columns`` are (name, SQL type) pairs; each chunk holds, in binary form,
    its row count (a ``bigint``) and then an array per column. Integers come
    back as int64, as the ordinary path gives them.

    >>> count = np.array([2], ">i8").tobytes()
    >>> header = np.array([1, 0, 23, 2, 1], ">i4").tobytes()
    >>> body = np.array([(4, 5), (4, -1)], [("n", ">i4"), ("v", ">i4")]).tobytes()
    >>> unpacked([("i0", "int4")], [(count, header + body)])["i0"]
    array([ 5, -1])
    """
    if not chunks:
        return rows_from_tuples([name for name, _ in columns], [])
    counts = [int(np.frombuffer(chunk[0], ">i8")[0]) for chunk in chunks]
    rows: Rows = {}
    for k, (name, sql_type) in enumerate(columns):
        element = _PACKED[sql_type]
        parts = [_array_values(c[k + 1], element, n) for c, n in zip(chunks, counts)]
        arrays = [part for part in parts if part is not None]
        if len(arrays) < len(parts):
            return None
        rows[name] = np.concatenate(arrays).astype(_NATIVE[np.dtype(element).kind])
    return rows


#: The NumPy type each kind of packed column is read as (the ordinary path's types).
_NATIVE = {"i": np.int64, "f": np.float64, "b": np.bool_}


def _array_values(data: bytes, element: str, count: int) -> np.ndarray | None:
    """The elements of a one-dimensional PostgreSQL array in binary form; None if one is NULL.

    The form: dimensions, a NULL flag, the element type, then per dimension its
    length and lower bound; then per element a 32-bit length and the value.
    """
    header = np.frombuffer(data, ">i4", count=3)
    if header[1]:
        return None
    assert header[0] == 1, "an array of a packed result has one dimension"
    body = np.frombuffer(data, [("length", ">i4"), ("value", element)], offset=20)
    assert len(body) == count, "a packed chunk holds as many elements as its count"
    return body["value"]
