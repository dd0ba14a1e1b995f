"""Apache Spark SQL (4.1 or later), in local mode, on a cluster or over Spark Connect.

Spark has no ``AS MATERIALIZED``, but it neither inlines a CTE into a search
over join orders (join reordering is off unless the cost-based optimizer is
turned on), so the steps of one statement keep the plan's order as plain CTEs.
Staged steps are cached temporary views (``CACHE TABLE name AS SELECT ...``,
computed eagerly and kept in executor memory; ``DROP TABLE`` releases them):
``CREATE TEMPORARY TABLE ... AS`` is refused. A cached view is resolved by name
whenever it is read, so the views of a staged plan are dropped together at the
end, the last made first (``drops_early``). Spark copies every deterministic CTE
into each query reading it, so an expression (a derivative) whose CTEs are read
twice runs staged, each such CTE a cached view, and so does an iteration's step;
a cached view also cuts the lineage a long plan would otherwise build up. Index
ranges are the ``range`` table function (``sequence(0, n - 1)`` has two
elements when ``n`` is 0). A cached view takes no ``INSERT``, so an iteration
keeps each step's view and reads them together at the end.

``SUM`` of ``BIGINT`` stays ``BIGINT`` in Spark (DuckDB and PostgreSQL widen
it), so an integer step whose *sum* could pass 2**63 computes its products in
``DECIMAL(38, 0)``; past 10**38 the plan is refused (``ExactnessError``).
einsql runs its statements with ANSI mode on (the driver sets it and puts it
back), so an overflow raises instead of wrapping to a wrong answer.

>>> DIALECT.name, DIALECT.materialize_steps, DIALECT.exact_int_type(2**100)
('spark', False, 'DECIMAL(38, 0)')
>>> print(DIALECT.render(DIALECT.index_range(0, "r"), pretty=False))
RANGE(0, 0) AS `r`(`v`)
"""

from __future__ import annotations

from sqlglot import exp

from einsql.backends import Backend
from einsql.dialect import INT64_MAX, Dialect
from einsql.sql import number, table_ref


class Spark(Dialect):
    """Spark SQL adapter."""

    name = "spark"
    sqlglot_dialect = "spark"
    materialize_steps = False  # no MATERIALIZED; Spark keeps the CTEs' join order
    max_statement_steps = 64
    exact_int_types = ((INT64_MAX, "BIGINT"), (10**38 - 1, "DECIMAL(38, 0)"))
    sum_widens = False
    iteration_forms = ("loop",)
    insertable_temporaries = False  # a cached view takes no INSERT
    inlines_shared_ctes = True  # Spark's InlineCTE copies every deterministic CTE
    drops_early = False  # a cached view reads the views it was made from by name
    explain_analyze = "EXPLAIN FORMATTED"  # Spark's plan; it does not run the query

    def index_range(self, size: int, alias: str) -> exp.Expression:
        """``range(0, size) AS alias(v)``: the integers ``0 .. size - 1``, none for 0."""
        series = exp.Anonymous(this="range", expressions=[number(0), number(size)])
        columns = [exp.to_identifier("v")]
        return exp.Table(
            this=series, alias=exp.TableAlias(this=exp.to_identifier(alias), columns=columns)
        )

    def temporary_table(self, name: str, query: exp.Query) -> exp.Expr:
        """``CACHE TABLE name AS query``: a temporary view, computed now and kept in memory.

        >>> print(DIALECT.render(DIALECT.temporary_table("t", exp.select("1")), pretty=False))
        CACHE TABLE `t` AS SELECT 1
        """
        return exp.Cache(this=table_ref(name), expression=query)


DIALECT = Spark()

BACKEND = Backend(
    name="spark",
    driver="einsql.drivers.spark",
    schemes=("sc", "spark"),
    modules=("pyspark",),
    bare=r"local(\[(\d+|\*)(,\s*\d+)?\])?",  # Spark's local masters: local, local[2], local[*]
    test_server="EINSQL_TEST_SPARK",
    test_marker="spark",  # the suite's Spark part (EINSQL_TEST_SPARK_ALL=1: every test)
    priority=200,  # never the default: a session takes seconds to start
)
