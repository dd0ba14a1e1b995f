"""SQLite (3.35 or later, for ``AS MATERIALIZED``), as Python's ``sqlite3`` ships it.

SQLite has neither ``generate_series`` (it is an extension of the shell only) nor
NaN: a NaN becomes NULL when stored or computed, and ``SUM`` skips NULLs. So
index ranges are recursive CTEs, NaN is written as NULL and every sum is NULL
when one of its terms is (``nan_is_null``). Infinities are the overflowing
literals ``9e999`` and ``-9e999``. Booleans are the integers 0 and 1, and
integers are 64-bit: a result that cannot be held exactly is an error.

The recursive term of ``WITH RECURSIVE`` may not aggregate, but may run a
correlated subquery on a column of its row: an iteration can keep one row per
step, its state a JSON object of exact decimal strings read back with
``json_each``. That one statement is what ``to_sql`` writes. But SQLite builds
no automatic index inside a correlated subquery, so each join there is a nested
scan (measured: logistic regression on 400 rows, 10 steps, 16 s in one statement
against 0.6 s as a statement per step); run, an iteration loops (with a warning).

>>> DIALECT.render(DIALECT.float_special("-inf", DIALECT.parse_type("REAL")))
'-9e999'
>>> DIALECT.exact_int_type(2**63)
"""

from __future__ import annotations

from sqlglot import exp

from einsql.dialect import INT64_MAX, Dialect


class SQLite(Dialect):
    """SQLite adapter."""

    name = "sqlite"
    sqlglot_dialect = "sqlite"
    materialize_steps = True
    max_statement_steps = 64
    index_type = "INTEGER"
    wide_index_type = "INTEGER"
    value_types = {  # noqa: RUF012 - read-only data
        "bool": "INTEGER",
        "int": "INTEGER",
        "float": "REAL",
        "complex": "REAL",
    }
    nan_is_null = True
    values_column_aliases = False
    explain_analyze = "EXPLAIN QUERY PLAN"  # SQLite has no EXPLAIN ANALYZE: a plan, no timings
    exact_int_types = ((INT64_MAX, "INTEGER"),)
    iteration_forms = ("loop", "packed")  # packed is quadratic: no automatic index there
    packed_type = "TEXT"

    def pack(self, rows: str) -> exp.Select:
        """A JSON object from position to the value's 17 significant digits (exact).

        SQLite's own JSON numbers keep 15 digits and write infinity as invalid
        JSON, so each value goes in as a string; NULL (NaN) stays null.

        >>> print(DIALECT.render(DIALECT.pack("nxt"), pretty=False))
        SELECT JSON_GROUP_OBJECT("k", CASE WHEN "val" IS NULL THEN NULL ELSE \
PRINTF('%.17g', "val") END) FROM "nxt"
        """
        val = exp.column("val")
        digits = exp.Anonymous(this="PRINTF", expressions=[exp.Literal.string("%.17g"), val])
        text = exp.Case(
            ifs=[exp.If(this=exp.Is(this=val.copy(), expression=exp.null()), true=exp.null())]
        )
        entry = exp.JSONObjectAgg(expressions=[exp.column("k"), text.else_(digits)])
        return exp.select(entry).from_(exp.to_identifier(rows))

    def unpack(self, packed: exp.Expr, alias: str) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
        """``json_each(packed) AS alias``: keys are positions, values 17-digit strings."""
        item = exp.Table(
            this=exp.Anonymous(this="JSON_EACH", expressions=[packed]),
            alias=exp.TableAlias(this=exp.to_identifier(alias)),
        )
        position = exp.Cast(this=exp.column("key", table=alias), to=self.parse_type("INTEGER"))
        text = exp.column("value", table=alias)
        real = exp.Cast(this=text, to=self.parse_type("REAL"))
        infinities = [
            exp.If(
                this=text.copy().eq(exp.Literal.string(spelled)),
                true=self.float_special(key, real.to),
            )
            for spelled, key in (("Inf", "inf"), ("-Inf", "-inf"))
        ]
        return item, position, exp.Case(ifs=infinities).else_(real.copy())

    def float_special(self, key: str, float_type: exp.DataType) -> exp.Expression:
        """NaN is NULL; the infinities are literals too large for a double."""
        if key == "nan":
            return exp.Cast(this=exp.null(), to=float_type)
        infinity = exp.Literal.number("9e999")
        return infinity if key == "inf" else exp.Neg(this=infinity)

    def is_finite(self, value: exp.Expression) -> exp.Expr:
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
