"""Operands: arrays, sparse matrices and existing tables, as einsql reads them.

Every in-memory operand becomes a :class:`CooArray` (its nonzeros, never its
zeros); an existing database table is named by a :class:`Table`.

>>> import numpy as np
>>> coo = as_operand(np.array([[0.0, 2.0], [3.0, 0.0]]), 0)
>>> coo.coords.tolist(), coo.values.tolist(), coo.shape
([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einsql.errors import OperandError

#: The value kinds einsql computes with, and the NumPy dtype kinds they cover.
KIND_OF_DTYPE = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


@dataclass(frozen=True, eq=False)
class CooArray:
    """The nonzeros of an in-memory operand in coordinate format.

    Attributes:
        coords: integer array of shape ``(nnz, ndim)``, one row per nonzero.
        values: the nonzero values, shape ``(nnz,)``.
        shape: the dense shape.

    """

    coords: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the values."""
        return self.values.dtype

    @property
    def nnz(self) -> int:
        """The number of stored nonzeros."""
        return int(self.values.shape[0])

    def todense(self, fill: Any = 0) -> np.ndarray:
        """The dense array, ``fill`` (a semiring's zero) where no entry is stored.

        >>> CooArray(np.array([[1]]), np.array([5.0]), (3,)).todense().tolist()
        [0.0, 5.0, 0.0]
        """
        dense = np.full(self.shape, fill, dtype=self.dtype)
        if self.shape:
            dense[tuple(self.coords.T)] = self.values
        elif self.nnz:
            dense[()] = self.values[0]
        return dense

    def sorted(self) -> CooArray:
        """The same nonzeros in row-major (lexicographic) order of their indices.

        >>> CooArray(np.array([[1], [0]]), np.array([5.0, 6.0]), (2,)).sorted().values.tolist()
        [6.0, 5.0]
        """
        if not self.shape:
            return self
        order = np.lexsort(self.coords.T[::-1])
        return CooArray(self.coords[order], self.values[order], self.shape)


