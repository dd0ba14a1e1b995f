"""Operands: arrays, sparse matrices and existing tables, as einsql reads them.

Every in-memory operand becomes a :class:`CooArray` (its nonzeros, never its
zeros); an existing database table is named by a :class:`Table`.

>>> import numpy as np
>>> coo = as_operand(np.array([[0.0, 2.0], [3.0, 0.0]]), 0)
>>> coo.coords.tolist(), coo.values.tolist(), coo.shape
([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from einsql.convention import axis_columns, value_columns
from einsql.errors import ArgumentError, OperandError
from einsql.names import check_table_name, check_user_name

if TYPE_CHECKING:
    from einsql.expr import Var

#: The value kinds einsql computes with, and the NumPy dtype kinds they cover.
KIND_OF_DTYPE = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


@dataclass(frozen=True, eq=False)
class CooArray:
    """The nonzeros of an in-memory operand in coordinate format.

    Attributes:
        coords: integer array of shape ``(nnz, ndim)``, one row per nonzero.
        values: the nonzero values, shape ``(nnz,)``.
        shape: the dense shape.
        inferred: the axes whose size is not given but taken from the einsum
            the array is used in (see :func:`einsql.coo`); their ``shape``
            entries are the least the indices need.

    """

    coords: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...]
    inferred: tuple[int, ...] = field(default=(), repr=False)

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
        trusted: skip the scan that checks the table's contents before use
            (NULL, negative or out-of-range indices, repeated index tuples,
            NaN and infinities; see :mod:`einsql.checks`). The scan costs about
            one ``GROUP BY`` of the table; column types are checked either way.
        inferred: the axes whose size is taken from the einsum the table is
            used in (see :func:`einsql.table`); their ``shape`` entries are the
            least the indices need.

    >>> Table("edges", (4, 4)).axes, Table("edges", (4, 4)).values
    (('i0', 'i1'), ('val',))
    >>> Table("z", (2,), dtype="complex128").values
    ('val_re', 'val_im')

    """

    name: str
    shape: tuple[int, ...] = None  # type: ignore[assignment]  # refused in __post_init__
    dtype: str = "float64"
    axes: tuple[str, ...] = field(default=())
    values: tuple[str, ...] = field(default=())
    nnz: int | None = None
    trusted: bool = False
    inferred: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        check_table_name(self.name, "a table")
        if self.shape is None:
            raise OperandError(
                f"Table({self.name!r}) needs its shape; einsql.table({self.name!r}, con) "
                "reads it (and the dtype) from the database"
            )
        shape = _table_shape(self.name, self.shape)
        object.__setattr__(self, "shape", shape)
        if self.nnz is not None and not (isinstance(self.nnz, (int, np.integer)) and self.nnz >= 0):
            raise OperandError(f"table {self.name!r} needs nnz to be a non-negative integer")
        dtype = _table_dtype(self.name, self.dtype)
        kind = value_kind(dtype, f"table {self.name!r}")
        object.__setattr__(self, "dtype", dtype.name)
        object.__setattr__(self, "axes", tuple(self.axes) or axis_columns(len(shape)))
        object.__setattr__(self, "values", tuple(self.values) or value_columns(kind))
        if len(self.axes) != len(shape):
            raise OperandError(
                f"table {self.name!r} maps {len(self.axes)} column(s) to axes "
                f"but its shape has {len(shape)}"
            )
        if len(self.values) != len(value_columns(kind)):
            raise OperandError(
                f"table {self.name!r} of dtype {dtype} needs {len(value_columns(kind))} value "
                f"column(s), not {len(self.values)}"
            )
        for column in (*self.axes, *self.values):
            check_user_name(column, f"a column of table {self.name!r}")

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)


Operand = CooArray | Table


def _table_shape(name: str, shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = (None,)
    if not all(is_count(n) for n in dims):
        raise OperandError(f"table {name!r} needs a shape of non-negative integers, not {shape!r}")
    return tuple(int(n) for n in dims)


def is_count(n: Any) -> bool:
    """Whether ``n`` is a size: a non-negative integer (``bool`` is not one)."""
    return bool(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0)


def _table_dtype(name: str, dtype: Any) -> np.dtype[Any]:
    try:
        result: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError):
        raise OperandError(
            f"table {name!r} has dtype {dtype!r}, which is not a NumPy dtype; use one of "
            "bool, int64, float64, complex128 (or another numeric NumPy dtype)"
        ) from None
    return result


