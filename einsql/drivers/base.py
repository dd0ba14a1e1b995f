"""The interface every driver implements, and the run loop they share."""

from __future__ import annotations

import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlglot import exp

from einsql.convention import COMPLEX_VALUES, VALUE, axis_columns, stored_values, value_columns
from einsql.display import Progress, StatementProgress, progress_delay, progress_wanted
from einsql.errors import (
    DatabaseError,
    EinsqlError,
    ExactnessError,
    first_line,
    redact,
)
from einsql.logger import logger, mark, statement
from einsql.operands import CooArray
from einsql.sql import create_table_as, drop_table, read_value, rename_table, table_ref

if TYPE_CHECKING:
    from einsql.convention import Program, Relation
    from einsql.dialect import Dialect
    from einsql.operands import Table

#: Result columns by name, axes first, as NumPy arrays (object arrays for huge integers).
Rows = dict[str, np.ndarray]

#: What a driver is doing while it stores a result (``into=``), as errors name it.
STORING = "storing the result into table"

#: How databases report an integer that does not fit its type.
_OVERFLOW = re.compile(r"overflow|out of range", re.IGNORECASE)

#: How PostgreSQL reports a float that overflowed or underflowed (IEEE gives inf or 0).
_FLOAT_RANGE = re.compile(r"value out of range: (overflow|underflow)", re.IGNORECASE)


def quietly(cleanup: Callable[[], object], error: BaseException) -> None:
    """Run ``cleanup`` after ``error``; a failure of its own is noted on ``error``, not raised.

    >>> error = KeyError("first")
    >>> quietly(lambda: 1 / 0, error)
    >>> error.__notes__
    ['einsql could not clean up after this error: ZeroDivisionError: division by zero']
    """
    try:
        cleanup()
    except BaseException as failure:  # the original error is the one to report
        note = f"einsql could not clean up after this error: {type(failure).__name__}: {failure}"
        if hasattr(error, "add_note"):
            error.add_note(redact(note))


@contextmanager
def dropped_after(driver: Driver, names: list[str]) -> Iterator[None]:
    """Drop the temporary tables in ``names`` (a list the block may change) when it ends.

    After an error (an interrupt too) they are dropped quietly: a failure to
    drop never hides the error that ended the block.
    """
    try:
        yield
    except BaseException as error:
        quietly(partial(driver.discard, list(names)), error)
        raise
    driver.doing = "dropping temporary tables"
    for name in dict.fromkeys(names):
        driver.execute(driver.sql(drop_table(name)))


def created_table(statement: exp.Expr) -> str | None:
    """The table a statement creates (``CREATE TABLE``, Spark's ``CACHE TABLE``), if any.

    >>> created_table(exp.Cache(this=exp.to_table("t"), expression=exp.select("1")))
    't'
    """
    return statement.this.name if isinstance(statement, (exp.Create, exp.Cache)) else None


def _purpose(statement: exp.Expr) -> str:
    """What a setup or teardown statement is for, to name it when it fails."""
    name = created_table(statement)
    if name is not None:
        return f"creating table {name!r}"
    if isinstance(statement, exp.Drop):
        return "dropping a temporary table"
    return "a statement"


