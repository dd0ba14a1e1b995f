"""Dialect adapters: what differs between databases in the SQL text einsql writes.

An adapter is data first: capability flags as class attributes, each with a
one-line docstring, plus small overrides. Adapters live in ``einsql.dialects``
(the top-level ``dialects/`` folder) and are loaded by name, so the core never
imports them statically.

>>> load_dialect("duckdb").name
'duckdb'
>>> load_dialect("trino").executable
False
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from sqlglot import exp

from einsql.backends import names as backend_names
from einsql.errors import OperandError, OptionError
from einsql.names import check_table_name
from einsql.sql import binary, building, create_table_as

if TYPE_CHECKING:
    from einsql.operands import Table

    #: Adapters with a driver (a ``BACKEND``), each tested end to end: see ``__getattr__``.
    DIALECTS: tuple[str, ...]
else:

    def __getattr__(name: str) -> tuple[str, ...]:
        """``DIALECTS``, read from the backend records on first use (adapters import this module).

        >>> import einsql.dialect
        >>> einsql.dialect.DIALECTS
        ('duckdb', 'postgres', 'sqlite', 'spark')
        """
        if name == "DIALECTS":
            return backend_names()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: sqlglot dialects ``to_sql`` also writes, as text only: the test suite does not run it.
TEXT_DIALECTS = ("trino", "bigquery", "snowflake")

#: The largest magnitude a signed 64-bit integer holds.
INT64_MAX = 2**63 - 1

#: Axes at least this long use the dialect's wide index type.
WIDE_INDEX = 2**31 - 1


class Dialect:
    """The defaults every adapter starts from (ANSI SQL with common extensions)."""

    name: str = "ansi"
    """einsql's name for the dialect."""

    sqlglot_dialect: str = ""
    """The sqlglot dialect that renders the text."""

    materialize_steps: bool = True
    """Emit each step ``AS MATERIALIZED`` so the planner keeps the contraction order."""

    max_statement_steps: int = 64
    """Plans with more steps, and expressions with more CTEs, run as staged statements."""

    inline_rows: int = 64
    """Array operands of at most this many nonzeros ride in the statement as ``VALUES``
    instead of being loaded one by one (0: always loaded)."""

    client_sum_rows: float = 0
    """The fewest estimated products of a fetched result's last step for which it runs as
    join and product only, its duplicates summed in the client (0: never; see
    :mod:`einsql.duplicates`)."""

    client_sum_ratio: float = 0
    """The most estimated products per result nonzero for which the client sums them:
    past it, the database's ``GROUP BY`` shrinks the rows enough to pay for itself."""

    client_scatter_ratio: float = 0
    """The same for float sums scattered into a dense array (few cells per product),
    which need no sort."""

    index_type: str = "INT"
    """SQL type of axis columns for axes shorter than 2**31."""

    wide_index_type: str = "BIGINT"
    """SQL type of axis columns for longer axes."""

    value_types: dict[str, str] = {  # noqa: RUF012 - read-only data
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE",
        "complex": "DOUBLE",
    }
    """SQL type of the value column(s) for each value kind."""

    float_specials: dict[str, str] = {  # noqa: RUF012 - read-only data
        "nan": "NaN",
        "inf": "Infinity",
        "-inf": "-Infinity",
    }
    """How NaN and the infinities are spelled inside ``CAST('...' AS DOUBLE)``."""

    nan_is_null: bool = False
    """The database stores NaN as NULL, so sums must propagate NULL to stay NaN."""

    dynamic_types: bool = False
    """Columns have no fixed type (SQLite): a value's own type is checked, not its column's."""

    exact_int_types: tuple[tuple[int, str], ...] = ((INT64_MAX, "BIGINT"),)
    """Integer types by the largest magnitude each holds exactly, narrowest first."""

    sum_widens: bool = True
    """``SUM`` of an integer type returns a wider one (DuckDB's ``HUGEINT``, PostgreSQL's
    ``numeric``); where not (Spark), a step's products take the type its sum needs."""

    complex_columns: bool = True
    """Complex values live in two real columns (``val_re``, ``val_im``); no native type."""

    iteration_forms: tuple[str, ...] = ("rows", "loop")
    """How an iteration carries its state, the default first (see ``einsql.iteration_sql``).

    ``rows``: one ``WITH RECURSIVE`` statement, a row per entry of the state
    (the recursive term aggregates); ``packed``: one statement, a row per
    iteration holding the state packed into one value (see ``pack``);
    ``loop``: a statement per step, run by the driver."""

    max_recursive_step_ctes: int | None = None
    """The most CTEs one step of a one-statement iteration holds; a longer step runs, unless
    a form is asked for, as a ``loop`` of staged statements (None: no limit). DuckDB: its
    expression depth limit of 1,000 failed a Newton-CG step of 1,254 CTEs (40
    conjugate-gradient steps); one of 944 (30) ran."""

    settings: tuple[tuple[str, str], ...] = ()
    """Database settings every einsql transaction block runs under, local to it: gone when
    einsql's own transaction ends, restored when it ran inside the caller's (the driver sets
    them). PostgreSQL: ``jit`` off (it compiled a Newton-CG step's hundreds of CTEs for 24 s
    of its 26 s) and a larger ``work_mem`` (see ``dialects/postgres.py``)."""

    inlines_shared_ctes: bool = False
    """The database copies a CTE into every query reading it, however often (Spark inlines
    every deterministic CTE): an expression whose CTEs are read twice runs staged, each
    such CTE a temporary table, or its plan would grow exponentially with depth."""

    stages_every_step_cte: bool = False
    """An iteration step runs staged, each of its CTEs a temporary table of its own (SQLite:
    its planner takes a CTE that aggregates for a few rows and joins a table to it by a full
    scan per row, never an automatic index; a Newton-CG step on 20,000 x 2,000 took 110 s as
    one statement and 2.4 s a table per CTE)."""

    drops_early: bool = True
    """A staged plan may drop a temporary table once the tables reading it are made; where
    not (Spark: a cached view is resolved by name whenever it is read), all are dropped
    at the end, the last made first."""

    insertable_temporaries: bool = True
    """Rows can be inserted into a temporary table; where not (Spark's cached views), a
    loop keeps each step's table and reads them together at the end."""

    max_solve_size: int = 64
    """The largest linear system a solve (a Newton step) eliminates: one CTE per row."""

    max_identifier_bytes: int | None = None
    """The longest identifier in UTF-8 bytes; longer names are an error (None: no limit)."""

    values_column_aliases: bool = True
    """A ``VALUES`` list names its columns in its alias (``AS v(a, b)``); else column1, ...."""

    explain_analyze: str = "EXPLAIN ANALYZE"
    """The command that runs a query and reports the database's plan with timings."""

    executable: bool = True
    """einsql has a driver for this database and its test suite runs the SQL."""

    function_sql: Mapping[str, Callable[..., exp.Expr]] = MappingProxyType({})
    """SQL of elementwise functions that differ here, by name (see ``einsql.functions``)."""

    def axis_type(self, size: int) -> str:
        """The SQL type of the index column of an axis of ``size``.

        >>> Dialect().axis_type(10), Dialect().axis_type(2**40)
        ('INT', 'BIGINT')
        """
        return self.index_type if size < WIDE_INDEX else self.wide_index_type

    def render(self, tree: exp.Expr, pretty: bool = True, copy: bool = True) -> str:
        """Render a sqlglot tree as SQL text in this dialect, identifiers quoted.

        ``copy=False`` lets sqlglot's dialect transforms work on ``tree`` itself
        (they are idempotent), which saves copying large trees before running them.
        """
        with building():
            return str(
                tree.sql(dialect=self.sqlglot_dialect, pretty=pretty, identify=True, copy=copy)
            )

    def parse_type(self, name: str) -> exp.DataType:
        """A SQL type name as a sqlglot type (a fresh copy of a cached parse)."""
        return _parse_type(name, self.sqlglot_dialect).copy()

    def index_range(self, size: int, alias: str) -> exp.Expression:
        """A table ``alias(v)`` of the integers ``0 .. size - 1``."""
        series = exp.ExplodingGenerateSeries(
            start=exp.Literal.number(0), end=exp.Literal.number(size - 1)
        )
        columns = [exp.to_identifier("v")]
        return exp.Table(
            this=series, alias=exp.TableAlias(this=exp.to_identifier(alias), columns=columns)
        )

    def temporary_table(self, name: str, query: exp.Query) -> exp.Expr:
        """A statement keeping ``query``'s rows as ``name`` until dropped (``DROP TABLE``).

        >>> print(Dialect().temporary_table("t", exp.select("1")).sql())
        CREATE TEMPORARY TABLE "t" AS SELECT 1
        """
        return create_table_as(name, query)

    def float_special(self, key: str, float_type: exp.DataType) -> exp.Expression:
        """NaN (``key="nan"``) or an infinity (``"inf"``, ``"-inf"``) as a typed literal."""
        return exp.Cast(this=exp.Literal.string(self.float_specials[key]), to=float_type)

    def sum_values(self, value: exp.Expr) -> exp.Expr:
        """``SUM(value)``; where NaN is NULL, NULL if any term is (see ``nan_is_null``)."""
        total = exp.Sum(this=value)
        if not self.nan_is_null:
            return total
        complete = exp.EQ(this=exp.Count(this=value.copy()), expression=exp.Count(this=exp.Star()))
        return exp.Case(ifs=[exp.If(this=complete, true=total)])

    def exact_int_type(self, bound: int) -> str | None:
        """The narrowest integer type holding every magnitude up to ``bound``, if any.

        >>> Dialect().exact_int_type(2**40), Dialect().exact_int_type(2**70)
        ('BIGINT', None)
        """
        return next((name for limit, name in self.exact_int_types if bound <= limit), None)

    def check_table_name(self, name: str, what: str) -> None:
        """Check a dot-separated table name: no reserved or empty part, none too long.

        Raises:
            OperandError: see :func:`einsql.names.check_table_name` and ``check_length``.

        """
        check_table_name(name, what)
        for part in name.split("."):
            self.check_length(part, what)

    def check_table(self, table: Table, what: str) -> None:
        """Check a table operand's names in this database (``Table`` checked them as names)."""
        for part in table.name.split("."):
            self.check_length(part, what)
        for column in (*table.axes, *table.values):
            self.check_length(column, f"a column of {what}")

    def check_length(self, name: str, what: str) -> None:
        """Raise if ``name`` is longer than ``max_identifier_bytes``.

        Raises:
            OperandError: the database would reject or silently truncate the name.

        """
        limit = self.max_identifier_bytes
        if limit is not None and len(name.encode()) > limit:
            raise OperandError(
                f"{what} is named {name!r}, {len(name.encode())} bytes long; {self.name} "
                f"truncates identifiers longer than {limit} bytes, so use a shorter name"
            )

    def is_finite(self, value: exp.Expr) -> exp.Expr:
        """True where ``value`` is neither NaN nor infinite (``x - x = 0`` only then)."""
        difference = binary(exp.Sub, value.copy(), value.copy())
        return exp.EQ(this=exp.paren(difference), expression=exp.Literal.number(0))

    def pack(self, rows: str) -> exp.Select:
        """A query of one value: the ``k, val`` rows of the CTE ``rows`` packed.

        Positions ``k`` run from 0 without gaps; ``unpack`` gives the rows back.

        Raises:
            OptionError: the dialect has no packed form.

        """
        raise OptionError(f"{self.name} has no packed iteration form")

    def unpack(self, packed: exp.Expr, alias: str) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
        """A ``FROM`` item listing the entries of a packed state, as ``alias``.

        Returns:
            The item, then the expressions of an entry's position and value.

        Raises:
            OptionError: the dialect has no packed form.

        """
        raise OptionError(f"{self.name} has no packed iteration form")

    def __repr__(self) -> str:
        return f"<einsql dialect {self.name}>"


