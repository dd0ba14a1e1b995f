"""PostgreSQL (12 or later).

Since PostgreSQL 12 a CTE referenced once is inlined unless it is written ``AS
MATERIALIZED``; inlined, the planner searches join orders across the whole chain
(measured: over 4 minutes to plan 1,000 inlined CTEs, 0.3 s materialized), so
every step is materialized. Identifiers longer than 63 bytes would be truncated
silently; einsql refuses them instead. ``SUM`` of ``bigint`` is ``numeric``, and
products whose magnitude could pass 2**63 are computed in ``numeric``, so integer
results are exact at any size.

Every einsql transaction block runs with ``jit`` off and ``work_mem`` at 256 MB
(``settings``, local to the block). With the default 4 MB the hash aggregate of a
5,000² sparse product (1.9e6 groups) spilled to disk in 141 batches: its query
took 4.3 s, 2.8 s at 256 MB; ``jit`` compiled that query for 0.2 s, and a
Newton-CG step's hundreds of CTEs for 24 s of 26 s.

The recursive term of ``WITH RECURSIVE`` may neither aggregate nor read the
recursive CTE inside a subquery; it may run a correlated subquery on a column of
its row. So an iteration keeps one row per step, its state a ``float8[]``, and
computes the next array in one correlated subquery over ``unnest`` of the last.

>>> DIALECT.name, DIALECT.max_identifier_bytes, DIALECT.exact_int_type(10**85)
('postgres', 63, 'NUMERIC')
>>> DIALECT.render(DIALECT.parse_type("DOUBLE PRECISION"))
'DOUBLE PRECISION'
"""

from __future__ import annotations

from sqlglot import exp

from einsql.backends import Backend
from einsql.convention import VALUE
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
    iteration_forms = ("packed", "loop")
    settings = (("jit", "off"), ("work_mem", "256MB"))
    max_identifier_bytes = 63

    def pack(self, rows: str) -> exp.Select:
        """``SELECT ARRAY(SELECT val FROM rows ORDER BY k)``.

        >>> print(DIALECT.render(DIALECT.pack("nxt"), pretty=False))
        SELECT ARRAY(SELECT "val" FROM "nxt" ORDER BY "k")
        """
        ordered = (
            exp.select(exp.column(VALUE))
            .from_(exp.to_identifier(rows))
            .order_by(exp.Ordered(this=exp.column("k"), nulls_first=False))
        )
        return exp.select(exp.Array(expressions=[ordered]))

    def unpack(self, packed: exp.Expr, alias: str) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
        """``unnest(packed) WITH ORDINALITY AS alias(v, k)``; positions count from 1 there."""
        item = exp.Unnest(
            expressions=[packed],
            alias=exp.TableAlias(this=exp.to_identifier(alias), columns=[exp.to_identifier("v")]),
            offset=exp.to_identifier("k"),
        )
        position = exp.Sub(this=exp.column("k", table=alias), expression=exp.Literal.number(1))
        return item, position, exp.column("v", table=alias)


DIALECT = Postgres()

BACKEND = Backend(
    name="postgres",
    driver="einsql.drivers.postgres",
    schemes=("postgresql", "postgres", "postgresql+psycopg"),
    sqlalchemy=(("postgresql", "psycopg"),),
    modules=("psycopg",),
    dsn=True,
    test_server="EINSQL_TEST_POSTGRES",
)