def value_kind(dtype: np.dtype[Any], where: str) -> str:
    """The computation kind (``bool``, ``int``, ``float``, ``complex``) of a dtype.

    Floats of any width compute in double precision, complex values in two
    doubles; ``uint64`` computes modulo 2**64, as NumPy does (see
    :func:`einsql.convention.stored_values`).

    >>> value_kind(np.dtype("int32"), "operand 0"), value_kind(np.dtype("uint64"), "operand 0")
    ('int', 'int')
    >>> value_kind(np.dtype("U3"), "operand 0")
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: operand 0 has non-numeric dtype <U3; einsum needs numbers
    """
    kind = KIND_OF_DTYPE.get(dtype.kind)
    if kind is None:
        raise OperandError(f"{where} has non-numeric dtype {dtype}; einsum needs numbers")
    return kind


def as_operand(value: Any, k: int, zero: Any = 0) -> Operand:
    """Read operand ``k`` by an explicit rule for each kind of object einsql knows.

    * an :class:`einsql.Table` names a database table; a :class:`CooArray` is
      checked (integer coordinates in range, one row per index tuple);
    * a scipy.sparse matrix or array (duplicates summed) and a pydata ``sparse``
      array (fill value 0) give their stored entries;
    * a NumPy array or scalar, a Python ``bool``, ``int``, ``float`` or
      ``complex``, and (nested) lists and tuples of them are dense arrays.

    Anything else (a data frame, an Arrow table, a string or path, a
    ``Decimal``, an object that merely converts to an array) is refused rather
    than guessed at. Entries equal to ``zero`` (a semiring's zero; 0 for
    ordinary einsums) are not stored; a sparse array's missing entries are that
    zero too.

    >>> as_operand("edges.csv", 1)
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: operand 1 is a str, which einsql does not read as an array;
    name a database table with einsql.Table(name, shape), or pass an array

    Raises:
        OperandError: an object of another kind, or ragged or non-numeric input.

    """
    if isinstance(value, Table):
        return value
    if isinstance(value, CooArray):
        return checked_coo(value, k)
    if _is_scipy_sparse(value):
        return _from_scipy(value, k, zero)
    if _is_pydata_sparse(value):
        return _from_pydata(value, k, zero)
    if isinstance(value, np.ma.MaskedArray):
        raise OperandError(
            f"operand {k} is a masked array; einsql does not guess what masked entries "
            "mean: pass value.filled(0) (or another fill) instead"
        )
    if isinstance(value, (np.ndarray, np.generic, bool, int, float, complex, list, tuple)):
        return from_dense(_as_ndarray(value, k), k, zero)
    raise OperandError(_refusal(value, k))


def _refusal(value: Any, k: int) -> str:
    """Why operand ``k`` is refused, and what to pass instead."""
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    if kind.__module__.split(".")[0] in ("pandas", "polars", "pyarrow"):
        return (
            f"operand {k} is a {name}; einsql does not guess which of its columns are "
            "indices and which values: pass einsql.coo(frame, axes=[...], values=...) "
            "for a table of nonzeros, or frame.to_numpy() for a dense matrix"
        )
    if isinstance(value, (str, bytes, os.PathLike)):
        return (
            f"operand {k} is a {name}, which einsql does not read as an array; name a "
            "database table with einsql.Table(name, shape), or pass an array"
        )
    return (
        f"operand {k} is a {name}, which einsql does not read as an array; pass a NumPy "
        "array (np.asarray(value) if it is one), a scipy.sparse or pydata sparse array, "
        "an einsql.CooArray or an einsql.Table"
    )


