"""Operands from data frames, Arrow data and files: :func:`coo`, by explicit columns.

A data frame of ``(row, col, value)`` triples is a sparse operand only once
einsql is told which columns are axes and which holds the values; passed to
``einsum`` as it is, it is refused (see :func:`einsql.operands.as_operand`).
:func:`coo` reads it by these rules:

* the source is anything that speaks the Arrow C stream interface
  (``__arrow_c_stream__``: pandas and polars data frames, pyarrow tables and
  record batch readers, DuckDB relations) or a path to a ``.parquet``,
  ``.csv`` or ``.arrow``/``.feather`` file;
* ``axes`` names the index column of each axis, in order (default: the
  convention's ``i0, i1, ...``, as many as the source has);
* ``values`` names the value column (default ``val``, or ``val_re`` and
  ``val_im`` for complex values); ``values=None`` says there is none: every
  row is a 1 (an edge list);
* index columns must be integers without NULLs and non-negative; value
  columns numbers (bool, integer, float) without NULLs; a decimal column needs
  ``dtype=`` to say what it becomes (checked, never rounded silently);
* ``shape`` gives each axis' size; an axis given as ``None`` (or all of them,
  with ``shape=None``) takes its label's size in the einsum: the largest index
  any operand holds on that label, plus one. So two frames sharing a label
  agree, and an axis never broadcasts because its frame happens to be short;
* a repeated index tuple is an error, or summed with ``duplicates="sum"``.

Values reach the database as arrays do: registered as Arrow on DuckDB (no copy
of the value column), binary ``COPY`` on PostgreSQL.

>>> import pyarrow as pa
>>> edges = pa.table({"src": [0, 1, 2], "dst": [1, 2, 0]})
>>> a = coo(edges, axes=["src", "dst"], values=None)
>>> a.values.tolist(), a.shape, a.inferred
([1, 1, 1], (3, 3), (0, 1))
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from einsql.convention import COMPLEX_VALUES, VALUE
from einsql.equation import ELLIPSIS, operand_tokens
from einsql.errors import ExactnessError, OperandError, OptionError
from einsql.operands import CooArray, Operand, checked_coo, index_keys, is_count

#: What ``values`` defaults to: the convention's value column(s), whichever the source has.
CONVENTION = "convention"

#: How ``duplicates`` may treat repeated index tuples.
DUPLICATES = ("error", "sum")

#: File suffixes :func:`coo` reads, and the pyarrow reader of each.
_READERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_READERS |= {".arrow": "feather", ".feather": "feather", ".ipc": "feather"}


def coo(
    source: Any,
    axes: Sequence[str] | None = None,
    values: str | Sequence[str] | None = CONVENTION,
    shape: Sequence[int | None] | None = None,
    dtype: Any = None,
    duplicates: str = "error",
) -> CooArray:
    """A sparse operand read from the columns of a data frame, Arrow data or a file.

    Args:
        source: a pandas or polars data frame, a pyarrow ``Table``,
            ``RecordBatch`` or ``RecordBatchReader``, any object with
            ``__arrow_c_stream__``, or the path of a Parquet, CSV or Arrow file.
        axes: the index column of each axis, in axis order; default ``i0, i1, ...``.
        values: the value column; two names for the real and imaginary parts of
            complex values; ``None`` for none (every row holds 1). Default: the
            column ``val`` (or ``val_re`` and ``val_im``).
        shape: each axis' size, ``None`` for an axis whose size is its label's
            in the einsum (largest index of any operand plus one); ``None``
            alone for every axis.
        dtype: the NumPy dtype of the values; required for a decimal column.
        duplicates: ``"error"`` (default) or ``"sum"`` to add up the values of
            rows with the same indices.

    Returns:
        A :class:`einsql.CooArray`; its ``inferred`` axes take their size from
        the einsum it is used in.

    Raises:
        OperandError: a source einsql does not read, a missing column, an
            index column that is not integers or holds NULLs or negative
            numbers, values that are not numbers, repeated indices.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"row": [0, 2], "col": [1, 1], "w": [0.5, 2.0]})
    >>> m = coo(frame, axes=["row", "col"], values="w", shape=(3, 2))
    >>> m.todense().tolist()
    [[0.0, 0.5], [0.0, 0.0], [0.0, 2.0]]
    """
    if duplicates not in DUPLICATES:
        raise OptionError(
            f"duplicates= is one of {', '.join(map(repr, DUPLICATES))}, not {duplicates!r}"
        )
    table = _arrow_table(source)
    where = _described(source)
    axis_names = axis_names_in(table.column_names, axes, where)
    value_names = value_names_in(table.column_names, values, where)
    if axes is None:
        _only_convention(table.column_names, axis_names + value_names, where)
    coords = _index_columns(table, axis_names, where)
    vals = _value_column(table, value_names, dtype, where)
    dims = given_sizes(shape, len(axis_names), where)
    largest = coords.max(axis=0, initial=-1)  # -1 on every axis of an empty source
    provisional = tuple(int(top) + 1 if n is None else n for n, top in zip(dims, largest))
    inside = bool((largest < np.array(provisional, dtype=np.int64)).all())
    if duplicates == "sum" and inside:  # outside its shape: checked_coo says where
        coords, vals = _summed(coords, vals, provisional)
    inferred = tuple(k for k, n in enumerate(dims) if n is None)
    checked = checked_coo(CooArray(coords, vals, provisional), 0, where)
    return replace(checked, inferred=inferred)


def _described(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"file {os.fspath(source)!r}"
    kind = type(source)
    return f"the {kind.__module__.split('.')[0]} {kind.__name__}"


def _arrow_table(source: Any) -> pa.Table:
    """``source`` as a pyarrow table, by the rule for its kind."""
    if isinstance(source, (str, os.PathLike)):
        return _unique_names(_read_file(Path(os.fspath(source))))
    if isinstance(source, pa.Table):
        return _unique_names(source)
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, pa.RecordBatchReader):
        return source.read_all()
    try:
        if type(source).__module__.split(".")[0] == "pandas" and hasattr(source, "columns"):
            return _unique_names(pa.Table.from_pandas(source, preserve_index=False))
        if hasattr(source, "__arrow_c_stream__"):
            return _unique_names(pa.table(source))
    except (pa.ArrowException, ValueError, TypeError) as error:
        raise OperandError(
            f"einsql.coo cannot read {_described(source)} as a table: {error}"
        ) from None
    raise OperandError(
        f"einsql.coo reads data frames, Arrow data and Parquet, CSV or Arrow files, "
        f"not {_described(source)}; for arrays, pass them to einsum as they are"
    )


def _unique_names(table: pa.Table) -> pa.Table:
    """``table``, if no two of its columns share a name (which one would be meant?)."""
    names = table.column_names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise OperandError(f"einsql.coo reads tables whose column names differ; {twice} repeat")
    return table


def _read_file(path: Path) -> pa.Table:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise OperandError(
            f"einsql.coo reads {', '.join(sorted(_READERS))} files, not {str(path)!r}; "
            "read other formats into a data frame first"
        )
    if not path.is_file():
        raise OperandError(f"no file {str(path)!r}")
    try:
        if reader == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if reader == "csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        import pyarrow.feather as feather

        return feather.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise OperandError(f"cannot read {str(path)!r}: {error}") from None


def axis_names_in(columns: list[str], axes: Sequence[str] | None, where: str) -> list[str]:
    """The index columns of each axis: ``axes``, checked, or the convention's ``i0, i1, ...``.

    >>> axis_names_in(["i0", "i1", "val"], None, "t"), axis_names_in(["a", "b"], ["b"], "t")
    (['i0', 'i1'], ['b'])
    """
    if axes is None:
        names: list[str] = []
        while f"i{len(names)}" in columns:
            names.append(f"i{len(names)}")
        stray = [c for c in columns if re.fullmatch(r"i[0-9]+", c) and c not in names]
        if stray:
            raise OperandError(
                f"{where} has index columns {', '.join(names + stray)}, not i0, i1, ... in a "
                "row: name the axis columns with axes=[...]"
            )
        return names
    if isinstance(axes, str):
        raise OperandError(f"axes= is a list of column names, one per axis, not {axes!r}")
    names = list(axes)
    _require(columns, names, where, "axes")
    if len(set(names)) != len(names):
        raise OperandError(f"axes= names a column twice: {names}")
    return names


def value_names_in(columns: list[str], values: Any, where: str, ones: bool = True) -> list[str]:
    """The value column(s): ``values``, checked, or the convention's (``[]``: none).

    ``ones`` says whether the source may have none (every row 1), for the message.

    >>> value_names_in(["i0", "val_re", "val_im"], CONVENTION, "t")
    ['val_re', 'val_im']
    """
    if values is None:
        return []
    if isinstance(values, str) and values == CONVENTION:
        if VALUE in columns:
            return [VALUE]
        if all(c in columns for c in COMPLEX_VALUES):
            return list(COMPLEX_VALUES)
        hint = ", or pass values=None for an edge list (every row holds 1)" if ones else ""
        raise OperandError(
            f"{where} has no value column {VALUE!r} (its columns: {columns}); name it with "
            f"values=...{hint}"
        )
    names = [values] if isinstance(values, str) else list(values)
    if len(names) not in (1, 2):
        raise OperandError("values= names one column, or two for complex values (real, imag)")
    _require(columns, names, where, "values")
    return names


def _only_convention(columns: list[str], used: list[str], where: str) -> None:
    """Without ``axes``, every column is an axis ``i0, i1, ...`` or a value: none is guessed at."""
    other = [c for c in columns if c not in used]
    if other:
        raise OperandError(
            f"{where} has column(s) {', '.join(other)} that are neither axes i0, i1, ... nor "
            "values: name the axis columns with axes=[...]"
        )


def _require(columns: list[str], names: list[str], where: str, argument: str) -> None:
    missing = [n for n in names if n not in columns]
    if missing:
        raise OperandError(
            f"{where} has no column {missing[0]!r} named in {argument}= (its columns: {columns})"
        )


def _index_columns(table: pa.Table, names: list[str], where: str) -> np.ndarray:
    coords = np.empty((table.num_rows, len(names)), dtype=np.int64)
    for k, name in enumerate(names):
        column = _typed_if_empty(table.column(name), pa.int64())
        if not pa.types.is_integer(column.type):
            raise OperandError(
                f"index column {name!r} of {where} has type {column.type}; index columns "
                "must be integers (cast it first)"
            )
        _no_nulls(column, name, where)
        array = column.to_numpy()
        if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
            raise OperandError(f"index column {name!r} of {where} holds indices past 2**63")
        coords[:, k] = array
        if array.size and coords[:, k].min() < 0:
            raise OperandError(f"index column {name!r} of {where} holds negative indices")
    return coords


def _typed_if_empty(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """An empty column of no type (a CSV file of a header alone) as ``kind``; others unchanged."""
    if pa.types.is_null(column.type) and len(column) == 0:
        return column.cast(kind)
    return column


def _no_nulls(column: pa.ChunkedArray, name: str, where: str) -> None:
    if column.null_count:
        raise OperandError(
            f"column {name!r} of {where} holds {column.null_count} NULL(s); "
            "a missing entry is a missing row (drop or fill them first)"
        )


def _value_column(table: pa.Table, names: list[str], dtype: Any, where: str) -> np.ndarray:
    if not names:
        return np.ones(table.num_rows, dtype=np.dtype(dtype) if dtype is not None else np.int64)
    parts = [_numbers(table.column(name), name, dtype, where) for name in names]
    if len(parts) == 1:
        return parts[0]
    values = np.empty(table.num_rows, dtype=np.complex128)
    values.real, values.imag = parts
    return values


def _numbers(column: pa.ChunkedArray, name: str, dtype: Any, where: str) -> np.ndarray:
    """A value column as NumPy numbers: as stored, or cast to ``dtype`` exactly (checked)."""
    _no_nulls(column, name, where)
    column = _typed_if_empty(column, pa.float64())
    kind = column.type
    if pa.types.is_decimal(kind) and dtype is None:
        raise OperandError(
            f"value column {name!r} of {where} is {kind}; say what it becomes with "
            "dtype='int64' or dtype='float64'"
        )
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    if not (numeric or pa.types.is_decimal(kind)):
        raise OperandError(
            f"value column {name!r} of {where} has type {kind}; values must be numbers"
        )
    if dtype is not None:
        try:  # Arrow's safe cast refuses overflow, truncated fractions and NaN as integers
            column = column.cast(pa.from_numpy_dtype(np.dtype(dtype)), safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as error:
            raise OperandError(
                f"value column {name!r} of {where} does not fit dtype {dtype}: {error}"
            ) from None
    return np.asarray(column.to_numpy())


def given_sizes(
    shape: Sequence[int | None] | None, rank: int, where: str
) -> tuple[int | None, ...]:
    """Each axis' size as given, ``None`` where it is to be inferred."""
    if shape is None:
        return (None,) * rank
    dims = tuple(shape)
    if len(dims) != rank:
        raise OperandError(f"shape={dims} has {len(dims)} axes but {where} maps {rank} axes")
    for n in dims:
        if n is not None and not is_count(n):
            raise OperandError(f"shape={dims} holds {n!r}; sizes are non-negative integers or None")
    return tuple(None if n is None else int(n) for n in dims)


