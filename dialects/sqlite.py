"""SQLite (3.35 or later, for ``AS MATERIALIZED``), as Python's ``sqlite3`` ships it.

SQLite has neither ``generate_series`` (it is an extension of the shell only) nor
NaN: a NaN becomes NULL when stored or computed, and ``SUM`` skips NULLs. So
index ranges are recursive CTEs, NaN is written as NULL and every sum is NULL
when one of its terms is (``nan_is_null``). Infinities are the overflowing
literals ``9e999`` and ``-9e999``. Booleans are the integers 0 and 1, and
integers are 64-bit: a result that cannot be held exactly is an error.

The recursive term of ``WITH RECURSIVE`` may not aggregate, so an iteration
runs as a statement per step (with a warning). The PostgreSQL form, one row per
step holding a packed state (JSON here) updated by a correlated subquery, does
run, but measured too slow to offer: SQLite builds no automatic index inside a
correlated subquery (logistic regression on 400 rows, 10 steps: 16 s against
0.6 s as a loop) and there evaluates a CTE once per reference, so a Newton
step's elimination, each pivot reading the last four times, did not finish.

>>> DIALECT.render(DIALECT.float_special("-inf", DIALECT.parse_type("REAL")))
'-9e999'
>>> DIALECT.exact_int_type(2**63)
"""

from __future__ import annotations

from sqlglot import exp

from einsql.backends import Backend
from einsql.dialect import INT64_MAX, Dialect


class SQLite(Dialect):
    """SQLite adapter."""

    name = "sqlite"
    sqlglot_dialect = "sqlite"
    materialize_steps = True
    max_statement_steps = 64
    inline_rows = 0  # loading by executemany is as cheap (10 tiny operands: 10.6 ms, inlined 12.2)
    index_type = "INTEGER"
    wide_index_type = "INTEGER"
    value_types = {  # noqa: RUF012 - read-only data
        "bool": "INTEGER",
        "int": "INTEGER",
        "float": "REAL",
        "complex": "REAL",
    }
    nan_is_null = True
    dynamic_types = True
    values_column_aliases = False
    explain_analyze = "EXPLAIN QUERY PLAN"  # SQLite has no EXPLAIN ANALYZE: a plan, no timings
    exact_int_types = ((INT64_MAX, "INTEGER"),)
    iteration_forms = ("loop",)
    stages_every_step_cte = True
    max_solve_size = 32  # 44 pivots passed SQLite's expression depth limit of 1,000

    def float_special(self, key: str, float_type: exp.DataType) -> exp.Expression:
        """NaN is NULL; the infinities are literals too large for a double."""
        if key == "nan":
            return exp.Cast(this=exp.null(), to=float_type)
        infinity = exp.Literal.number("9e999")
        return infinity if key == "inf" else exp.Neg(this=infinity)

    def is_finite(self, value: exp.Expr) -> exp.Expr:
        """``x - x = 0``, which is NULL for NaN (NULL) and ``inf - inf``: so false then."""
        return exp.Coalesce(this=super().is_finite(value), expressions=[exp.false()])

    def index_range(self, size: int, alias: str) -> exp.Expression:
        """The integers ``0 .. size - 1`` from a recursive CTE, as ``alias(v)``.

        >>> print(DIALECT.render(DIALECT.index_range(3, "r"), pretty=False))
        (WITH RECURSIVE "r"("v") AS (SELECT 0 UNION ALL SELECT "v" + 1 FROM "r" WHERE "v" < 2) \
SELECT "v" FROM "r") AS "r"
        """
        v = exp.column("v")
        step = (
            exp.select(exp.Add(this=v, expression=exp.Literal.number(1)))
            .from_(alias)
            .where(exp.LT(this=v.copy(), expression=exp.Literal.number(size - 1)))
        )
        seed = exp.select(exp.Literal.number(0))
        body = exp.union(seed if size else seed.where(exp.false()), step, distinct=False)
        series = exp.select("v").from_(alias).with_(f"{alias}(v)", as_=body, recursive=True)
        return exp.Subquery(this=series, alias=exp.TableAlias(this=exp.to_identifier(alias)))


DIALECT = SQLite()

BACKEND = Backend(
    name="sqlite",
    driver="einsql.drivers.sqlite",
    schemes=("sqlite",),
    sqlalchemy=(("sqlite", "pysqlite"),),
    modules=("sqlite3",),
    memory_url="sqlite://",
)
