"""Summing in the client: fetched products whose index tuples repeat become one row each.

A high-cardinality ``GROUP BY`` is the costliest part of a large sparse
contraction in DuckDB (about 90 ns a row on 2 threads, where the join and the
products cost about 20), so when a result is fetched anyway, the last step may
run as join and product only (``Layout.client_sum``) and the client sums each
index tuple's products with the semiring's sum as a NumPy ufunc:

1. each tuple becomes its row-major linear index (a key);
2. the keys are sorted, carrying each row's position: key and position packed
   into one ``int64`` when they fit together, which NumPy sorts by value with
   its vectorized sort (about 8 times faster than ``argsort``), else ``argsort``;
3. the first row of each run of equal keys stands for it, and the run's other
   rows are summed into it by ``ufunc.at`` (few rows repeat in a large sparse
   result, and ``reduceat`` costs as much for a run of one);
4. the keys of the runs become index tuples again, by division.

A float sum into at most :data:`SCATTER_CELLS_PER_ROW` cells per row skips the
sort: ``np.bincount`` adds every row into a dense array, whose nonzero cells
are the result.

>>> rows = {"i0": np.array([1, 0, 1]), "i1": np.array([2, 0, 2]), "val": np.array([1.0, 5.0, 2.0])}
>>> summed = combine_duplicates(rows, (2, 3), np.add)
>>> [summed[c].tolist() for c in ("i0", "i1", "val")]
[[0, 1], [0, 2], [5.0, 3.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: Results of this dense size or more are summed in the database: their linear indices
#: would not fit an ``int64``.
MAX_KEYS = 2**63


def combine_duplicates(
    rows: Mapping[str, np.ndarray], shape: tuple[int, ...], plus: np.ufunc
) -> dict[str, np.ndarray]:
    """``rows`` (axis columns, then value columns) with each index tuple once, its values summed.

    Rows come out in row-major order of their index tuples. A float sum into few
    cells is scattered into a dense array instead of sorted, and then a tuple
    whose sum is exactly 0 is left out (as :func:`einsql.results.to_coo` would).

    Args:
        rows: the columns ``i0, ..., val`` (``val_re, val_im`` if complex) as fetched.
        shape: the result's shape; its dense size must be below :data:`MAX_KEYS`.
        plus: the semiring's sum, a binary ufunc (``np.add``, ``np.minimum``, ...).

    Returns:
        The columns, by the same names.

    """
    assert math.prod(shape) < MAX_KEYS, f"{shape} has too many cells for int64 keys"
    names = list(rows)
    rank = len(shape)
    columns = [np.asarray(rows[name]) for name in names]
    count = len(columns[-1])
    if count == 0:
        return dict(rows)
    keys = _linear_keys(columns[:rank], shape, count)
    if _scatters(plus, columns[rank:], math.prod(shape), count):
        return dict(zip(names, _scattered(keys, columns[rank], shape)))
    order, ordered = _sorted(keys, math.prod(shape))
    first = np.empty(count, dtype=bool)  # whether each sorted key starts a run of equal ones
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    coords = _unravel(ordered[first], shape)  # by division, cheaper than gathering columns
    del ordered
    kept = order[first]  # the row that stands for each run
    repeats = np.flatnonzero(~first)  # sorted positions of the other rows of a run
    runs = repeats - np.arange(1, len(repeats) + 1)  # each one's run: the firsts before it, less 1
    others = order[repeats]
    del order, first
    sums = []
    for column in columns[rank:]:
        summed = column[kept]
        if len(others):
            plus.at(summed, runs, column[others])
        sums.append(summed)
    return dict(zip(names, [*coords, *sums]))


#: Float sums scatter into a dense array when it has at most this many cells per row.
SCATTER_CELLS_PER_ROW = 4

#: ... and at most this many cells (1 GiB of float64).
MAX_SCATTER_CELLS = 2**27


def _scatters(plus: np.ufunc, values: Sequence[np.ndarray], size: int, count: int) -> bool:
    """Whether a dense scatter-add (``np.bincount``) sums the rows, instead of a sort.

    Only real floating-point sums (``bincount`` adds in float64), into few cells per row.
    """
    real = len(values) == 1 and values[0].dtype.kind == "f" and values[0].dtype.itemsize <= 8
    return plus is np.add and real and scatter_fits(size, count)


def scatter_fits(size: int, count: float) -> bool:
    """Whether ``count`` rows into ``size`` cells are few enough cells to scatter into.

    >>> scatter_fits(10**6, 10**6), scatter_fits(4 * 10**8, 5 * 10**7)
    (True, False)
    """
    return size <= min(SCATTER_CELLS_PER_ROW * count, MAX_SCATTER_CELLS)


def _scattered(keys: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """Axis columns and sums of the nonzero cells, after adding every row into a dense array.

    >>> [c.tolist() for c in _scattered(np.array([3, 0, 3]), np.array([1.0, 2.0, 0.5]), (2, 2))]
    [[0, 1], [0, 1], [2.0, 1.5]]
    """
    dense = np.bincount(keys, weights=values, minlength=math.prod(shape))
    cells = np.flatnonzero(dense)  # a sum of exactly 0 is no entry, as to_coo drops it
    return [*_unravel(cells, shape), dense[cells]]


def _linear_keys(axes: Sequence[np.ndarray], shape: tuple[int, ...], count: int) -> np.ndarray:
    """Each row's row-major linear index, as ``int64`` (the dense size is below 2**63)."""
    keys = np.zeros(count, dtype=np.int64)
    for column, size in zip(axes, shape):
        keys *= size
        keys += column  # an int32 or int64 column adds in place, without a copy
    return keys


def _sorted(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutation sorting ``keys`` (reused: their values are lost), and the sorted keys.

    >>> order, ordered = _sorted(np.array([5, 1, 5, 0]), 6)
    >>> order.tolist(), ordered.tolist()
    ([3, 1, 0, 2], [0, 1, 5, 5])
    """
    count = len(keys)
    bits = max(count - 1, 1).bit_length()
    if max(size - 1, 1).bit_length() + bits > 63:  # key and position do not fit one int64
        order = np.argsort(keys, kind="stable")
        return order, keys[order]
    keys <<= bits
    keys |= np.arange(count, dtype=np.int64)
    keys.sort()
    ordered = keys >> bits
    keys &= (1 << bits) - 1
    return keys, ordered


def _unravel(keys: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The index tuple of each linear index: the columns of one column-major ``int64`` block.

    Fresh memory is costly (page faults), so the block is the only allocation;
    :func:`einsql.results.to_coo` takes such columns as its coordinates without a copy.

    >>> columns = _unravel(np.array([5, 0]), (2, 3))
    >>> [c.tolist() for c in columns], columns[0].base.flags.f_contiguous
    ([[1, 0], [2, 0]], True)
    """
    coords = np.empty((len(keys), len(shape)), dtype=np.int64, order="F")
    if not shape:
        return []
    coords[:, 0] = keys
    for k in range(len(shape) - 1, 0, -1):  # peel the last axis off the key in column 0
        np.remainder(coords[:, 0], shape[k], out=coords[:, k])
        np.floor_divide(coords[:, 0], shape[k], out=coords[:, 0])
    return [coords[:, k] for k in range(len(shape))]
