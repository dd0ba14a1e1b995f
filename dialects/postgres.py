"""PostgreSQL (12 or later).

Since PostgreSQL 12 a CTE referenced once is inlined unless it is written ``AS
MATERIALIZED``; inlined, the planner searches join orders across the whole chain
(measured: over 4 minutes to plan 1,000 inlined CTEs, 0.3 s materialized), so
every step is materialized. Identifiers longer than 63 bytes would be truncated
silently; einsql refuses them instead. ``SUM`` of ``bigint`` is ``numeric``, and
products whose magnitude could pass 2**63 are computed in ``numeric``, so integer
results are exact at any size.

>>> DIALECT.name, DIALECT.max_identifier_bytes, DIALECT.exact_int_type(10**85)
('postgres', 63, 'NUMERIC')
>>> DIALECT.render(DIALECT.parse_type("DOUBLE PRECISION"))
'DOUBLE PRECISION'
"""

from __future__ import annotations

from einsql.dialect import INT64_MAX, Dialect


class Postgres(Dialect):
    """PostgreSQL adapter."""

    name = "postgres"
    sqlglot_dialect = "postgres"
    materialize_steps = True
    max_statement_steps = 64
    value_types = {  # noqa: RUF012 - read-only data
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "complex": "DOUBLE PRECISION",
    }
    exact_int_types = ((INT64_MAX, "BIGINT"), (10**131072 - 1, "NUMERIC"))
    recursive_aggregates = False
    max_identifier_bytes = 63


DIALECT = Postgres()
