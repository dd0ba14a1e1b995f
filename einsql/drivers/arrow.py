"""Arrow in both directions: operands as Arrow tables, query results from Arrow columns.

Shared by the drivers that speak Arrow (DuckDB, Spark).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from einsql.convention import axis_columns
from einsql.dialect import WIDE_INDEX
from einsql.drivers.base import Rows, value_arrays
from einsql.operands import CooArray


def arrow_table(coo: CooArray, kind: str) -> pa.Table:
    """``coo`` as an Arrow table ``i0, ..., val`` (``val_re, val_im`` if complex).

    >>> t = arrow_table(CooArray(np.array([[0, 1]]), np.array([2.0]), (2, 2)), "float")
    >>> t.column_names, t.schema.field("i0").type
    (['i0', 'i1', 'val'], DataType(int32))
    """
    columns: dict[str, Any] = {}
    for k, (name, size) in enumerate(zip(axis_columns(len(coo.shape)), coo.shape)):
        index_dtype = np.int32 if size < WIDE_INDEX else np.int64
        columns[name] = np.ascontiguousarray(coo.coords[:, k], dtype=index_dtype)
    return pa.table({**columns, **value_arrays(coo, kind)})


def numpy_column(column: pa.ChunkedArray) -> np.ndarray:
    """An Arrow column as NumPy; ``HUGEINT`` sums (decimals of scale 0) as exact Python ints.

    >>> from decimal import Decimal
    >>> column = pa.chunked_array([pa.array([Decimal("1.25")], pa.decimal128(5, 2))])
    >>> numpy_column(column).tolist()
    [1.25]
    """
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        return np.array([int(v) for v in column.to_pylist()], dtype=object)
    if pa.types.is_decimal(column.type):
        return np.array([float(v) for v in column.to_pylist()], dtype=np.float64)
    return np.asarray(column.to_numpy())


def arrow_rows(table: pa.Table) -> Rows:
    """A query's Arrow result as NumPy columns (see :func:`numpy_column`).

    >>> arrow_rows(pa.table({"i0": [0, 2], "val": [1.5, 2.5]}))["val"].tolist()
    [1.5, 2.5]
    """
    return {name: numpy_column(table.column(name)) for name in table.column_names}
