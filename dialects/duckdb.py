"""DuckDB, the embedded default.

DuckDB inlines a CTE that is referenced once and may then reorder joins across
the whole query; ``AS MATERIALIZED`` keeps each contraction step a unit, as the
plan chose it. A single statement deeper than about 1,000 nested expressions
fails ("Max expression depth limit of 1000 exceeded"), so long plans run staged.
Integer sums are exact up to ``HUGEINT`` (2**127 - 1). The recursive term of
``WITH RECURSIVE`` may aggregate, so an iteration keeps its state as rows.

>>> DIALECT.name, DIALECT.materialize_steps, DIALECT.exact_int_type(2**100)
('duckdb', True, 'HUGEINT')
"""

from __future__ import annotations

from einsql.backends import Backend
from einsql.dialect import INT64_MAX, Dialect


class DuckDB(Dialect):
    """DuckDB adapter."""

    name = "duckdb"
    sqlglot_dialect = "duckdb"
    materialize_steps = True
    max_statement_steps = 64
    exact_int_types = ((INT64_MAX, "BIGINT"), (2**127 - 1, "HUGEINT"))
    iteration_forms = ("rows", "loop")  # aggregates are allowed in the recursive term
    max_recursive_step_ctes = 950  # the expression depth limit: 944 CTEs ran, 1,254 failed
    client_sum_rows = 2**16  # measured: see the README's "Summing in the client"
    client_sum_ratio = 2.0
    client_scatter_ratio = 16.0


DIALECT = DuckDB()

BACKEND = Backend(
    name="duckdb",
    driver="einsql.drivers.duckdb",
    schemes=("duckdb",),
    sqlalchemy=(("duckdb", "duckdb_engine"),),
    modules=("duckdb",),
    memory_url="duckdb://",
    priority=0,  # the default: embedded, nothing to set up
)