def checked_coo(coo: CooArray, k: int, where: str | None = None) -> CooArray:
    """``coo`` if its coordinates fit its shape and no index tuple repeats.

    >>> checked_coo(CooArray(np.array([[0], [0]]), np.array([1.0, 2.0]), (3,)), 0)
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: operand 0 (a CooArray) holds 1 repeated index tuple(s);
    sum duplicates first (einsql.coo(..., duplicates="sum") does)

    Raises:
        OperandError: malformed coordinates or values, an index out of range,
            or a repeated index tuple.

    """
    shape = _table_shape(f"operand {k}", coo.shape)
    coords, values = np.asarray(coo.coords), np.asarray(coo.values)
    where = where or f"operand {k} (a CooArray)"
    if values.ndim != 1 or coords.shape != (values.shape[0], len(shape)):
        raise OperandError(
            f"{where} needs coords of shape (nnz, {len(shape)}) and values of shape (nnz,), "
            f"not {coords.shape} and {values.shape}"
        )
    if coords.size and coords.dtype.kind not in "iu":
        raise OperandError(f"{where} has coordinates of dtype {coords.dtype}; use integers")
    value_kind(values.dtype, where)
    coords = coords.astype(np.int64, copy=False).reshape(values.shape[0], len(shape))
    outside = (coords < 0) | (coords >= np.array(shape, dtype=np.int64))
    if outside.any():
        axis = int(np.argwhere(outside)[0][1])
        raise OperandError(
            f"{where} has {int(outside.any(axis=1).sum())} index tuple(s) outside its shape "
            f"{shape} (axis {axis})"
        )
    repeated = repeated_tuples(coords, shape) if shape else values.size - 1
    if repeated > 0:
        raise OperandError(
            f"{where} holds {repeated} repeated index tuple(s); sum duplicates first "
            '(einsql.coo(..., duplicates="sum") does)'
        )
    return CooArray(coords, values, shape, coo.inferred)