class Driver(ABC):
    """Loads operands into a database, runs programs, fetches rows, cleans up.

    A driver works on one connection for one einsum (or one session). It
    creates only names starting with ``prefix`` and removes them on ``close``;
    it closes the connection only if it opened it.
    """

    dialect: Dialect
    """The dialect whose SQL this driver runs."""

    prefix: str
    """A unique prefix for the names this driver creates (loaded and temporary tables)."""

    con: Any
    """The database connection (the DB-API or native connection object)."""

    @abstractmethod
    def _load(self, coo: CooArray, kind: str) -> Relation:
        """The driver's own ``load`` (statements it runs go through ``execute`` or ``logged``)."""

    @abstractmethod
    def _execute(self, sql: str) -> None:
        """The driver's own ``execute``: run one statement that returns no rows."""

    @abstractmethod
    def _query(self, sql: str) -> Rows:
        """The driver's own ``query``: run one query, return its columns."""

    def load(self, coo: CooArray, kind: str) -> Relation:
        """Make ``coo`` readable by SQL with values of ``kind``; return where it is.

        Logged at DEBUG with its duration (the statements loading runs are
        logged each on its own).
        """
        mark("load")
        start = time.perf_counter()
        relation = self._load(coo, kind)
        seconds = time.perf_counter() - start
        doing = self.doing
        note = "%s: %d nonzeros loaded in %.3f s"
        logger.debug(note, doing, coo.nnz, seconds, extra={"doing": doing, "seconds": seconds})
        return relation

    def execute(self, sql: str) -> None:
        """Run one statement that returns no rows (logged, with a progress bar if long)."""
        with self.running(sql):
            self._execute(sql)

    def query(self, sql: str) -> Rows:
        """Run one query; return its columns (logged, with a progress bar if long)."""
        with self.running(sql):
            return self._query(sql)

    def logged(self, sql: str) -> AbstractContextManager[None]:
        """Log ``sql`` (for ``doing``) at DEBUG around the block that runs it.

        Every statement einsql runs goes through here once: ``execute`` and
        ``query`` use it, and a driver running SQL another way (``COPY``,
        ``executemany``, describing a query) wraps that in it.
        """
        return statement(self.doing, sql)

    @contextmanager
    def running(self, sql: str) -> Iterator[None]:
        """Log ``sql`` and, where the database reports progress, show a bar while it runs."""
        poll = self.progress() if progress_wanted(sys.stderr) else None
        watch: AbstractContextManager[object] = (
            nullcontext() if poll is None else StatementProgress(poll, self.doing, progress_delay())
        )
        with self.logged(sql), watch:
            yield

    def run_statement(self, statement: exp.Expr) -> None:
        """Run one statement of a program's setup or teardown (a tree; see ``execute``).

        Drivers override this where a database keeps a temporary table better
        than its SQL text says (Spark checkpoints it).
        """
        self.execute(self.sql(statement))

    def progress(self) -> Callable[[], float] | None:
        """How far the running statement is, in percent (negative: unknown); None: never known.

        Called before a statement runs, when a progress bar may show; the
        function returned is called from another thread while it runs.
        """
        return None

    @abstractmethod
    def close(self, error: BaseException | None = None) -> None:
        """Drop what this driver made, end its transaction, close an owned connection.

        Args:
            error: the exception that ended the work, if any (the transaction
                is then rolled back rather than committed).

        """

    errors: tuple[type[BaseException], ...] = ()
    """The database's own exception types, which become :class:`einsql.DatabaseError`."""

    doing: str = "a statement"
    """What the statement being run is for (named when it fails)."""

    def describe(self, sql: str) -> list[tuple[str, str]] | None:
        """The name and SQL type of each column of a query (None: untyped, as SQLite)."""
        return None

    def column_types(self, table: Table) -> dict[str, str] | None:
        """The SQL type of each of ``table``'s mapped columns, read without a scan."""
        return self.types_of(table.name, list(dict.fromkeys((*table.axes, *table.values))))

    def types_of(self, name: str, columns: Sequence[str]) -> dict[str, str] | None:
        """The SQL type of each of ``columns`` of table ``name`` (a ``LIMIT 0`` query).

        None where the database has no column types (SQLite).
        """
        query = exp.select(*[exp.column(c) for c in columns]).from_(table_ref(name)).limit(0)
        self.doing = f"reading the column types of table {name!r}"
        described = self.describe(self.sql(query))
        if described is None:
            return None
        return dict(zip(columns, [sql_type for _, sql_type in described]))  # by position

    def discard(self, names: Sequence[str]) -> None:
        """Drop the temporary tables ``names`` after a failed statement."""
        for name in names:
            self.execute(self.sql(drop_table(name)))

    def run(
        self,
        program: Program,
        into: str | None = None,
        on_table: Callable[[str, float], None] | None = None,
        if_exists: str = "fail",
    ) -> Rows | None:
        """Run ``program``; return its rows, or store them as table ``into``.

        With ``if_exists="replace"`` an existing table ``into`` is replaced
        (see :meth:`store`).

        The program's temporary tables are dropped whatever happens (an
        interrupt too); a failure while dropping them never hides the error
        that stopped the program. ``on_table(name, seconds)`` is called after
        each table the setup creates.
        """
        mark("run")
        progress = Progress(sum(1 for s in program.setup if created_table(s) is not None))
        try:
            for statement in program.setup:
                start = time.perf_counter()
                self.doing = _purpose(statement)
                self.run_statement(statement)
                name = created_table(statement)
                if name is not None:
                    if on_table is not None:
                        on_table(name, time.perf_counter() - start)
                    progress.tick()
            rows = None
            if into is not None:
                self.store(program.query.copy(), into, if_exists)
            else:
                self.doing = "the query of the result"
                rows = self.result(program.query)
        except BaseException as error:
            quietly(partial(self.discard, program.temporaries), error)
            raise
        finally:
            progress.close()
        for statement in program.teardown:
            self.doing = _purpose(statement)
            self.run_statement(statement)
        return rows

    def store(self, query: exp.Query, into: str, if_exists: str) -> None:
        """``CREATE TABLE into AS query``; with ``"replace"``, in place of a table of that name.

        A replacement is built under a reserved name beside ``into`` first, then
        swapped in (:meth:`swap`): if the query fails, the old table is untouched.
        """
        if if_exists == "fail":
            hint = "which must not exist yet; if_exists='replace' replaces one that does"
            self.doing = f"{STORING} {into!r} ({hint})"
            self.execute(self.sql(create_table_as(into, query, temporary=False)))
            return
        *schema, _ = into.split(".")
        staging = ".".join([*schema, f"{self.prefix}new"])
        self.doing = f"{STORING} {staging!r}, to replace {into!r}"
        self.execute(self.sql(create_table_as(staging, query, temporary=False)))
        try:
            self.doing = f"replacing table {into!r} by the new result"
            self.swap(staging, into)
        except BaseException as error:
            quietly(partial(self.discard, [staging]), error)
            raise

    def swap(self, staging: str, into: str) -> None:
        """Drop table ``into`` and rename ``staging`` to it, in one transaction.

        Drivers that run inside a transaction block (PostgreSQL, SQLite) are
        atomic as they are; others override this to open one.
        """
        self.execute(self.sql(drop_table(into)))
        self.execute(self.sql(rename_table(staging, into)))

    def translate(self, error: BaseException) -> BaseException:
        """The einsql error for a database's ``error`` (others are returned as they are).

        An integer overflow becomes :class:`einsql.ExactnessError`; anything
        else the database raised a :class:`einsql.DatabaseError` naming the
        statement (``doing``), credentials redacted.
        """
        if isinstance(error, EinsqlError) or not isinstance(error, self.errors):
            return error
        message = first_line(error)
        if _FLOAT_RANGE.search(message):
            return DatabaseError(
                f"{self.doing} failed on {self.dialect.name}: a float value overflowed or "
                f"underflowed ({message}); {self.dialect.name} raises where NumPy gives inf or 0, "
                "so scale the values, or use duckdb or sqlite"
            )
        if _OVERFLOW.search(message):
            return ExactnessError(self._overflow_advice(message))
        return DatabaseError(f"{self.doing} failed on {self.dialect.name}: {message}")

    def _overflow_advice(self, message: str) -> str:
        """What to do about an integer that overflowed: storing one, or computing one."""
        if self.doing.startswith(STORING):
            return (
                f"an integer result does not fit the int64 (BIGINT) value column of the into= "
                f"table ({message}); use a float dtype, or fetch it (out='coo', 'arrow', "
                "'pandas'), which keeps integers exact"
            )
        return (
            f"an integer result does not fit {self.dialect.name}'s exact integer "
            f"types ({message}); use a float dtype, or postgres, whose numeric "
            "holds any size"
        )

    def fetch(self, table: Table, relation: Relation) -> Rows:
        """All rows of ``table`` with its columns renamed to the convention.

        Values are read as ``relation`` says (a ``DECIMAL`` column as the declared dtype).
        """
        names = axis_columns(table.ndim)
        columns = [exp.column(c).as_(n) for c, n in zip(table.axes, names)]
        columns += [
            read_value(exp.column(c), relation.stored, relation.kind, self.dialect).as_(n)
            for c, n in zip(table.values, value_columns(relation.kind))
        ]
        return self.result(exp.select(*columns).from_(table_ref(table.name)))

    def result(self, query: exp.Query) -> Rows:
        """Run the query of a result, which may have many rows; return its columns.

        Drivers with a faster way to read many rows than :meth:`query` override this.
        """
        return self.query(self.sql(query))

    def sql(self, tree: exp.Expr) -> str:
        """``tree`` as one line of this driver's SQL."""
        return self.dialect.render(tree, pretty=False, copy=False)


