"""Semirings: the same contraction plans with other sums and products.

An einsum sums products; over a semiring it "sums" with another associative,
commutative operation and "multiplies" with one that distributes over it:

============  ===========  ============  ==========  ===============================
semiring      "sum"        "product"     zero        computes
============  ===========  ============  ==========  ===============================
sum-product   SUM          ``*``         0           ordinary einsum
min-plus      MIN          ``+``         +inf        shortest paths
max-plus      MAX          ``+``         -inf        longest paths, Viterbi in logs
max-product   MAX          ``*``         0           most likely explanations
or-and        BOOL_OR      AND           false       reachability, pattern queries
log-sum-exp   log Σ exp    ``+``         -inf        probabilities kept as logarithms
============  ===========  ============  ==========  ===============================

The zero is the identity of the "sum" and absorbs in the "product": a missing
row of a COO table is that zero (an infinite distance, an impossible event,
false), so only other entries are stored, and results come back with it filled
in. Because every one of these is a commutative semiring (both operations
associative and commutative, the product distributing over the sum), every
contraction order gives the same answer: all path optimizations stay valid,
and so does summing a label that occurs in one operand before any join. Only
rounding differs for the floating-point ones. max-product assumes values that
are not negative (probabilities), where MAX distributes over ``*``.

>>> SEMIRINGS["min-plus"].zero
inf
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.errors import OptionError

#: A "sum" over axes on NumPy arrays: ``plus(array, axes, zero)``.
NumpyPlus = Callable[[np.ndarray, tuple[int, ...], Any], np.ndarray]


@dataclass(frozen=True)
class Semiring:
    """A semiring einsql computes in: its NumPy half and its SQL half, side by side.

    Attributes:
        name: its name (``semiring=`` takes it).
        zero: the identity of the sum, which absorbs in the product; missing rows.
        kind: the value kind the SQL computes with (``float`` or ``bool``),
            None for sum-product, which follows the operands' dtype.
        numpy_times: the product on NumPy arrays (broadcasting).
        numpy_plus: the sum over axes on NumPy arrays (the zero over nothing).
        sql_times: the product in SQL, a binary operator.
        sql_plus: the sum in SQL, an aggregate; None for log-sum-exp, which
            the lowering sums in its numerically stable shape.
        client_plus: the sum as a binary NumPy ufunc, whose ``reduceat`` sums
            runs of fetched products in the client (see :mod:`einsql.duplicates`).

    """

    name: str
    zero: Any
    kind: str | None
    numpy_times: Callable[[np.ndarray, np.ndarray], np.ndarray]
    numpy_plus: NumpyPlus
    sql_times: type[exp.Binary]
    sql_plus: type[exp.AggFunc] | None
    client_plus: np.ufunc


def _logsumexp(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    result: np.ndarray = reduce(
        lambda x, k: np.logaddexp.reduce(x, axis=k, keepdims=True, initial=zero),
        axis,
        a,
    )
    return np.squeeze(result, axis=axis)


def _sum(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    return np.asarray(np.sum(a, axis=axis))


def _min(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    return np.asarray(np.min(a, axis=axis, initial=zero))


def _max(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    return np.asarray(np.max(a, axis=axis, initial=zero))


def _any(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    return np.asarray(np.any(a, axis=axis))


SUM_PRODUCT = Semiring("sum-product", 0, None, np.multiply, _sum, exp.Mul, exp.Sum, np.add)

#: Booleans: what a sum-product over bool values computes, as NumPy's einsum does.
OR_AND = Semiring(
    "or-and", False, "bool", np.logical_and, _any, exp.And, exp.LogicalOr, np.logical_or
)

#: Every semiring, by name.
SEMIRINGS = {
    s.name: s
    for s in [
        SUM_PRODUCT,
        Semiring("min-plus", np.inf, "float", np.add, _min, exp.Add, exp.Min, np.minimum),
        Semiring("max-plus", -np.inf, "float", np.add, _max, exp.Add, exp.Max, np.maximum),
        Semiring("max-product", 0.0, "float", np.multiply, _max, exp.Mul, exp.Max, np.maximum),
        OR_AND,
        Semiring("log-sum-exp", -np.inf, "float", np.add, _logsumexp, exp.Add, None, np.logaddexp),
    ]
}


def get_semiring(name: str) -> Semiring:
    """The semiring called ``name``.

    Raises:
        OptionError: no semiring has that name.

    """
    if name not in SEMIRINGS:
        raise OptionError(f"unknown semiring {name!r}; use one of {', '.join(SEMIRINGS)}")
    return SEMIRINGS[name]