def _summed(
    coords: np.ndarray, values: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with the same indices added up (``or`` for booleans), as scipy's ``sum_duplicates``.

    Integer sums are exact: one that does not fit the values' dtype is an error.

    >>> _summed(np.array([[1], [0], [1]]), np.array([1.0, 2.0, 3.0]), (2,))[1].tolist()
    [2.0, 4.0]
    """
    keys = index_keys(coords, shape) if shape else np.zeros(len(values), dtype=np.int64)
    unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if values.dtype.kind in "iu":
        return coords[first], _exact_sums(values, inverse, len(unique))
    totals = np.zeros(len(unique), dtype=values.dtype)
    (np.logical_or if values.dtype == np.bool_ else np.add).at(totals, inverse, values)
    return coords[first], totals


def _exact_sums(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """The sum of each group of integer ``values``, in their dtype.

    >>> _exact_sums(np.array([100, 100], dtype=np.int8), np.array([0, 0]), 1)
    Traceback (most recent call last):
    ...
    einsql.errors.ExactnessError: summing repeated index tuples gives 200, which int8 does not hold
    """
    totals = np.zeros(count, dtype=object)
    np.add.at(totals, groups, values.astype(object))
    limits = np.iinfo(values.dtype)
    outside = [int(t) for t in totals if not limits.min <= t <= limits.max]
    if outside:
        raise ExactnessError(
            f"summing repeated index tuples gives {outside[0]}, which {values.dtype} does not hold"
        )
    return totals.astype(values.dtype)


def resolve_sizes(subscripts: str, operands: Sequence[Operand]) -> tuple[Operand, ...]:
    """The operands with each inferred axis sized as its label: the largest over all operands.

    Sizes given (by an array's shape, a table's or ``shape=``) count too; an
    inferred axis never shrinks below the indices its operand holds.

    Raises:
        OperandError: an operand with inferred axes under an ellipsis (its axes
            have no label to size them by).

    >>> a = replace(CooArray(np.array([[0, 2]]), np.array([1.0]), (1, 3)), inferred=(0, 1))
    >>> b = CooArray(np.array([[4]]), np.array([1.0]), (5,))
    >>> [op.shape for op in resolve_sizes("ij,i->j", [a, b])]
    [(5, 3), (5,)]
    """
    if not any(op.inferred for op in operands):
        return tuple(operands)
    tokens = operand_tokens(subscripts, len(operands))
    sizes: dict[str, int] = {}
    for k, (op, labels) in enumerate(zip(operands, tokens)):
        if op.inferred and ELLIPSIS in labels:
            raise OperandError(
                f"operand {k} takes its sizes from the einsum, but its subscripts have an "
                "ellipsis; give its shape (shape=...)"
            )
        named = _named_sizes(labels, op.shape)
        if named is None:
            return tuple(operands)  # parse says what is wrong with the ranks
        for label, n in named:
            sizes[label] = max(sizes.get(label, 0), n)
    return tuple(_sized(op, labels, sizes) for op, labels in zip(operands, tokens))


def _named_sizes(labels: list[str], shape: tuple[int, ...]) -> list[tuple[str, int]] | None:
    """Each named label's size in ``shape`` (an ellipsis covers the axes between); None: misfit.

    >>> _named_sizes(["...", "i"], (2, 9, 4)), _named_sizes(["i", "j"], (3,))
    ([('i', 4)], None)
    """
    if ELLIPSIS not in labels:
        return list(zip(labels, shape)) if len(labels) == len(shape) else None
    at = labels.index(ELLIPSIS)
    before, after = labels[:at], labels[at + 1 :]
    if len(before) + len(after) > len(shape):
        return None
    return list(zip(before, shape)) + list(zip(after, shape[len(shape) - len(after) :]))


def _sized(op: Operand, labels: list[str], sizes: dict[str, int]) -> Operand:
    if not op.inferred:
        return op
    shape = tuple(sizes[labels[k]] if k in op.inferred else n for k, n in enumerate(op.shape))
    return replace(op, shape=shape, inferred=())
