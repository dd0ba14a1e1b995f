"""Table operands are checked in the database before einsql trusts them.

Two looks at each table:

* its columns' real types (a ``LIMIT 0`` query, no scan): index columns must be
  integers; value columns must be numbers the declared ``dtype`` can hold
  (``DECIMAL`` and integers are cast to ``DOUBLE`` for a float dtype, a
  ``DOUBLE`` column is refused for an integer dtype, ...). SQLite has no column
  types, so there the values' own types are counted in the scan;
* unless the table says ``trusted=True``, one scan with an aggregate per fault:
  NULL or out-of-range indices, index tuples held more than once, NULL values
  (SQLite stores NaN as NULL, so there NULL is NaN), non-integer values under an
  integer dtype, and whether any value is NaN or infinite (then ``inf * 0``
  gives NaN as in NumPy, without asking for ``nonfinite=True``).

The scan costs about one ``GROUP BY`` of the table's index columns;
``trusted=True`` skips it, and einsql then reads the table as it is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlglot import exp

from einsql.errors import OperandError
from einsql.operands import Table, value_kind
from einsql.sql import float_literal, table_ref

if TYPE_CHECKING:
    from einsql.drivers.base import Driver

#: SQL type names (upper case, arguments dropped) of each stored kind.
_TYPE_KINDS = {
    "bool": {"BOOLEAN", "BOOL"},
    "int": {
        *("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "INT2", "INT4", "INT8"),
        *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"),
    },
    "float": {"FLOAT", "DOUBLE", "REAL", "DOUBLE PRECISION", "FLOAT4", "FLOAT8"},
    "decimal": {"DECIMAL", "NUMERIC"},
}

#: The stored kinds a declared kind accepts (others are refused).
_ACCEPTS = {
    "bool": {"bool"},
    "int": {"int", "bool", "decimal"},
    "float": {"int", "bool", "decimal", "float"},
    "complex": {"int", "bool", "decimal", "float"},
}


@dataclass(frozen=True)
class TableFacts:
    """What the database says about a table operand.

    Attributes:
        kinds: the stored kind of each value column (``int``, ``float``,
            ``bool``, ``decimal``, or ``dynamic`` where the database has no
            column types); lowering casts those that differ from the computation.
        nonfinite: whether a value may be NaN or infinite (unknown: True only if
            the table was not scanned and the caller says so).
        rows: the number of rows, if the table was scanned.

    """

    kinds: tuple[str, ...]
    nonfinite: bool = False
    rows: int | None = None


def stored_kind(sql_type: str) -> str | None:
    """The kind of values a SQL column type holds, or None for non-numbers.

    >>> stored_kind("DECIMAL(10,2)"), stored_kind("numeric(38,0)"), stored_kind("double precision")
    ('decimal', 'int', 'float')
    >>> stored_kind("VARCHAR") is None
    True
    """
    name = re.sub(r"\(.*\)", "", sql_type).strip().upper()
    if name in _TYPE_KINDS["decimal"]:
        scale = re.search(r",\s*(\d+)\s*\)", sql_type)
        return "int" if scale is not None and int(scale.group(1)) == 0 else "decimal"
    return next((kind for kind, names in _TYPE_KINDS.items() if name in names), None)


def inspect_table(driver: Driver, table: Table, what: str) -> TableFacts:
    """Check ``table`` in the database; return what lowering needs to know.

    Raises:
        OperandError: a column of the wrong type, or (unless ``table.trusted``)
            faulty contents, each fault named with its column and row count.

    """
    declared = value_kind(np.dtype(table.dtype), what)
    types = driver.column_types(table)
    kinds = tuple(_checked_column(table, column, types, declared, what) for column in table.values)
    for column in table.axes:
        _check_index_type(table, column, types, what)
    if table.trusted:
        return TableFacts(kinds)
    driver.doing = f"checking the contents of table {table.name!r}"
    counts = _scan(driver, table, kinds, declared)
    _raise_faults(table, counts, what)
    nonfinite = any(
        counts.get(f"{name}_{j}", 0) for name in ("nonfinite", "nan") for j in range(len(kinds))
    )
    return TableFacts(kinds, nonfinite, counts["rows"])


def _checked_column(
    table: Table, column: str, types: dict[str, str] | None, declared: str, what: str
) -> str:
    if types is None:
        return "dynamic"
    kind = stored_kind(types[column])
    if kind is None or kind not in _ACCEPTS[declared]:
        raise OperandError(
            f"{what}: value column {column!r} of table {table.name!r} has type "
            f"{types[column]}, which dtype {table.dtype} cannot take; " + _type_hint(kind)
        )
    return kind


def _type_hint(kind: str | None) -> str:
    if kind is None:
        return "einsql reads numbers only (cast the column in a view)"
    return f"declare the table's dtype as one its values fit (dtype='{_NUMPY_OF[kind]}')"


_NUMPY_OF = {"bool": "bool", "int": "int64", "float": "float64", "decimal": "float64"}


def _check_index_type(table: Table, column: str, types: dict[str, str] | None, what: str) -> None:
    if types is not None and stored_kind(types[column]) != "int":
        raise OperandError(
            f"{what}: index column {column!r} of table {table.name!r} has type "
            f"{types[column]}; index columns must be integers"
        )


def _scan(driver: Driver, table: Table, kinds: tuple[str, ...], declared: str) -> dict[str, int]:
    """One aggregate query counting each fault (and the rows)."""
    dynamic = driver.dialect.dynamic_types
    columns: list[exp.Expr] = [exp.Count(this=exp.Star()).as_("rows")]
    for k, (column, size) in enumerate(zip(table.axes, table.shape)):
        col = exp.column(column, table="t")
        columns.append(_nulls(col).as_(f"null_i{k}"))
        outside = exp.or_(
            exp.LT(this=col.copy(), expression=_number(0)),
            exp.GTE(this=col.copy(), expression=_number(size)),
        )
        columns.append(_count_where(outside).as_(f"range_{k}"))
        if dynamic:
            columns.append(_count_where(_not_typeof(col, ("integer", "null"))).as_(f"type_i{k}"))
    for j, (column, kind) in enumerate(zip(table.values, kinds)):
        col = exp.column(column, table="t")
        nan_is_null = driver.dialect.nan_is_null and declared in ("float", "complex")
        columns.append(_nulls(col).as_(f"nan_{j}" if nan_is_null else f"null_v{j}"))
        if dynamic:
            allowed = ("integer", "real", "null") if declared != "int" else ("integer", "null")
            columns.append(_count_where(_not_typeof(col, allowed)).as_(f"type_v{j}"))
        elif declared == "int" and kind == "decimal":
            fraction = exp.NEQ(this=col.copy(), expression=exp.Floor(this=col.copy()))
            columns.append(_count_where(fraction).as_(f"type_v{j}"))
        if kind in ("float", "dynamic") and declared in ("float", "complex"):
            columns.append(_count_where(_nonfinite(col, driver)).as_(f"nonfinite_{j}"))
    columns.append(_duplicates(table).as_("duplicates"))
    query = exp.select(*columns).from_(table_ref(table.name).as_("t"), copy=False)
    rows = driver.query(driver.sql(query))
    return {name: _count(values) for name, values in rows.items()}


def _count(values: np.ndarray) -> int:
    value = values[0] if len(values) else 0
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    return int(value)


def _number(n: int) -> exp.Expression:
    return exp.Literal.number(n)


def _nulls(col: exp.Column) -> exp.Expression:
    return exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=col.copy()))


def _count_where(condition: exp.Expr) -> exp.Expression:
    case = exp.Case(ifs=[exp.If(this=condition, true=_number(1))]).else_(_number(0))
    return exp.Coalesce(this=exp.Sum(this=case), expressions=[_number(0)])


def _not_typeof(col: exp.Column, allowed: tuple[str, ...]) -> exp.Expr:
    typeof = exp.Anonymous(this="typeof", expressions=[col.copy()])
    return exp.not_(exp.In(this=typeof, expressions=[exp.Literal.string(t) for t in allowed]))


def _nonfinite(col: exp.Column, driver: Driver) -> exp.Expr:
    """NaN or an infinity: not strictly between the infinities (NaN compares false or last)."""
    inside = exp.and_(
        exp.GT(this=col.copy(), expression=float_literal(-math.inf, driver.dialect)),
        exp.LT(this=col.copy(), expression=float_literal(math.inf, driver.dialect)),
    )
    return exp.and_(exp.not_(exp.Is(this=col.copy(), expression=exp.null())), exp.not_(inside))


def _duplicates(table: Table) -> exp.Expression:
    """How many index tuples occur more than once (a scalar subquery)."""
    source = table_ref(table.name).as_("d")
    repeated = exp.select(exp.Count(this=exp.Star())).from_(source, copy=False)
    repeated = repeated.having(
        exp.GT(this=exp.Count(this=exp.Star()), expression=_number(1)), copy=False
    )
    if table.axes:
        repeated = repeated.group_by(*[exp.column(c, table="d") for c in table.axes], copy=False)
    inner = exp.alias_(exp.Subquery(this=repeated), "r")
    return exp.Subquery(this=exp.select(exp.Count(this=exp.Star())).from_(inner, copy=False))


#: Each counted fault: (count name pattern, message), ``{column}`` filled in.
_FAULTS: tuple[tuple[str, str], ...] = (
    ("type_i", "index column {column!r} holds {n} non-integer value(s)"),
    ("null_i", "index column {column!r} holds {n} NULL(s)"),
    ("range_", "index column {column!r} holds {n} value(s) outside 0..{last} (axis {k})"),
    ("type_v", "value column {column!r} holds {n} value(s) that dtype {dtype} cannot hold"),
    ("null_v", "value column {column!r} holds {n} NULL(s); a missing entry is a missing row"),
)


def _raise_faults(table: Table, counts: dict[str, int], what: str) -> None:
    faults = []
    for prefix, message in _FAULTS:
        columns = table.values if prefix.endswith("_v") else table.axes
        for k, column in enumerate(columns):
            n = counts.get(f"{prefix}{k}", 0)
            if n:
                last = table.shape[k] - 1 if prefix == "range_" else None
                faults.append(message.format(column=column, n=n, last=last, k=k, dtype=table.dtype))
    if counts.get("duplicates"):
        faults.append(
            f"{counts['duplicates']} index tuple(s) occur in more than one row "
            "(einsql reads one row per nonzero; sum them in a view)"
        )
    if faults:
        raise OperandError(f"{what}: table {table.name!r} " + "; ".join(faults))
