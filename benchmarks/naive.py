r"""The naive baseline: the published query shape, written as a user would by hand.

One statement; one plain CTE per pairwise contraction of opt_einsum's path, in
the shape of *Efficient and Portable Einstein Summation in SQL* (SIGMOD 2023)::

    WITH t0 AS (SELECT a0.i0 AS i0, a1.i1 AS i1, SUM(a0.val * a1.val) AS val
                FROM a0, a1 WHERE a0.i1 = a1.i0 GROUP BY a0.i0, a1.i1), ...
    SELECT * FROM tN

It reads the same tables einsql reads (no ``VALUES``), but nothing else is
done for it: no labels summed before a join, no ``MATERIALIZED``, no staging
of long plans. It is a peer in the benchmark, not part of einsql, so it is
built as text, as a user would write it.

>>> sql = naive_sql("ij,jk->ik", [(2, 3), (3, 4)], [(0, 1)], ["a", "b"])
>>> print(sql.replace(" FROM", "\nFROM", 1))
WITH t0 AS (SELECT x1.i0 AS i0, x0.i1 AS i1, SUM(x0.val * x1.val) AS val
FROM b AS x0, a AS x1 WHERE x0.i0 = x1.i1 GROUP BY x1.i0, x0.i1)
SELECT * FROM t0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import opt_einsum


def naive_sql(
    equation: str, shapes: Sequence[Sequence[int]], path: Any, tables: Sequence[str]
) -> str:
    """One ``WITH`` statement contracting ``tables`` along ``path``, as the paper writes it."""
    _, info = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=list(path))
    live = list(tables)
    ctes = []
    for s, (positions, _, step, *_) in enumerate(info.contraction_list):
        inputs = [live.pop(p) for p in positions]
        ctes.append(f"t{s} AS ({_step_sql(step, inputs)})")
        live.append(f"t{s}")
    return f"WITH {', '.join(ctes)}\nSELECT * FROM {live[0]}"


def _step_sql(step: str, inputs: Sequence[str]) -> str:
    """One contraction ``step`` (``"ab,bc->ac"``) over the tables ``inputs``."""
    terms, output = step.split("->")
    first: dict[str, str] = {}
    where = []
    for k, labels in enumerate(terms.split(",")):
        for axis, label in enumerate(labels):
            column = f"x{k}.i{axis}"
            if label in first:
                where.append(f"{first[label]} = {column}")
            else:
                first[label] = column
    product = " * ".join(f"x{k}.val" for k in range(len(inputs)))
    summed = set(first) - set(output)
    value = f"SUM({product})" if summed else product
    columns = [f"{first[label]} AS i{a}" for a, label in enumerate(output)]
    sql = f"SELECT {', '.join([*columns, f'{value} AS val'])} FROM "
    sql += ", ".join(f"{table} AS x{k}" for k, table in enumerate(inputs))
    if where:
        sql += " WHERE " + " AND ".join(where)
    if summed and output:
        sql += " GROUP BY " + ", ".join(first[label] for label in output)
    return sql
