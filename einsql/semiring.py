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

from einsql.errors import OptionError


@dataclass(frozen=True)
class Semiring:
    """A semiring einsql computes in.

    Attributes:
        name: its name (``semiring=`` takes it).
        zero: the identity of the sum, which absorbs in the product; missing rows.
        kind: the value kind the SQL computes with (``float`` or ``bool``),
            None for sum-product, which follows the operands' dtype.
        times: the product in SQL: ``mul``, ``add`` or ``and``.
        plus: the sum in SQL: ``sum``, ``min``, ``max``, ``or`` or ``logsumexp``.

    """

    name: str
    zero: Any
    kind: str | None
    times: str
    plus: str

    def numpy_times(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The product on NumPy arrays (broadcasting)."""
        return _NUMPY_TIMES[self.times](a, b)

    def numpy_plus(self, a: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
        """The sum of ``a`` over ``axis`` (the zero over nothing)."""
        return _NUMPY_PLUS[self.plus](a, axis, self.zero)


SUM_PRODUCT = Semiring("sum-product", 0, None, "mul", "sum")

#: Every semiring, by name.
SEMIRINGS = {
    s.name: s
    for s in [
        SUM_PRODUCT,
        Semiring("min-plus", np.inf, "float", "add", "min"),
        Semiring("max-plus", -np.inf, "float", "add", "max"),
        Semiring("max-product", 0.0, "float", "mul", "max"),
        Semiring("or-and", False, "bool", "and", "or"),
        Semiring("log-sum-exp", -np.inf, "float", "add", "logsumexp"),
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


_NUMPY_TIMES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mul": np.multiply,
    "add": np.add,
    "and": np.logical_and,
}


def _logsumexp(a: np.ndarray, axis: tuple[int, ...], zero: Any) -> np.ndarray:
    result: np.ndarray = reduce(
        lambda x, k: np.logaddexp.reduce(x, axis=k, keepdims=True, initial=zero),
        axis,
        a,
    )
    return np.squeeze(result, axis=axis)


_NUMPY_PLUS: dict[str, Callable[[np.ndarray, tuple[int, ...], Any], np.ndarray]] = {
    "sum": lambda a, axis, zero: np.sum(a, axis=axis),
    "min": lambda a, axis, zero: np.min(a, axis=axis, initial=zero),
    "max": lambda a, axis, zero: np.max(a, axis=axis, initial=zero),
    "or": lambda a, axis, zero: np.any(a, axis=axis),
    "logsumexp": _logsumexp,
}
