"""Results: columns ``i0, i1, ..., val`` become a dense array or a COO array.

>>> rows = {"i0": np.array([1]), "val": np.array([2.5])}
>>> to_dense(to_coo(rows, (3,), np.dtype("float64"))).tolist()
[0.0, 2.5, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from einsql.errors import ExactnessError, ResultSizeError
from einsql.operands import CooArray


def to_coo(
    rows: Mapping[str, np.ndarray], shape: tuple[int, ...], dtype: np.dtype[Any], zero: Any = 0
) -> CooArray:
    """The result rows as a COO array with values of ``dtype``, in database order.

    Values equal to ``zero`` (a semiring's zero) are dropped. Coordinates are
    column-major (``coords[:, k]`` is contiguous), as they were fetched.

    Integer sums are exact in the database; see ``_exact_integers`` for how they
    become ``dtype``.
    """
    rank = len(shape)
    columns = list(rows.values())
    count = len(columns[0]) if columns else 0
    coords = _block(columns[:rank], count)
    if coords is None:
        coords = np.empty((count, rank), dtype=np.int64, order="F")
        for k, column in enumerate(columns[:rank]):
            coords[:, k] = column
    values = _values(columns[rank:], dtype)
    keep = values != zero
    if keep.all():
        return CooArray(coords, values, shape)
    return CooArray(coords[keep], values[keep], shape)


def _block(columns: list[np.ndarray], count: int) -> np.ndarray | None:
    """The column-major ``int64`` block whose columns ``columns`` are, in order, if one is.

    >>> block = np.zeros((3, 2), dtype=np.int64, order="F")
    >>> _block([block[:, 0], block[:, 1]], 3) is block, _block([block[:, 1], block[:, 0]], 3)
    (True, None)
    """
    base = columns[0].base if columns else None
    if not isinstance(base, np.ndarray) or base.dtype != np.int64 or not base.flags.f_contiguous:
        return None
    if base.shape != (count, len(columns)):
        return None
    return base if all(_is_column(c, base, k) for k, c in enumerate(columns)) else None


def _is_column(column: np.ndarray, block: np.ndarray, k: int) -> bool:
    """Whether ``column`` is column ``k`` of ``block``, as a view."""
    view = block[:, k]
    return bool(
        column.base is block
        and column.ctypes.data == view.ctypes.data
        and column.strides == view.strides
        and column.shape == view.shape
    )


#: The largest dense result einsql returns, in bytes; larger ones are refused before
#: anything runs (ask for ``out="coo"`` or ``into=`` instead). Assign to change it.
MAX_DENSE_BYTES = 2**31


def check_dense_size(shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Raise if a dense array of ``shape`` and ``dtype`` exceeds :data:`MAX_DENSE_BYTES`.

    >>> check_dense_size((20_000, 20_000), np.dtype(np.float64))
    Traceback (most recent call last):
    ...
    einsql.errors.ResultSizeError: a dense result of shape (20000, 20000) and dtype float64
    takes 3.2 GB, more than einsql.results.MAX_DENSE_BYTES (2.1 GB); ask for out="coo"
    (the nonzeros) or into="name" (a table that stays in the database), or raise the limit
    """
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_DENSE_BYTES:
        raise ResultSizeError(
            f"a dense result of shape {shape} and dtype {dtype} takes {size / 1e9:.1f} GB, "
            f"more than einsql.results.MAX_DENSE_BYTES ({MAX_DENSE_BYTES / 1e9:.1f} GB); "
            'ask for out="coo" (the nonzeros) or into="name" (a table that stays in the '
            "database), or raise the limit"
        )


def to_dense(coo: CooArray, fill: Any = 0, dtype: np.dtype[Any] | None = None) -> Any:
    """The dense result, as ``numpy.einsum`` returns it (a NumPy scalar for 0-d).

    ``dtype`` converts it (``object`` gives Python numbers, as NumPy's object
    einsum does).

    >>> to_dense(CooArray(np.zeros((1, 0), dtype=int), np.array([2.5]), ()), 0, np.dtype(object))
    2.5
    """
    dense = coo.todense(fill)
    if dtype is not None and dtype != dense.dtype:
        dense = dense.astype(dtype)
    return dense[()] if dense.ndim == 0 else dense


def _values(columns: list[np.ndarray], dtype: np.dtype[Any]) -> np.ndarray:
    if dtype.kind == "c":  # set each part: re + 1j * im would turn 0 + inf j into nan + inf j
        values = np.empty(len(columns[0]), dtype=dtype)
        values.real, values.imag = (np.asarray(c, dtype=np.float64) for c in columns)
        return values
    if dtype.kind in "iu":
        return _exact_integers(columns[0], dtype)
    return np.asarray(columns[0]).astype(dtype, copy=False)


def _exact_integers(column: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Integer values of ``dtype`` from exact database sums.

    A narrower dtype than int64, and uint64, wrap around as NumPy's einsum does
    (the true sum modulo 2**bits is exactly NumPy's answer; uint64 values were
    stored as their two's complement, which keeps the sum modulo 2**64); int64
    sums that do not fit come back exact, as Python ints in an object array.

    >>> _exact_integers(np.array([2**64 + 3], dtype=object), np.dtype("int8")).tolist()
    [3]
    >>> _exact_integers(np.array([-(2**65) - 2], dtype=object), np.dtype("uint64")).tolist()
    [18446744073709551614]

    Raises:
        ExactnessError: the database returned floats (SQLite does on overflow).

    """
    if column.dtype.kind in "ib":
        return column.astype(dtype)
    if column.dtype.kind == "f":
        raise ExactnessError(
            "an integer result overflowed the database's 64-bit integers and came back "
            "as floating point; use a float dtype, or postgres, whose numeric holds any size"
        )
    exact = [int(v) for v in column]
    if all(-(2**63) <= v < 2**63 for v in exact):
        return np.array(exact, dtype=np.int64).astype(dtype)
    if dtype.itemsize < 8 or dtype.kind == "u":
        return np.array([v % 2**64 for v in exact], dtype=np.uint64).astype(dtype)
    return np.array(exact, dtype=object)