def index_keys(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One integer per index tuple (its row-major position), or the tuples as they are.

    Sorting and comparing one int64 column is far faster than rows of several;
    when the array has 2**63 elements or more, the rows themselves are returned.

    >>> index_keys(np.array([[1, 2], [0, 1]]), (2, 3)).tolist()
    [5, 1]
    """
    dims = tuple(int(n) for n in shape)
    if math.prod(dims) < 2**63 and 0 < len(dims) <= 32:  # NumPy 1.x ravels 32 axes at most
        keys: np.ndarray = np.ravel_multi_index(tuple(coords.T), dims)
        return keys.astype(np.int64, copy=False)
    return coords


def repeated_tuples(coords: np.ndarray, shape: tuple[int, ...]) -> int:
    """How many rows of ``coords`` (inside ``shape``) repeat an earlier row's index tuple.

    >>> repeated_tuples(np.array([[0, 1], [1, 1], [0, 1]]), (2, 2))
    1
    """
    keys = index_keys(coords, shape)
    if keys.ndim == 1:
        keys = np.sort(keys)
        return int(np.count_nonzero(keys[1:] == keys[:-1]))
    rows = keys[np.lexsort(keys.T[::-1])]
    return int(np.count_nonzero((rows[1:] == rows[:-1]).all(axis=1)))


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


def dense_input(value: Any, k: int) -> Any:
    """``value`` as NumPy reads a dense operand: lists, tuples and scalars become arrays.

    Other objects are returned as they are (:func:`as_operand` reads or refuses them).

    >>> dense_input([[1, 2], [3, 4]], 0).dtype, dense_input(2.5, 0).shape
    (dtype('int64'), ())
    """
    if isinstance(value, (bool, int, float, complex, list, tuple)):
        return _as_ndarray(value, k)
    return value


def _as_ndarray(value: Any, k: int) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise OperandError(f"operand {k} is not a rectangular array: {error}") from None
    return numeric_objects(array, k) if array.dtype == object else array


#: The element types an object array may hold, by the value kind they need
#: (Python's booleans are integers: ``True + True`` is 2).
_OBJECT_KINDS = (
    ("int", (bool, np.bool_, int, np.integer), np.int64),
    ("float", (float, np.floating), np.float64),
    ("complex", (complex, np.complexfloating), np.complex128),
)


def numeric_objects(array: np.ndarray, k: int) -> np.ndarray:
    """An object array of Python numbers as the numeric array its elements agree on.

    The rule: integers and booleans give ``int64`` (as in Python, ``True +
    True`` is 2); with a float among them ``float64``; with a complex number
    ``complex128``.
    Integers beyond int64, ``Fraction``, ``Decimal`` and anything that is not a
    number are refused: no database holds them exactly.

    >>> numeric_objects(np.array([1, 2.5], dtype=object), 0)
    array([1. , 2.5])
    >>> from fractions import Fraction
    >>> numeric_objects(np.array([Fraction(1, 3)], dtype=object), 0)
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: operand 0 is an object array holding Fraction values; einsql
    computes in a database, which holds no Fraction exactly: convert it to float
    (array.astype(float)) or to integers

    Raises:
        ArgumentError: an element is not a number (NumPy raises ``TypeError``).
        OperandError: a number no database holds exactly.

    """
    rank = 0
    for kind in set(map(type, array.flat)):
        rank = max(rank, _object_rank(kind, k))
    target = _OBJECT_KINDS[rank][2]
    try:
        return array.astype(target)
    except OverflowError:
        raise OperandError(
            f"operand {k} is an object array holding integers beyond int64, which einsql "
            "does not load; convert it to float (array.astype(float))"
        ) from None


def _object_rank(kind: type, k: int) -> int:
    """The position in :data:`_OBJECT_KINDS` of an object array element's type."""
    for rank, (_, types, _) in enumerate(_OBJECT_KINDS):
        if issubclass(kind, types):
            return rank
    if issubclass(kind, numbers.Number):
        raise OperandError(
            f"operand {k} is an object array holding {kind.__name__} values; einsql computes "
            f"in a database, which holds no {kind.__name__} exactly: convert it to float "
            "(array.astype(float)) or to integers"
        )
    raise ArgumentError(
        f"operand {k} is an object array holding a {kind.__name__}; einsum needs numbers "
        "(Python or NumPy bool, int, float or complex)"
    )


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
    if array.ndim == 0:  # no coordinates to read, and its fill value may be its value
        return from_dense(np.asarray(array.todense()), k, zero)
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


def fitted(value: Any, shape: tuple[int, ...], where: str) -> Any:
    """``value`` with its inferred axes sized to ``shape`` (a variable's); others as they are.

    >>> a = dataclasses.replace(CooArray(np.array([[1]]), np.array([1.0]), (2,)), inferred=(0,))
    >>> fitted(a, (4,), "x").shape
    (4,)
    """
    if not getattr(value, "inferred", ()) or len(value.shape) != len(shape):
        return value
    if any(n > m for n, m in zip(value.shape, shape)):
        raise OperandError(f"{where} has shape {shape}, but its value needs at least {value.shape}")
    sized = tuple(
        m if k in value.inferred else n for k, (n, m) in enumerate(zip(value.shape, shape))
    )
    return dataclasses.replace(value, shape=sized, inferred=())


def checked_value(node: Var, values: dict[str, Any]) -> Any:
    """The value given for a variable (any array-like), checked against its shape.

    Raises:
        OperandError: no value, or a value of another shape.

    """
    if node.name not in values:
        raise OperandError(f"no value for variable {node.name!r}; pass it in values")
    value = fitted(values[node.name], node.shape, f"variable {node.name!r}")
    shape = tuple(getattr(value, "shape", np.shape(value)))
    if shape != node.shape:
        raise OperandError(f"variable {node.name!r} has shape {node.shape}, its value {shape}")
    return value


def float_values(coo: Any, name: str) -> CooArray:
    """``coo`` with float64 values; complex values are refused, never cut to their real part."""
    if coo.dtype.kind == "c":
        raise OperandError(
            f"variable {name!r} has complex values; expressions compute in float64 "
            "(einsql.einsum computes with complex values)"
        )
    return CooArray(coo.coords, coo.values.astype(np.float64), coo.shape)


def variable_value(node: Var, values: dict[str, Any]) -> np.ndarray:
    """The value given for a variable, as float64 of its shape.

    Raises:
        OperandError: no value, or a value of another shape.

    """
    value = checked_value(node, values)
    if isinstance(value, Table):
        raise OperandError(
            f"variable {node.name!r} is a table; the NumPy reference reads arrays only"
        )
    return float_values(as_operand(value, 0), node.name).todense()