@dataclass(frozen=True)
class Table:
    """An existing database table used as an operand (or returned as a result).

    The table holds one row per nonzero. By convention its axis columns are
    ``i0, i1, ...`` and its value column ``val`` (``val_re`` and ``val_im`` for
    complex values); other layouts are mapped with ``axes`` and ``values``.

    Attributes:
        name: the table name, optionally schema-qualified (``"schema.table"``).
        shape: the dense shape.
        dtype: the NumPy dtype of the values.
        axes: the column holding each axis; defaults to ``i0, i1, ...``.
        values: the value column(s); defaults by dtype as above.
        nnz: the number of rows, if known; with every operand's known, the
            planner prices contraction orders by nonzeros (see :mod:`einsql.sparsity`).

    >>> Table("edges", (4, 4)).axes, Table("edges", (4, 4)).values
    (('i0', 'i1'), ('val',))
    >>> Table("z", (2,), dtype="complex128").values
    ('val_re', 'val_im')

    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float64"
    axes: tuple[str, ...] = field(default=())
    values: tuple[str, ...] = field(default=())
    nnz: int | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.shape)
        if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
            raise OperandError(f"table {self.name!r} needs a shape of non-negative integers")
        object.__setattr__(self, "shape", tuple(int(n) for n in shape))
        if self.nnz is not None and not (isinstance(self.nnz, (int, np.integer)) and self.nnz >= 0):
            raise OperandError(f"table {self.name!r} needs nnz to be a non-negative integer")
        kind = value_kind(np.dtype(self.dtype), f"table {self.name!r}")
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        if not self.axes:
            object.__setattr__(self, "axes", axis_columns(len(shape)))
        if not self.values:
            object.__setattr__(self, "values", value_columns(kind))
        if len(self.axes) != len(shape):
            raise OperandError(
                f"table {self.name!r} maps {len(self.axes)} column(s) to axes "
                f"but its shape has {len(shape)}"
            )

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)


Operand = CooArray | Table


def axis_columns(rank: int) -> tuple[str, ...]:
    """The axis column names of the table convention.

    >>> axis_columns(3)
    ('i0', 'i1', 'i2')
    """
    return tuple(f"i{k}" for k in range(rank))


def value_columns(kind: str) -> tuple[str, ...]:
    """The value column names of the table convention for a value kind.

    >>> value_columns("complex")
    ('val_re', 'val_im')
    """
    return ("val_re", "val_im") if kind == "complex" else ("val",)


def value_kind(dtype: np.dtype[Any], where: str) -> str:
    """The computation kind (``bool``, ``int``, ``float``, ``complex``) of a dtype.

    >>> value_kind(np.dtype("int32"), "operand 0")
    'int'
    >>> value_kind(np.dtype("uint64"), "operand 0")
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: operand 0 has dtype uint64, which einsql cannot hold exactly; \
convert it to int64 or float64
    """
    if dtype == np.uint64:
        raise OperandError(
            f"{where} has dtype uint64, which einsql cannot hold exactly; "
            "convert it to int64 or float64"
        )
    kind = KIND_OF_DTYPE.get(dtype.kind)
    if kind is None:
        raise OperandError(f"{where} has non-numeric dtype {dtype}; einsum needs numbers")
    return kind


def as_operand(value: Any, k: int, zero: Any = 0) -> Operand:
    """Read operand ``k``: a Table, a scipy.sparse or pydata sparse array, or array-like.

    Entries equal to ``zero`` (a semiring's zero; 0 for ordinary einsums) are
    not stored; a sparse array's missing entries are that zero too.

    Raises:
        OperandError: ragged or non-numeric input.

    """
    if isinstance(value, (Table, CooArray)):
        return value
    if _is_scipy_sparse(value):
        return _from_scipy(value, k, zero)
    if _is_pydata_sparse(value):
        return _from_pydata(value, k, zero)
    return from_dense(_as_ndarray(value, k), k, zero)


def from_dense(array: np.ndarray, k: int, zero: Any = 0) -> CooArray:
    """The entries of a dense array that differ from ``zero`` (NaN always counts).

    >>> from_dense(np.float64(2.5), 0).values.tolist()
    [2.5]
    >>> from_dense(np.array([0.0, np.inf]), 0, zero=np.inf).values.tolist()
    [0.0]
    """
    value_kind(array.dtype, f"operand {k}")
    mask = array != zero
    coords = np.argwhere(mask)
    return CooArray(coords, array[mask].reshape(-1), tuple(array.shape))


def _as_ndarray(value: Any, k: int) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise OperandError(f"operand {k} is not a rectangular array: {error}") from None
    if array.dtype == object:
        raise OperandError(
            f"operand {k} is ragged or holds non-numeric objects; einsum needs a numeric array"
        )
    return array


def _is_scipy_sparse(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("scipy.sparse") and hasattr(value, "tocoo")


def _is_pydata_sparse(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("sparse") and hasattr(value, "fill_value")


def _from_scipy(matrix: Any, k: int, zero: Any) -> CooArray:
    coo = matrix.tocoo(copy=True)
    if not coo.has_canonical_format:
        coo.sum_duplicates()
    value_kind(coo.data.dtype, f"operand {k}")
    keep = coo.data != zero
    coords = np.column_stack([coo.row[keep], coo.col[keep]]).astype(np.int64)
    return CooArray(coords, coo.data[keep], tuple(int(n) for n in coo.shape))


def _from_pydata(array: Any, k: int, zero: Any) -> CooArray:
    if array.fill_value != 0:
        raise OperandError(
            f"operand {k} is a sparse array with fill value {array.fill_value}; "
            "einsql reads missing entries as zero"
        )
    coo = array.asformat("coo")
    value_kind(coo.data.dtype, f"operand {k}")
    keep = coo.data != zero
    coords = np.asarray(coo.coords).T[keep].astype(np.int64)
    return CooArray(coords.reshape(-1, coo.ndim), coo.data[keep], tuple(coo.shape))
