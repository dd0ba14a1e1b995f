"""Results: rows of ``i0, i1, ..., val`` become a dense array or a COO array.

>>> import pyarrow as pa
>>> rows = pa.table({"i0": [1], "val": [2.5]})
>>> to_dense(to_coo(rows, (3,), np.dtype("float64"))).tolist()
[0.0, 2.5, 0.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from einsql.operands import CooArray


def to_coo(rows: pa.Table, shape: tuple[int, ...], dtype: np.dtype[Any]) -> CooArray:
    """The result rows as a COO array with values of ``dtype``, in database order.

    Integer sums are exact in the database; see ``_exact_integers`` for how they
    become ``dtype``.
    """
    rank = len(shape)
    columns = rows.column_names
    coords = np.empty((rows.num_rows, rank), dtype=np.int64)
    for k, name in enumerate(columns[:rank]):
        coords[:, k] = rows.column(name).to_numpy()
    values = _values(rows, columns[rank:], dtype)
    keep = values != 0
    if keep.all():
        return CooArray(coords, values, shape)
    return CooArray(coords[keep], values[keep], shape)


def to_dense(coo: CooArray) -> Any:
    """The dense result, as ``numpy.einsum`` returns it (a NumPy scalar for 0-d)."""
    dense = coo.todense()
    return dense[()] if dense.ndim == 0 else dense


def _values(rows: pa.Table, names: list[str], dtype: np.dtype[Any]) -> np.ndarray:
    if dtype.kind == "c":
        re, im = (_column(rows, n, np.dtype("float64")) for n in names)
        return (re + 1j * im).astype(dtype)
    return _column(rows, names[0], dtype)


def _column(rows: pa.Table, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    column = rows.column(name).combine_chunks() if rows.num_rows else rows.column(name)
    if dtype.kind in "iu":
        return _exact_integers(column, dtype)
    array = np.asarray(column.to_numpy(zero_copy_only=False))
    return array.astype(dtype)


def _exact_integers(column: Any, dtype: np.dtype[Any]) -> np.ndarray:
    """Integer values of ``dtype`` from exact database sums.

    A narrower dtype than int64 wraps around as NumPy's einsum does (the true sum
    modulo 2**bits is exactly NumPy's answer); int64 sums that do not fit come
    back exact, as Python ints in an object array.
    """
    try:
        wide = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        exact = [int(v) for v in column.to_pylist()]
        if dtype.itemsize < 8:
            return np.array([v % 2**64 for v in exact], dtype=np.uint64).astype(dtype)
        return np.array(exact, dtype=object)
    return np.asarray(wide).astype(dtype)