class TemporaryTableDriver(Driver):
    """A driver that loads operands into temporary tables inside one transaction block.

    ``close`` drops the loaded tables after success (a rollback removes them
    after a failure) and then calls ``end`` to commit or roll back.
    """

    loaded: list[str]
    """The temporary tables holding loaded operands."""

    @abstractmethod
    def end(self, error: BaseException | None) -> None:
        """Commit (or, after ``error``, roll back) the block; close an owned connection."""

    def create_temporary(self, name: str, columns: dict[str, tuple[str, np.ndarray]]) -> None:
        """``CREATE TEMPORARY TABLE name (column type, ...)`` for ``load_columns``' columns.

        The table is remembered, to be dropped on close.
        """
        definitions = [
            exp.ColumnDef(this=exp.to_identifier(c), kind=self.dialect.parse_type(t))
            for c, (t, _) in columns.items()
        ]
        create = exp.Create(
            this=exp.Schema(this=table_ref(name), expressions=definitions),
            kind="TABLE",
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        self.execute(self.sql(create))
        self.loaded.append(name)

    def close(self, error: BaseException | None = None) -> None:
        """Drop the loaded tables, then end the transaction block."""
        try:
            if error is None:
                self.doing = "dropping the loaded operands"
                for name in self.loaded:
                    self.execute(self.sql(exp.Drop(tables=[table_ref(name)], kind="TABLE")))
        except BaseException as failure:
            self.loaded.clear()
            quietly(partial(self.end, failure), failure)
            raise
        self.loaded.clear()
        self.end(error)


#: The NumPy type of each value kind's column (complex values are two float64 columns).
VALUE_DTYPES = {"bool": np.bool_, "int": np.int64, "float": np.float64}


def value_arrays(coo: CooArray, kind: str) -> dict[str, np.ndarray]:
    """The value column(s) of ``coo`` as ``kind``: ``val``, or ``val_re`` and ``val_im``.

    >>> value_arrays(CooArray(np.zeros((1, 0)), np.array([1 + 2j]), ()), "complex")
    {'val_re': array([1.]), 'val_im': array([2.])}
    """
    if kind == "complex":
        values = coo.values.astype(np.complex128)
        real, imaginary = COMPLEX_VALUES
        return {real: values.real.copy(), imaginary: values.imag.copy()}
    return {VALUE: stored_values(coo.values, kind).astype(VALUE_DTYPES[kind])}


def load_columns(coo: CooArray, kind: str, dialect: Dialect) -> dict[str, tuple[str, np.ndarray]]:
    """Column -> (SQL type in ``dialect``, values) of a table holding ``coo`` as ``kind``."""
    columns = {
        name: (dialect.axis_type(size), coo.coords[:, k])
        for k, (name, size) in enumerate(zip(axis_columns(len(coo.shape)), coo.shape))
    }
    for name, values in value_arrays(coo, kind).items():
        columns[name] = (dialect.value_types[kind], values)
    return columns


def column_array(values: Sequence[Any]) -> np.ndarray:
    """A column of Python values (from a DB-API cursor) as a NumPy array.

    NULL, which is how SQLite returns NaN, becomes NaN; integers too large for
    int64 (and ``Decimal`` sums) stay exact in an object array.

    >>> column_array([1.5, None]).tolist(), column_array([2**70]).dtype
    ([1.5, nan], dtype('O'))
    """
    array = np.array(values)
    if array.dtype == object and any(v is None for v in values):
        return np.array(values, dtype=np.float64)
    return array


def rows_from_tuples(names: Sequence[str], tuples: Sequence[Sequence[Any]]) -> Rows:
    """DB-API result tuples as columns.

    >>> rows_from_tuples(["i0", "val"], [(0, 2.5), (3, 1.0)])["val"].tolist()
    [2.5, 1.0]
    """
    if not tuples:
        return {name: np.empty(0, dtype=object) for name in names}
    return {name: column_array(column) for name, column in zip(names, zip(*tuples))}


def url_path(url: str) -> str:
    """The file a URL names, SQLAlchemy style (``///relative``, ``////absolute``); none: memory.

    >>> url_path("sqlite:///data.db"), url_path("duckdb:////tmp/x.db"), url_path("duckdb://")
    ('data.db', '/tmp/x.db', ':memory:')
    """
    rest = url.partition("://")[2]
    return (rest[1:] if rest.startswith("/") else rest) or ":memory:"
