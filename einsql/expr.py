"""Tensor expressions: variables, constants, einsums and elementwise functions.

An expression is a DAG of frozen nodes. Nodes are interned: building the same
expression twice gives the same object, so shared subexpressions are computed
once. Constructors simplify as they build (constants fold, zeros and ones
vanish, an einsum of einsums becomes one einsum, an identity einsum is its
operand), so derivatives stay small.

>>> x = var("x", (3,))
>>> A = var("A", (2, 3))
>>> y = einsum("ij,j->i", A, x)
>>> print(y)
(A[ab] x[b] -> [a])
>>> print(sum_(y.map("exp") + 1.0))
((exp((A[ab] x[b] -> [a])) + 1.0)[a] -> [])
>>> y is einsum("ij,j->i", A, x)
True
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from opt_einsum import contract, get_symbol

from einsql.equation import fresh_labels as equation_fresh_labels
from einsql.equation import parse
from einsql.errors import OperandError, ShapeError
from einsql.functions import FUNCTIONS, PUBLIC_FUNCTIONS

_INTERNED: weakref.WeakValueDictionary[tuple[Any, ...], Expr] = weakref.WeakValueDictionary()


@dataclass(frozen=True, eq=False)
class Expr:
    """A tensor expression of a fixed shape (float64 values)."""

    shape: tuple[int, ...]
    key: tuple[Any, ...] = field(repr=False)
    __array_priority__: ClassVar[float] = 1000.0  # ndarray @ Expr defers to Expr

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """The number of entries."""
        return math.prod(self.shape)

    @property
    def children(self) -> tuple[Expr, ...]:
        """The operands of this node."""
        return ()

    def __add__(self, other: Any) -> Expr:
        return elementwise("add", self, other)

    def __radd__(self, other: Any) -> Expr:
        return elementwise("add", other, self)

    def __sub__(self, other: Any) -> Expr:
        return elementwise("sub", self, other)

    def __rsub__(self, other: Any) -> Expr:
        return elementwise("sub", other, self)

    def __mul__(self, other: Any) -> Expr:
        return elementwise("mul", self, other)

    def __rmul__(self, other: Any) -> Expr:
        return elementwise("mul", other, self)

    def __truediv__(self, other: Any) -> Expr:
        return elementwise("div", self, other)

    def __rtruediv__(self, other: Any) -> Expr:
        return elementwise("div", other, self)

    def __pow__(self, other: Any) -> Expr:
        return elementwise("pow", self, other)

    def __neg__(self) -> Expr:
        return unary("neg", self)

    def __matmul__(self, other: Any) -> Expr:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Expr:
        return matmul(other, self)

    @property
    def T(self) -> Expr:
        """The axes reversed, as NumPy's ``.T`` (a matrix's transpose).

        >>> print(var("A", (2, 3)).T)
        (A[ab] -> [ba])
        """
        labels = fresh_labels(self.ndim, "")
        return make_einsum([labels], labels[::-1], [self])

    def map(self, fn: str) -> Expr:
        """``fn`` (a function of one argument in ``einsql.functions``) of this, elementwise.

        >>> print(var("x", (2,)).map("tan"))
        tan(x)
        """
        return unary(fn, self)

    def __repr__(self) -> str:
        return f"<einsql expression {self} of shape {self.shape}>"

    def _repr_latex_(self) -> str:
        return f"${latex(self)}$"


@dataclass(frozen=True, eq=False, repr=False)
class Var(Expr):
    """A named input tensor, given a value at evaluation."""

    name: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False, repr=False)
class Const(Expr):
    """A constant tensor."""

    value: np.ndarray = field(default_factory=lambda: np.zeros(()))

    def __str__(self) -> str:
        if self.value.ndim == 0:
            return repr(float(self.value))
        if uniform_value(self.value) is not None:
            return f"{float(self.value.flat[0])!r}{list(self.shape)}"
        return f"const{list(self.shape)}"


@dataclass(frozen=True, eq=False, repr=False)
class Einsum(Expr):
    """An Einstein summation over operand expressions (labels as in NumPy)."""

    inputs: tuple[str, ...] = ()
    output: str = ""
    operands: tuple[Expr, ...] = ()

    @property
    def children(self) -> tuple[Expr, ...]:
        """The operands."""
        return self.operands

    @property
    def subscripts(self) -> str:
        """The equation, ``"ab,b->a"``."""
        return ",".join(self.inputs) + "->" + self.output

    def __str__(self) -> str:
        terms = " ".join(f"{op}[{labels}]" for op, labels in zip(self.operands, self.inputs))
        return f"({terms} -> [{self.output}])"


@dataclass(frozen=True, eq=False, repr=False)
class Elementwise(Expr):
    """An elementwise function of one or two operands, broadcasting as NumPy does."""

    fn: str = ""
    operands: tuple[Expr, ...] = ()

    @property
    def children(self) -> tuple[Expr, ...]:
        """The operands."""
        return self.operands

    def __str__(self) -> str:
        symbol = FUNCTIONS[self.fn].symbol
        if symbol is not None:
            left, right = self.operands
            return f"({left} {symbol} {right})"
        if self.fn == "neg":
            return f"-{self.operands[0]}"
        return f"{self.fn}({self.operands[0]})"


@dataclass(frozen=True, eq=False, repr=False)
class Solve(Expr):
    """The solution ``X`` of ``A X = B`` for a square ``A`` and a vector or matrix ``B``.

    ``inv(A)`` is the solve with the identity constant as ``B``.
    """

    operands: tuple[Expr, ...] = ()

    @property
    def children(self) -> tuple[Expr, ...]:
        """The matrix, then the right-hand side."""
        return self.operands

    def __str__(self) -> str:
        matrix, rhs = self.operands
        return f"inv({matrix})" if is_identity(rhs) else f"solve({matrix}, {rhs})"


@dataclass(frozen=True, eq=False, repr=False)
class Det(Expr):
    """The determinant of a square matrix, or (``log``) the logarithm of its absolute value."""

    operands: tuple[Expr, ...] = ()
    log: bool = False

    @property
    def children(self) -> tuple[Expr, ...]:
        """The matrix."""
        return self.operands

    def __str__(self) -> str:
        return f"{'logdet' if self.log else 'det'}({self.operands[0]})"


def _intern(cls: type[Expr], shape: tuple[int, ...], key: tuple[Any, ...], **fields: Any) -> Any:
    """The node of ``key``: the live one built before, or a new one.

    A key names the node's operands by the (interned) nodes themselves, which
    hash and compare by identity, so looking one up costs the same at any
    depth; a key holding nested keys would hash the whole subexpression.
    """
    found = _INTERNED.get(key)
    if found is None:
        found = cls(shape=shape, key=key, **fields)
        _INTERNED[key] = found
    return found


def var(name: str, shape: Sequence[int]) -> Var:
    """A symbolic tensor called ``name``.

    >>> var("w", (3,)).shape
    (3,)
    """
    dims = tuple(int(n) for n in shape)
    if not name or any(n < 0 for n in dims):
        raise OperandError("a variable needs a name and a shape of non-negative integers")
    result: Var = _intern(Var, dims, ("var", name, dims), name=name)
    return result


def const(value: Any) -> Const:
    """A constant tensor (stored as float64).

    A constant is a real number (``bool``, ``int``, ``float`` or a NumPy
    scalar of those kinds), a NumPy array of them, or nested lists or tuples
    of them; anything else (a string, a ``Decimal``, a complex number, a data
    frame) is refused rather than guessed at.

    >>> print(const(2) * const([1.0, 3.0]))
    const[2]
    >>> const("2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    einsql.errors.OperandError: a constant in an expression is a real number ..., not str

    Raises:
        OperandError: ``value`` is not a real number or an array of them.

    """
    array = np.array(_real_numbers(value), dtype=np.float64)
    array.setflags(write=False)
    key = ("const", array.shape, array.tobytes())
    result: Const = _intern(Const, array.shape, key, value=array)
    return result


_REAL_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)


def _real_numbers(value: Any) -> Any:
    """``value`` if it is a real number, or an array (or nested sequence) of them.

    Raises:
        OperandError: it is anything else.

    """
    if isinstance(value, _REAL_SCALARS):
        return value
    array = value
    if isinstance(value, (list, tuple)):
        with np.errstate(all="ignore"):
            array = np.array(value) if _all_real(value) else None
    if isinstance(array, np.ndarray) and array.dtype.kind in "biuf":
        return array
    raise OperandError(
        "a constant in an expression is a real number or an array of them, "
        f"not {type(value).__name__}"
    )


def _all_real(value: Any) -> bool:
    """Whether a nested list or tuple holds real numbers (or real arrays) only."""
    if isinstance(value, (list, tuple)):
        return all(_all_real(item) for item in value)
    return isinstance(value, _REAL_SCALARS) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
    )


def as_expr(value: Any) -> Expr:
    """An expression as it is; anything array-like as a constant."""
    return value if isinstance(value, Expr) else const(value)


def zeros(shape: Sequence[int]) -> Const:
    """The all-zero constant of ``shape``."""
    return const(np.zeros(tuple(shape)))


def is_zero(expr: Expr) -> bool:
    """Whether ``expr`` is a constant of zeros."""
    return isinstance(expr, Const) and not expr.value.any()


def uniform_value(value: np.ndarray) -> float | None:
    """The single value of an array that holds one value everywhere, else None."""
    if value.size and (value == value.flat[0]).all():
        return float(value.flat[0])
    return None


def is_identity(expr: Expr) -> bool:
    """Whether ``expr`` is an identity matrix constant (``inv`` solves with one).

    >>> is_identity(const(np.eye(3))), is_identity(const(np.ones((2, 2))))
    (True, False)
    """
    value = expr.value if isinstance(expr, Const) else None
    return (
        value is not None
        and value.ndim == 2
        and value.shape[0] == value.shape[1]
        and bool((value == np.eye(len(value))).all())
    )


def _is_ones(expr: Expr) -> bool:
    return isinstance(expr, Const) and uniform_value(expr.value) == 1.0


def scalar_value(expr: Expr) -> float | None:
    """The value of a scalar constant, else None."""
    if isinstance(expr, Const) and expr.value.ndim == 0:
        return float(expr.value)
    return None


# --- elementwise ---------------------------------------------------------------------


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast shape.

    Raises:
        ShapeError: the shapes do not broadcast.

    """
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {', '.join(map(str, shapes))} do not broadcast") from None


def unary(fn: str, operand: Any) -> Expr:
    """``fn(operand)`` elementwise (``fn`` a function of one argument in ``FUNCTIONS``)."""
    a = as_expr(operand)
    if isinstance(a, Const):
        with np.errstate(all="ignore"):
            return const(FUNCTIONS[fn].numpy(a.value))
    if fn == "neg" and isinstance(a, Elementwise) and a.fn == "neg":
        return a.operands[0]
    result: Expr = _intern(Elementwise, a.shape, ("map", fn, a), fn=fn, operands=(a,))
    return result


def elementwise(fn: str, left: Any, right: Any) -> Expr:
    """``left fn right`` elementwise, broadcasting (``fn`` of two arguments in ``FUNCTIONS``)."""
    a, b = as_expr(left), as_expr(right)
    shape = broadcast_shape(a.shape, b.shape)
    simpler = _simplify_binary(fn, a, b, shape)
    if simpler is not None:
        return simpler
    key = ("map", fn, a, b)
    result: Expr = _intern(Elementwise, shape, key, fn=fn, operands=(a, b))
    return result


def _simplify_binary(fn: str, a: Expr, b: Expr, shape: tuple[int, ...]) -> Expr | None:
    """Fold constants and drop additive zeros and multiplicative ones."""
    if isinstance(a, Const) and isinstance(b, Const):
        with np.errstate(all="ignore"):
            return const(FUNCTIONS[fn].numpy(a.value, b.value))
    if fn in ("add", "sub") and is_zero(b) and a.shape == shape:
        return a
    if fn == "add" and is_zero(a) and b.shape == shape:
        return b
    if fn == "sub" and is_zero(a) and b.shape == shape:
        return unary("neg", b)
    if fn == "mul" and (is_zero(a) or is_zero(b)):
        return zeros(shape)
    if fn in ("mul", "div") and _is_ones(b) and a.shape == shape:
        return a
    if fn == "mul" and _is_ones(a) and b.shape == shape:
        return b
    if fn == "pow" and scalar_value(b) == 1.0:
        return a
    return None


def solve(matrix: Any, rhs: Any) -> Expr:
    """The solution ``X`` of ``matrix @ X = rhs``, for a vector or a matrix ``rhs``.

    As ``numpy.linalg.solve``: ``rhs`` of shape ``(n,)`` gives a vector, of
    shape ``(n, m)`` a matrix, one solution per column. Databases solve by
    Gauss-Jordan elimination of ``[matrix | rhs]`` with partial pivoting (the
    largest entry of the column, as LAPACK), one step (a CTE) per row: meant
    for small systems, at most ``Dialect.max_solve_size`` rows (64 on DuckDB,
    PostgreSQL and Spark, 32 on SQLite). A singular matrix (an exactly zero
    pivot) gives NaN everywhere, on every backend and on the NumPy reference,
    which runs the same elimination: SQL cannot raise portably.

    Its derivative (reverse mode, ``X = solve(A, B)``): ``B`` gets
    ``inv(A)^T`` times the incoming adjoint, ``A`` gets minus that times
    ``X^T``, so a Hessian of a solve is built of solves again.

    >>> print(solve(var("H", (2, 2)), var("g", (2,))))
    solve(H, g)
    >>> solve(var("H", (2, 2)), var("G", (2, 5))).shape
    (2, 5)

    Raises:
        ShapeError: ``matrix`` is not square, or ``rhs`` is not a vector or
            matrix of its number of rows.

    """
    a, b = as_expr(matrix), as_expr(rhs)
    n = _square_size(a, "solve")
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ShapeError(
            f"solve needs a square matrix and a vector or matrix of as many rows, "
            f"not {a.shape} and {b.shape}"
        )
    if n == 0:
        return zeros(b.shape)
    result: Expr = _intern(Solve, b.shape, ("solve", a, b), operands=(a, b))
    return result


def inv(matrix: Any) -> Expr:
    """The inverse of a square matrix: ``solve(matrix, I)`` with the identity as a constant.

    The identity holds ``n`` nonzeros, so the SQL carries it as a short
    ``VALUES`` list; the elimination of ``[matrix | I]`` is one step per row,
    as :func:`solve`, with its limits, and a singular matrix gives NaN
    everywhere. Its derivative is the solve's: ``d inv(A) = -inv(A) dA inv(A)``.

    >>> A = var("A", (3, 3))
    >>> print(inv(A), inv(A).shape)
    inv(A) (3, 3)
    >>> inv(A) is solve(A, np.eye(3))
    True

    Raises:
        ShapeError: ``matrix`` is not square.

    """
    a = as_expr(matrix)
    return solve(a, const(np.eye(_square_size(a, "inv"))))


def det(matrix: Any) -> Expr:
    """The determinant of a square matrix (``numpy.linalg.det``).

    In the databases, the product of the pivots of the Gauss-Jordan elimination
    (as :func:`solve`, with its size limits), negated at each row swap. A
    singular matrix (an exactly zero pivot) has determinant 0, as in NumPy.
    Its gradient is ``det(A) inv(A)^T``, NaN where ``A`` is singular.

    >>> print(det(var("A", (3, 3))))
    det(A)

    Raises:
        ShapeError: ``matrix`` is not square.

    """
    return _det(matrix, log=False)


def logdet(matrix: Any) -> Expr:
    """The logarithm of the absolute value of the determinant: ``np.linalg.slogdet(A)[1]``.

    For a matrix of positive determinant (a covariance, say) it is
    ``log(det(A))``, MatrixCalculus.org's ``logdet``; for any other it is
    ``log|det(A)|``, whose derivative is the same, ``inv(A)^T``. Computed as the
    sum of the logarithms of the pivots' magnitudes, so it does not overflow
    where ``det`` would. A singular matrix gives ``-inf``, as in NumPy.

    >>> print(logdet(var("S", (3, 3))))
    logdet(S)

    Raises:
        ShapeError: ``matrix`` is not square.

    """
    return _det(matrix, log=True)


def _det(matrix: Any, log: bool) -> Expr:
    a = as_expr(matrix)
    if _square_size(a, "logdet" if log else "det") == 0:
        return const(0.0 if log else 1.0)  # the empty product, as NumPy
    result: Expr = _intern(Det, (), ("det", log, a), operands=(a,), log=log)
    return result


def _square_size(matrix: Expr, what: str) -> int:
    """The number of rows of a square matrix.

    Raises:
        ShapeError: ``matrix`` is not a square matrix.

    """
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ShapeError(f"{what} needs a square matrix, not an operand of shape {matrix.shape}")
    return matrix.shape[0]


# --- einsum --------------------------------------------------------------------------


def einsum(subscripts: str, *operands: Any) -> Expr:
    """An einsum expression (NumPy's subscripts; a repeated output label fills a diagonal).

    >>> print(einsum("ii->", var("M", (3, 3))))
    (M[aa] -> [])
    """
    exprs = [as_expr(op) for op in operands]
    equation = parse(subscripts, [e.shape for e in exprs])
    return make_einsum(list(equation.inputs), equation.output, exprs)


def make_einsum(inputs: Sequence[str], output: str, operands: Sequence[Expr]) -> Expr:
    """An einsum node from normalized labels, simplified.

    Inner einsums are merged into this one, zero operands make a zero result,
    scalar constants move out as a factor, and an einsum that only renames its
    single operand's axes in order is that operand.
    """
    sizes = _label_sizes(inputs, operands)
    shape = tuple(sizes[label] for label in output)
    if any(is_zero(op) for op in operands):
        return zeros(shape)
    inputs, output, operands = _merge_inner(list(inputs), output, list(operands))
    inputs, operands = _drop_redundant_ones(inputs, operands)
    scale = 1.0
    kept = [(labels, op) for labels, op in zip(inputs, operands)]
    for labels, op in list(kept):
        factor = scalar_value(op)
        if factor is not None and len(kept) > 1:
            scale *= factor
            kept.remove((labels, op))
    inputs, operands = [k[0] for k in kept], [k[1] for k in kept]
    if len(operands) == 1 and inputs[0] == output and len(set(output)) == len(output):
        result = operands[0]
    elif all(isinstance(op, Const) for op in operands) and len(set(output)) == len(output):
        values = [op.value for op in operands if isinstance(op, Const)]
        result = const(_fold(inputs, output, values))
    else:
        canonical, out = _canonical(inputs, output)
        key = ("einsum", tuple(canonical), out, tuple(operands))
        result = _intern(
            Einsum, shape, key, inputs=tuple(canonical), output=out, operands=tuple(operands)
        )
    return result if scale == 1.0 else elementwise("mul", const(scale), result)


def _label_sizes(inputs: Sequence[str], operands: Sequence[Expr]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for labels, op in zip(inputs, operands):
        if len(labels) != op.ndim:
            raise ShapeError(f"labels {labels!r} do not fit an operand of shape {op.shape}")
        for label, size in zip(labels, op.shape):
            if sizes.setdefault(label, size) != size:
                raise ShapeError(f"label {label!r} has sizes {sizes[label]} and {size}")
    return sizes


def _canonical(inputs: Sequence[str], output: str) -> tuple[list[str], str]:
    """Relabel in order of first appearance, so equal einsums have equal keys."""
    names: dict[str, str] = {}
    for label in "".join(inputs) + output:
        names.setdefault(label, get_symbol(len(names)))
    return ["".join(names[c] for c in labels) for labels in inputs], "".join(
        names[c] for c in output
    )


def fresh_labels(count: int, used: str) -> str:
    """``count`` labels not in ``used``, as one string."""
    return "".join(equation_fresh_labels(count, used))


def _merge_inner(
    inputs: list[str], output: str, operands: list[Expr]
) -> tuple[list[str], str, list[Expr]]:
    """Replace einsum operands by their own operands, relabeled into this einsum."""
    while any(isinstance(op, Einsum) for op in operands):
        k = next(k for k, op in enumerate(operands) if isinstance(op, Einsum))
        inner = operands[k]
        assert isinstance(inner, Einsum)
        find = _label_classes(zip(inputs[k], inner.output))
        rename = {c: find(("o", c))[1] for c in set("".join(inputs) + output)}
        inputs = ["".join(rename[c] for c in labels) for labels in inputs]
        output = "".join(rename[c] for c in output)
        used = "".join(inputs) + output
        summed_inner = sorted(set("".join(inner.inputs)) - set(inner.output))
        mapping = dict(zip(summed_inner, fresh_labels(len(summed_inner), used)))
        mapping.update({c: find(("i", c))[1] for c in inner.output})
        relabeled = ["".join(mapping[c] for c in labels) for labels in inner.inputs]
        inputs = inputs[:k] + relabeled + inputs[k + 1 :]
        operands = operands[:k] + list(inner.operands) + operands[k + 1 :]
    return inputs, output, operands


def _label_classes(pairs: Iterable[tuple[str, str]]) -> Callable[[tuple[str, str]], Any]:
    """Join each (outer label, inner output label) pair into one index class.

    Paired labels are one index (an inner result is zero off such diagonals).
    Every class holds an outer label, which names it: ``find(("o", c))[1]``.
    """
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(item: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(item, item) != item:
            item = parent[item]
        return item

    for outer, inner in pairs:
        a, b = find(("o", outer)), find(("i", inner))
        if a != b:  # keep an outer label as the root, to name the class
            root, child = (a, b) if a[0] == "o" else (b, a)
            parent[child] = root
    return find


def _drop_redundant_ones(inputs: list[str], operands: list[Expr]) -> tuple[list[str], list[Expr]]:
    """Drop all-ones constants whose labels all occur in another operand (a no-op factor)."""
    k = 0
    while k < len(operands) and len(operands) > 1:
        op, labels = operands[k], inputs[k]
        others = set("".join(inputs[:k] + inputs[k + 1 :]))
        if (
            isinstance(op, Const)
            and op.value.ndim > 0
            and uniform_value(op.value) == 1.0
            and len(set(labels)) == len(labels)
            and set(labels) <= others
        ):
            inputs, operands = inputs[:k] + inputs[k + 1 :], operands[:k] + operands[k + 1 :]
        else:
            k += 1
    return inputs, operands


def _fold(inputs: Sequence[str], output: str, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The einsum of constant arrays (distinct output labels), folded as the node is built.

    opt_einsum contracts it (any label symbols); the expression IR imports no planner.
    """
    return np.asarray(contract(",".join(inputs) + "->" + output, *arrays), dtype=np.float64)


def matmul(left: Any, right: Any) -> Expr:
    """``left @ right`` with NumPy's semantics, as one einsum.

    A vector on the left is a row, on the right a column, and its axis is
    dropped from the result; axes before the last two are a stack of matrices,
    broadcast as NumPy does.

    >>> A, x = var("A", (2, 3)), var("x", (3,))
    >>> print(A @ x, (x @ A.T).shape, (A.T @ A).shape)
    (A[ab] x[b] -> [a]) (2,) (3, 3)

    Raises:
        ShapeError: an operand is a scalar, the inner sizes differ, or the
            stacks do not broadcast.

    """
    a, b = as_expr(left), as_expr(right)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul needs operands with at least one axis, not shapes {a.shape} and {b.shape} "
            "(multiply by a scalar with *)"
        )
    inner = a.shape[-1], b.shape[-2 if b.ndim > 1 else -1]
    if inner[0] != inner[1]:
        raise ShapeError(
            f"matmul: the last axis of the left operand {a.shape} has size {inner[0]}, but the "
            f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the right operand {b.shape} "
            f"has size {inner[1]}"
        )
    try:
        out_stack = broadcast_shape(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(
            f"matmul: the stacks of matrices of shapes {a.shape} and {b.shape} "
            f"({a.shape[:-2]} and {b.shape[:-2]}) do not broadcast"
        ) from None
    labels = iter(fresh_labels(3 * len(out_stack) + 3, ""))
    stack = "".join(next(labels) for _ in out_stack)
    i, j, k = next(labels), next(labels), next(labels)
    left = _stack_labels(a.shape[:-2], out_stack, stack, labels) + (i + j if a.ndim > 1 else j)
    right = _stack_labels(b.shape[:-2], out_stack, stack, labels) + (j + k if b.ndim > 1 else j)
    output = stack + (i if a.ndim > 1 else "") + (k if b.ndim > 1 else "")
    return make_einsum([left, right], output, [a, b])


def _stack_labels(
    shape: tuple[int, ...], full: tuple[int, ...], labels: str, spare: Iterator[str]
) -> str:
    """The labels of a stack's axes, aligned from the right to the broadcast stack ``full``.

    An axis of size 1 stretched along ``full`` gets a label of its own from
    ``spare``: it is summed away, which keeps its one entry.
    """
    offset = len(full) - len(shape)
    return "".join(
        labels[offset + n] if size == full[offset + n] else next(spare)
        for n, size in enumerate(shape)
    )


# --- the functions users call --------------------------------------------------------


def sum_(expr: Any, axis: int | Sequence[int] | None = None) -> Expr:
    """The sum of ``expr`` over ``axis`` (all axes by default), as an einsum.

    >>> sum_(var("x", (2, 3)), axis=0).shape
    (3,)
    """
    a = as_expr(expr)
    labels = fresh_labels(a.ndim, "")
    axes = range(a.ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    drop = {int(k) % max(a.ndim, 1) for k in axes}
    return make_einsum([labels], "".join(c for k, c in enumerate(labels) if k not in drop), [a])


def _unary_function(fn: str) -> Callable[[Any], Expr]:
    def apply(x: Any) -> Expr:
        return unary(fn, x)

    apply.__name__ = apply.__qualname__ = fn
    apply.__doc__ = (
        f"``{fn}`` of an expression, elementwise (f(0) = {FUNCTIONS[fn].at_zero:.4g}).\n\n"
        f"See :data:`einsql.functions.FUNCTIONS` for its SQL, derivative and LaTeX."
    )
    return apply


#: ``exp``, ``log``, ``tanh``, ...: each public function of one argument, for expressions.
APPLY: dict[str, Callable[[Any], Expr]] = {fn: _unary_function(fn) for fn in PUBLIC_FUNCTIONS}
abs_ = APPLY["abs"]


def __getattr__(name: str) -> Callable[[Any], Expr]:
    """``einsql.expr.tanh`` and the other public functions, straight from their records."""
    if name in APPLY:
        return APPLY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def latex(expr: Expr) -> str:
    r"""The expression in LaTeX, in Einstein notation with every index shown.

    An einsum is its terms, each operand with its indices, summed over the
    indices the result drops, in brackets subscripted with the result's
    indices in the result's order: ``[\sum_b A_{ab} x_b]_a`` is ``A x``, and
    ``[A_{ab}]_{ba}`` would be the transpose, which prints as ``A^\top``. A
    scalar result has no subscript. Elementwise products print as ``\odot``.

    >>> x, A = var("x", (3,)), var("A", (2, 3))
    >>> latex(einsum("ij,j->i", A, x).map("exp"))
    '\\exp\\left(\\left[\\sum_{b} A_{ab} x_{b}\\right]_{a}\\right)'
    >>> latex(einsum("ij->ji", A)), latex(einsum("ij,ij->", A, A))
    ('A^\\top', '\\sum_{ab} A_{ab} A_{ab}')
    >>> latex(einsum("i->ii", x))
    '\\left[x_{a}\\right]_{aa}'
    >>> M = var("M", (2, 2))
    >>> print(latex(inv(M)), latex(solve(M, var("b", (2,)))))
    M^{-1} M^{-1} b
    >>> print(latex(det(M)), latex(logdet(M)))
    \det\left(M\right) \log\left|\det\left(M\right)\right|
    """
    if isinstance(expr, Var):
        return expr.name.replace("_", r"\_")
    if isinstance(expr, Const):
        return str(expr)
    if isinstance(expr, Einsum):
        return _latex_einsum(expr)
    if isinstance(expr, Solve):
        matrix, rhs = (_latex_operand(op) for op in expr.operands)
        return f"{matrix}^{{-1}}" if is_identity(expr.operands[1]) else f"{matrix}^{{-1}} {rhs}"
    if isinstance(expr, Det):
        determinant = f"\\det\\left({latex(expr.operands[0])}\\right)"
        return f"\\log\\left|{determinant}\\right|" if expr.log else determinant
    assert isinstance(expr, Elementwise)
    return FUNCTIONS[expr.fn].latex.format(*(latex(op) for op in expr.operands))


def _latex_einsum(expr: Einsum) -> str:
    if len(expr.operands) == 1 and expr.inputs[0] == expr.output[::-1] == "ab":
        return f"{_latex_operand(expr.operands[0])}^\\top"
    summed = "".join(sorted(set("".join(expr.inputs)) - set(expr.output)))
    terms = " ".join(
        f"{_latex_operand(op)}_{{{labels}}}" if labels else _latex_operand(op)
        for op, labels in zip(expr.operands, expr.inputs)
    )
    body = (f"\\sum_{{{summed}}} " if summed else "") + terms
    return f"\\left[{body}\\right]_{{{expr.output}}}" if expr.output else body


def _latex_operand(expr: Expr) -> str:
    text = latex(expr)
    return text if isinstance(expr, Var) else f"\\left({text}\\right)"


def variables(expr: Expr) -> dict[str, Var]:
    """The variables an expression reads, by name."""
    found: dict[str, Var] = {}
    for node in walk(expr):
        if isinstance(node, Var):
            found[node.name] = node
    return found


def walk(expr: Expr) -> list[Expr]:
    """Every node of ``expr`` once, operands before the nodes that use them."""
    order: list[Expr] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children) if id(child) not in seen)
    return order
