"""Matrix functions of expressions: norms, trace, diagonal, Kronecker product.

Each is built from einsum and elementwise nodes, so it lowers to SQL, runs on
the NumPy reference and has derivatives of every order with nothing of its own.
A Kronecker product reshapes, which an einsum cannot: it contracts with 0/1
selector constants instead (``S[r, i] = 1`` where ``r // p == i``), each
holding one nonzero per row, so the SQL carries them as short ``VALUES`` lists.

>>> from einsql.expr import var
>>> X = var("X", (3, 3))
>>> print(trace(X), norm2(var("x", (2,))))
(X[aa] -> []) sqrt0((x[a] x[a] -> []))
>>> kron(X, var("B", (2, 4))).shape
(6, 12)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from einsql.errors import ShapeError
from einsql.expr import Expr, as_expr, const, fresh_labels, make_einsum, sum_, unary


def norm1(x: Any) -> Expr:
    """The sum of the absolute values of every entry (a matrix's entrywise 1-norm).

    Its derivative is ``sign(x)``: 0 where an entry is 0.

    >>> from einsql.expr import var
    >>> print(norm1(var("x", (2,))))
    (abs(x)[a] -> [])
    """
    return sum_(unary("abs", x))


def norm2(x: Any) -> Expr:
    """The Euclidean norm of a vector, the Frobenius norm of a matrix (any shape).

    ``sqrt(sum(x * x))``, whose gradient is ``x / norm2(x)``, and 0 at
    ``x = 0`` (the smallest subgradient) on every backend, with a Hessian of
    ``I / n - x x^T / n^3`` (0 at 0 as well).

    >>> from einsql.expr import var
    >>> norm2(var("X", (2, 3))).shape
    ()
    """
    a = as_expr(x)
    labels = fresh_labels(a.ndim, "")
    return unary("sqrt0", make_einsum([labels, labels], "", [a, a]))


def trace(x: Any) -> Expr:
    """The sum of a matrix's main diagonal (NumPy's ``trace``; a rectangular one too).

    >>> from einsql.expr import var
    >>> print(trace(var("x", (2, 2))))
    (x[aa] -> [])

    Raises:
        ShapeError: ``x`` is not a matrix.

    """
    a = as_expr(x)
    if a.ndim != 2:
        raise ShapeError(f"trace needs a matrix, not an operand of shape {a.shape}")
    return sum_(diag(a))


def diag(x: Any) -> Expr:
    """A matrix's main diagonal, or a vector placed on a matrix's diagonal (``np.diag``).

    >>> from einsql.expr import var
    >>> print(diag(var("x", (2,))), diag(var("X", (2, 2))))
    (x[a] -> [aa]) (X[aa] -> [a])
    >>> diag(var("Y", (2, 3))).shape
    (2,)

    Raises:
        ShapeError: ``x`` is neither a vector nor a matrix.

    """
    a = as_expr(x)
    if a.ndim == 1:
        return make_einsum(["a"], "aa", [a])
    if a.ndim != 2:
        raise ShapeError(f"diag needs a vector or a matrix, not an operand of shape {a.shape}")
    rows, columns = a.shape
    if rows == columns:
        return make_einsum(["aa"], "a", [a])
    n = min(rows, columns)  # a rectangular matrix: pick entries (k, k) with selectors
    picks = [const(np.eye(n, rows)), const(np.eye(n, columns)), a]
    return make_einsum(["ka", "kb", "ab"], "k", picks)


def kron(left: Any, right: Any) -> Expr:
    """The Kronecker product, as NumPy's ``kron`` (operands of any number of axes).

    Entry ``(i p + k, j q + l)`` of ``kron(A, B)`` is ``A[i, j] B[k, l]`` for a
    ``B`` of shape ``(p, q)``. An operand with fewer axes gets leading axes of
    size 1, as in NumPy. Each result axis of size ``m p`` contracts with two
    selector constants of ``m p`` nonzeros, of ``m p (m + p)`` entries held by
    the expression.

    >>> from einsql.expr import var
    >>> kron(var("A", (2, 3)), var("b", (4,))).shape
    (2, 12)
    """
    a, b = as_expr(left), as_expr(right)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    ndim = max(a.ndim, b.ndim)
    shape_a = (1,) * (ndim - a.ndim) + a.shape
    shape_b = (1,) * (ndim - b.ndim) + b.shape
    labels = iter(fresh_labels(3 * ndim, ""))
    left_labels, right_labels, output = "", "", ""
    inputs: list[str] = []
    selectors: list[Expr] = []
    for axis, (m, p) in enumerate(zip(shape_a, shape_b)):
        i, k, r = next(labels), next(labels), next(labels)
        if axis < ndim - a.ndim:  # a has no such axis: the result's index is b's
            right_labels, output = right_labels + k, output + k
        elif axis < ndim - b.ndim:
            left_labels, output = left_labels + i, output + i
        else:
            left_labels, right_labels, output = left_labels + i, right_labels + k, output + r
            inputs += [r + i, r + k]
            selectors += _kron_selectors(m, p)
    return make_einsum([left_labels, right_labels, *inputs], output, [a, b, *selectors])


#: The most entries kron's two dense selectors of one axis may hold (80 MB of float64).
MAX_SELECTOR_ENTRIES = 10**7


def _kron_selectors(m: int, p: int) -> tuple[Expr, Expr]:
    """``S[r, i] = 1`` where ``r // p == i``, and ``T[r, k] = 1`` where ``r % p == k``.

    Raises:
        ShapeError: the selectors would hold more than ``MAX_SELECTOR_ENTRIES``.

    """
    if m * p * (m + p) > MAX_SELECTOR_ENTRIES:
        raise ShapeError(
            f"kron of axes of sizes {m} and {p} needs dense selectors of {m * p * (m + p):,} "
            f"entries, more than einsql builds ({MAX_SELECTOR_ENTRIES:,}); use einsum with "
            "the axes kept apart"
        )
    r = np.arange(m * p)
    rows, cols = np.zeros((m * p, m)), np.zeros((m * p, p))
    rows[r, r // p] = 1.0
    cols[r, r % p] = 1.0
    return const(rows), const(cols)
