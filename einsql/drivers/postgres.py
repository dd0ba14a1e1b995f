"""The PostgreSQL driver, on psycopg 3.

Operands are loaded into temporary tables with binary ``COPY``, the payload built
by NumPy in one pass (measured: ``executemany`` took 32 s for 1e6 rows), and
each loaded table is ``ANALYZE``d: without statistics the planner guesses row
counts and a 100-table join ran 15.5 s instead of 0.02 s.

Everything a driver does runs in one transaction block of psycopg
(``Connection.transaction()``): a new transaction, or a savepoint inside one the
caller has open. It commits (or releases) when the work succeeds and rolls back
when it fails, so no transaction einsql started is left open or aborted, and a
caller's open transaction stays usable. The block runs under the dialect's
``settings`` (``jit`` off, a larger ``work_mem``), set for the block only.

Results are read packed where their columns allow (:meth:`PostgresDriver.result`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.convention import Relation, axis_columns, value_columns
from einsql.dialect import load_dialect
from einsql.drivers.base import (
    Rows,
    TemporaryTableDriver,
    column_array,
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

#: The most rows per chunk of a result too large to read packed as one array per
#: column (:meth:`PostgresDriver.result`).
PACKED_ROWS = 1 << 24

#: The bytes a chunk's row (all its arrays) may take: PostgreSQL builds each row it
#: sends in one buffer of at most 1 GB, each element a 4-byte length and its value
#: (at most 20 bytes: a numeric sum within int64's range), so a row of ``c``
#: columns holds at most ``PACKED_BYTES // (24 * c)`` elements each.
PACKED_BYTES = 1 << 29

#: Settings einsql only raises: a server or role set higher keeps its value.
RAISED_ONLY = frozenset({"work_mem"})


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
        """Run a result's query; read it packed: an array per column.

        Fetching rows as Python tuples (and psycopg's ``COPY TO``, a Python call
        per row) took more time than the query itself on large results. Packed
        (:func:`packed_query`), the database sends one array per column in binary
        form, which NumPy reads with no Python loop per row where its elements
        are of a type in ``_PACKED``; psycopg reads the others (``numeric``:
        exact integer sums), and arrays holding a NULL (the one row of a scalar
        sum over nothing), as Python values, as the ordinary read would.

        PostgreSQL sends no row past 1 GB: a result too large for one array per
        column (about 3.8e7 rows of a 2-d float result) fails in a savepoint
        with "program limit exceeded" and runs again, an array per chunk of
        rows (:func:`chunk_rows`; numbering and grouping the rows took 2 s
        more of the 7.5 s of a 5,000² product, so only then). An ordered
        query (the chunks keep no order), or one whose columns are not all
        named, is read the ordinary way.
        """
        from psycopg.errors import ProgramLimitExceeded

        names = query.named_selects
        if query.args.get("order") or not names or any(n in ("", "*") for n in names):
            return super().result(query)
        try:
            with self.con.transaction():
                return self.packed(query, names)
        except ProgramLimitExceeded as error:
            if error.sqlstate != "54000":  # not the size limit (54001: too complex, ...)
                raise
            return self.packed(query, names, chunk_rows(len(names)))

    def packed(self, query: exp.Query, names: Sequence[str], rows: int | None = None) -> Rows:
        """Run ``query`` as :func:`packed_query` (columns ``names``, chunks of ``rows``), read."""
        sql = self.sql(packed_query(query, names, rows))
        with self.running(sql), self.con.cursor() as cursor:
            cursor.execute(sql, prepare=False, binary=True)
            result = cursor.pgresult
            assert result is not None, "a query has a result"
            chunks = [
                [result.get_value(r, c) or b"" for c in range(result.nfields)]
                for r in range(result.ntuples)
            ]
            types = [int(result.ftype(c)) for c in range(1, result.nfields)]
            return unpacked(names, types, chunks, partial(_loaded, cursor))

    def _changed(
        self, settings: Sequence[tuple[str, str]], restored: bool
    ) -> list[tuple[str, str]]:
        """Set ``settings`` until the transaction ends; return the old values if ``restored``.

        ``set_config(name, value, true)`` lasts until the transaction ends, and a
        rollback (of the savepoint in a caller's transaction) undoes it; setting
        the old values again after success leaves a caller's transaction as it was.
        """
        if not settings:
            return []
        self.doing = "reading the settings einsql changes"
        values = self.query(self.sql(exp.select(*_current(settings))))
        kept = [
            (k, name, value)
            for k, (name, value) in enumerate(settings)
            if values[f"s{k}"][0] is not None and not values[f"enough{k}"][0]
        ]
        self._set([(name, value) for _, name, value in kept])
        return [(name, str(values[f"s{k}"][0])) for k, name, _ in kept] if restored else []

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


def chunk_rows(columns: int) -> int:
    """Rows per chunk of a packed result of ``columns`` columns (see :data:`PACKED_BYTES`).

    >>> chunk_rows(3), chunk_rows(9)
    (7456540, 2485513)
    """
    return min(PACKED_ROWS, PACKED_BYTES // (24 * columns))


def _current(settings: Sequence[tuple[str, str]]) -> list[exp.Expr]:
    """Each setting's current value, and whether einsql's would not raise it.

    ``s<k>`` is NULL where the server has no such setting; ``enough<k>`` is true
    where a setting of :data:`RAISED_ONLY` is already at least einsql's value.
    """
    read = []
    for k, (name, value) in enumerate(settings):
        current = exp.func("current_setting", exp.Literal.string(name), exp.true())
        enough: exp.Expr = exp.false()
        if name in RAISED_ONLY:
            size = exp.func("pg_size_bytes", current.copy())
            wanted = exp.func("pg_size_bytes", exp.Literal.string(value))
            enough = exp.GTE(this=size, expression=wanted)
        read += [current.as_(f"s{k}"), enough.as_(f"enough{k}")]
    return read


def packed_query(query: exp.Query, names: Sequence[str], rows: int | None = None) -> exp.Select:
    """``query``'s row count and an array per column; with ``rows``, a row per chunk of them.

    >>> print(load_dialect("postgres").render(packed_query(exp.select("x").from_("t"), ["x"])))
    SELECT
      COUNT(*),
      ARRAY_AGG("q"."x")
    FROM (
      SELECT
        "x"
      FROM "t"
    ) AS "q"
    >>> sql = packed_query(exp.select("x").from_("t"), ["x"], 4)
    >>> print(load_dialect("postgres").render(sql, pretty=False).partition("/")[1:])
    ('/', ' 4 AS "chunk" FROM (SELECT "x" FROM "t") AS "q") AS "q" GROUP BY "q"."chunk"')
    """
    arrays = [exp.ArrayAgg(this=exp.column(name, table="q")) for name in names]
    packed = exp.select(exp.Count(this=exp.Star()), *arrays)
    if rows is None:
        return packed.from_(query.subquery("q"))
    number = exp.Sub(this=exp.Window(this=exp.RowNumber()), expression=exp.Literal.number(1))
    chunk = exp.Div(this=exp.paren(number), expression=exp.Literal.number(rows), typed=True)
    numbered = exp.select(exp.column(exp.Star(), table="q"), chunk.as_("chunk"))
    numbered = numbered.from_(query.subquery("q"))
    return packed.from_(numbered.subquery("q")).group_by(exp.column("chunk", table="q"))


def unpacked(
    names: Sequence[str],
    types: Sequence[int],
    chunks: Sequence[Sequence[bytes]],
    load: Callable[[int, bytes], list[Any]],
) -> Rows:
    """The columns of a result read packed (:func:`packed_query`).

    Each chunk holds, in binary form, its row count (a ``bigint``) and then an
    array per column, of the array type (OID) ``types`` names. NumPy reads
    arrays of a type in ``_PACKED`` (integers as int64, as the ordinary read
    gives them); ``load`` reads the others, and any holding a NULL, as a list.

    >>> count = np.array([2], ">i8").tobytes()
    >>> header = np.array([1, 0, 23, 2, 1], ">i4").tobytes()
    >>> body = np.array([(4, 5), (4, -1)], [("n", ">i4"), ("v", ">i4")]).tobytes()
    >>> unpacked(["i0"], [1007], [(count, header + body)], lambda oid, data: [])["i0"]
    array([ 5, -1])
    """
    counts = [int(np.frombuffer(chunk[0], ">i8")[0]) for chunk in chunks]
    chunks = [chunk for chunk, n in zip(chunks, counts) if n]  # no rows: NULL arrays
    counts = [n for n in counts if n]
    if not chunks:
        return rows_from_tuples(names, [])
    rows: Rows = {}
    for k, (name, oid) in enumerate(zip(names, types)):
        parts = [_array_values(c[k + 1], oid, n) for c, n in zip(chunks, counts)]
        arrays = [part for part in parts if part is not None]
        if len(arrays) == len(parts):
            rows[name] = np.concatenate(arrays)
        else:
            rows[name] = column_array([v for c in chunks for v in load(oid, c[k + 1])])
    return rows


#: The arrays NumPy reads, by array type OID (``int8[]``, ``int4[]``, ``int2[]``,
#: ``float8[]``, ``float4[]``, ``bool[]``): the type of their elements' binary form,
#: and the type each column is read as (the ordinary read's).
_PACKED = {
    1016: (">i8", np.int64),
    1007: (">i4", np.int64),
    1005: (">i2", np.int64),
    1022: (">f8", np.float64),
    1021: (">f4", np.float64),
    1000: ("?", np.bool_),
}


def _array_values(data: bytes, oid: int, count: int) -> np.ndarray | None:
    """The elements of a one-dimensional array in binary form; None if NumPy cannot read it.

    The form: dimensions, a NULL flag, the element type, then per dimension its
    length and lower bound; then per element a 32-bit length and the value.
    None for an array of a type not in ``_PACKED``, or holding a NULL.
    """
    if oid not in _PACKED or np.frombuffer(data, ">i4", count=2)[1]:
        return None
    element, native = _PACKED[oid]
    assert np.frombuffer(data, ">i4", count=1)[0] == 1, "a packed array has one dimension"
    body = np.frombuffer(data, [("length", ">i4"), ("value", element)], offset=20)
    assert len(body) == count, "a packed chunk holds as many elements as its count"
    if element == ">f4":  # as the ordinary read: its text, the shortest decimal, as a float64
        return body["value"].astype(str).astype(native)
    return body["value"].astype(native)


def _loaded(cursor: Any, oid: int, data: bytes) -> list[Any]:
    """The array ``data`` of type ``oid`` in binary form, read by psycopg as Python values."""
    from psycopg.pq import Format

    loader = cursor.adapters.get_loader(oid, Format.BINARY)
    assert loader is not None, f"psycopg reads arrays of type {oid}"
    return list(loader(oid, cursor).load(data))