@cache
def _parse_type(name: str, dialect: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect)


class TextDialect(Dialect):
    """A sqlglot dialect einsql writes but does not run (see ``TEXT_DIALECTS``).

    Plain CTEs (no ``AS MATERIALIZED``, which these engines lack) and sqlglot's
    own type and function spellings.
    """

    materialize_steps = False
    executable = False
    value_types = {  # noqa: RUF012 - read-only data
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE",
        "complex": "DOUBLE",
    }

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlglot_dialect = name

    def parse_type(self, name: str) -> exp.DataType:
        """Types are spelled the standard way and rendered by sqlglot for the target."""
        return _parse_type(name, "").copy()


def load_dialect(name: str) -> Dialect:
    """The adapter called ``name`` (or a text-only dialect from ``TEXT_DIALECTS``).

    The first load renders a small statement under a lock, so sqlglot's
    generator for the dialect is fully built before threads can use it.

    Raises:
        OptionError: no adapter has that name.

    """
    with _LOADING:
        return _load_dialect(name)


#: Held while a dialect loads (sqlglot builds its generators lazily, not thread-safely).
_LOADING = threading.Lock()


@cache
def _load_dialect(name: str) -> Dialect:
    if name in TEXT_DIALECTS:
        dialect: Dialect = TextDialect(name)
    elif name in backend_names():
        dialect = importlib.import_module(f"einsql.dialects.{name}").DIALECT
    else:
        raise OptionError(
            f"unknown dialect {name!r}; use one of {', '.join(backend_names())} "
            f"(or, as text only, {', '.join(TEXT_DIALECTS)})"
        )
    warm = exp.select(exp.Cast(this=exp.Literal.number(1), to=dialect.parse_type("DOUBLE")))
    dialect.render(warm.with_("w", as_=exp.select(exp.Literal.number(1)), materialized=True))
    return dialect
