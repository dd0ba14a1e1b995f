"""Tables by name: :func:`table` reads an operand's layout from the database.

``einsql.table(name, con)`` looks at an existing table and returns the
:class:`einsql.Table` naming it, filled in by these rules (each can be given
instead):

* ``axes``: the columns ``i0, i1, ...`` (the COO convention), as many as exist;
* ``values``: ``val``, or ``val_re`` and ``val_im`` (complex values);
* ``dtype``: from the value column's SQL type: booleans ``bool``, integers
  (and ``DECIMAL(p, 0)``) ``int64``, floating point ``float64``, two value
  columns ``complex128``; a decimal with a scale needs ``dtype=``. SQLite has
  no column types, so there the values' own types decide (integers only:
  ``int64``; any real: ``float64``);
* ``shape``: an axis not given (``None``, or every axis with ``shape=None``)
  takes its label's size in the einsum the table is used in: the largest index
  any operand holds on that label, plus one (one aggregate query reads each
  axis' largest index and the row count).

The contents are still checked when the table is used (see :mod:`einsql.checks`).

>>> import duckdb, numpy as np
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE m (i0 INT, i1 INT, val DOUBLE)")
>>> _ = con.execute("INSERT INTO m VALUES (0, 1, 2.5), (2, 0, 1.0)")
>>> m = table("m", con)
>>> m.dtype, m.shape, m.nnz
('float64', (3, 2), 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.checks import stored_kind
from einsql.drivers import open_driver
from einsql.drivers.base import Driver
from einsql.errors import OperandError
from einsql.frames import CONVENTION, axis_names_in, given_sizes, value_names_in
from einsql.operands import Table
from einsql.sql import table_ref

#: The NumPy dtype of each stored kind of value column.
_DTYPE_OF_KIND = {"bool": "bool", "int": "int64", "float": "float64"}


def table(
    name: str,
    con: Any,
    shape: Sequence[int | None] | None = None,
    dtype: Any = None,
    axes: Sequence[str] | None = None,
    values: str | Sequence[str] | None = CONVENTION,
    trusted: bool = False,
) -> Table:
    """The :class:`einsql.Table` of an existing table, its layout read from ``con``.

    Args:
        name: the table (or view) name, optionally schema-qualified.
        con: the database (any ``con=`` einsql takes).
        shape: each axis' size; ``None`` for an axis sized by the einsum.
        dtype: the values' NumPy dtype; read from the column type when not given.
        axes: the index column of each axis; default ``i0, i1, ...``.
        values: the value column (two for complex values); default ``val``.
        trusted: skip the content checks when the table is used.

    Raises:
        OperandError: the table lacks a named column, or its value type says
            nothing einsql can compute with.
        DatabaseError: the table cannot be read.

    """
    probe = Table(name, ())  # checks the name before it reaches the database
    where = f"table {probe.name!r}"
    with open_driver(con) as driver:
        driver.doing = f"reading the columns of {where}"
        query = exp.select(exp.Star()).from_(table_ref(name)).limit(0)
        columns = list(driver.query(driver.sql(query)))
        axis_names = axis_names_in(columns, axes, where)
        if values is None:
            raise OperandError(f"{where} needs a value column (a view can add 1 AS val)")
        value_names = value_names_in(columns, values, where, ones=False)
        kinds = _column_kinds(driver, name, axis_names + value_names)
        for column, kind in zip(axis_names, kinds):
            if kind != "int":
                raise OperandError(
                    f"index column {column!r} of {where} holds {kind}; index columns must be "
                    "integers"
                )
        if dtype is None:
            dtype = _dtype_of(kinds[len(axis_names) :], value_names, where)
        dims = given_sizes(shape, len(axis_names), where)
        rows, largest = _extent(driver, name, axis_names)
    sizes = tuple(n if n is not None else _size(top) for n, top in zip(dims, largest))
    inferred = tuple(k for k, n in enumerate(dims) if n is None)
    return Table(name, sizes, dtype, tuple(axis_names), tuple(value_names), rows, trusted, inferred)


def _size(largest: int | None) -> int:
    """An axis' size from its largest index: 0 for an empty table (or negative indices only).

    >>> _size(None), _size(4), _size(-3)
    (0, 5, 0)
    """
    return 0 if largest is None else max(largest + 1, 0)


def _dtype_of(kinds: list[str], columns: list[str], where: str) -> str:
    """The dtype value columns of these kinds give (complex for two of them)."""
    for column, kind in zip(columns, kinds):
        if kind not in _DTYPE_OF_KIND:
            raise OperandError(
                f"value column {column!r} of {where} holds {kind}; say which dtype it is read "
                "as with dtype= (e.g. 'float64'), or cast it in a view"
            )
    return "complex128" if len(columns) == 2 else _DTYPE_OF_KIND[kinds[0]]


def _column_kinds(driver: Driver, name: str, columns: list[str]) -> list[str]:
    """The kind of values each column holds (``int``, ``float``, ...; else a description)."""
    types = driver.types_of(name, columns)
    if types is None:
        return [_dynamic_kind(driver, name, column) for column in columns]
    return [_described_kind(types[column]) for column in columns]


def _described_kind(sql_type: str) -> str:
    """The kind a SQL type holds, or what it holds when einsql cannot compute with it.

    >>> _described_kind("BIGINT"), _described_kind("DECIMAL(5,2)"), _described_kind("VARCHAR")
    ('int', 'decimal numbers', 'type VARCHAR')
    """
    kind = stored_kind(sql_type)
    if kind is None:
        return f"type {sql_type}"
    return "decimal numbers" if kind == "decimal" else kind


def _dynamic_kind(driver: Driver, name: str, column: str) -> str:
    """The kind of a column of a database without column types (SQLite), from its values."""
    typeof = exp.Anonymous(this="typeof", expressions=[exp.column(column)])
    query = exp.select(typeof.as_("t")).distinct().from_(table_ref(name))
    found = {str(t) for t in driver.query(driver.sql(query))["t"]} - {"null"}
    if found <= {"integer"}:
        return "int"
    if found <= {"integer", "real"}:
        return "float"
    return f"values of type {', '.join(sorted(found))}"


def _extent(driver: Driver, name: str, axes: list[str]) -> tuple[int, list[int | None]]:
    """The row count and each axis column's largest value (None for an empty table)."""
    columns = [exp.Count(this=exp.Star()).as_("n")]
    columns += [exp.Max(this=exp.column(c)).as_(f"m{k}") for k, c in enumerate(axes)]
    driver.doing = f"reading the extent of table {name!r}"
    rows = driver.query(driver.sql(exp.select(*columns).from_(table_ref(name))))
    largest = [_integer(rows[f"m{k}"]) for k in range(len(axes))]
    return _integer(rows["n"]) or 0, largest


def _integer(column: np.ndarray) -> int | None:
    value = column[0] if len(column) else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)
