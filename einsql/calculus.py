"""Derivatives of tensor expressions, in reverse mode, as tensor expressions again.

Following "A Simple and Efficient Tensor Calculus" (Laue, Mitterreiter, Giesen;
AAAI 2020), the derivative of an einsum with respect to one operand is the
einsum of the incoming derivative with the other operands, so every rule here
builds einsum and elementwise nodes, and derivatives lower to SQL like any
expression. The incoming derivative of a node carries the shape of the function
being differentiated in front (``O + node.shape``): empty for a gradient, the
function's shape for a Jacobian, whose seed is the identity written as an
einsum with a repeated output label (``"ab->abab"``), never a dense tensor.

>>> import numpy as np
>>> from einsql.expr import var, einsum
>>> x = var("x", (3,))
>>> A = var("A", (3, 3))
>>> print(grad(einsum("i,ij,j->", x, A, x), x))
((A[ab] x[b] -> [a]) + (x[a] A[ab] -> [b]))
>>> hessian(einsum("i,ij,j->", x, A, x), x).shape
(3, 3)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from einsql.errors import OperandError, ShapeError
from einsql.expr import (
    Det,
    Einsum,
    Elementwise,
    Expr,
    Solve,
    Var,
    as_expr,
    const,
    det,
    elementwise,
    fresh_labels,
    inv,
    logdet,
    make_einsum,
    solve,
    unary,
    var,
    variables,
    walk,
    zeros,
)
from einsql.functions import FUNCTIONS


def grad(f: Expr, x: Var) -> Expr:
    """The gradient of the scalar ``f`` with respect to ``x`` (shape of ``x``).

    Raises:
        ShapeError: ``f`` is not a scalar (use ``jacobian``).

    """
    if f.ndim != 0:
        raise ShapeError(
            f"grad needs a scalar function, this one has shape {f.shape}; use jacobian"
        )
    return _reverse(f, _checked_var(x), const(1.0))


def jacobian(f: Expr, x: Var) -> Expr:
    """The Jacobian of ``f`` with respect to ``x``, of shape ``f.shape + x.shape``."""
    if f.ndim == 0:
        return grad(f, x)
    labels = fresh_labels(f.ndim, "")
    identity = make_einsum([labels], labels + labels, [const(np.ones(f.shape))])
    return _reverse(f, _checked_var(x), identity)


def hessian(f: Expr, x: Var) -> Expr:
    """The Hessian of the scalar ``f`` with respect to ``x``: ``jacobian(grad(f, x), x)``."""
    return jacobian(grad(f, x), x)


def hvp(f: Expr, x: Var, v: Any) -> Expr:
    """The Hessian of the scalar ``f`` with respect to ``x`` times ``v``, without the Hessian.

    Reverse over reverse: the gradient of ``<grad(f, x), u>`` for a stand-in
    ``u`` that does not depend on ``x``, then ``v`` put in its place. Its
    adjoints have the shapes of ``f``'s nodes (a gradient's seed is a scalar),
    so no node holds the ``x.size`` squared Hessian, and it lowers to SQL like
    a gradient of about twice the size.
    ``v`` is held fixed: where it depends on ``x`` (a Newton-CG direction),
    the result is still ``H(x) v``.

    >>> from einsql.expr import var, einsum
    >>> x, A = var("x", (3,)), var("A", (3, 3))
    >>> print(hvp(einsum("i,ij,j->", x, A, x), x, var("v", (3,))))
    ((v[a] A[ba] -> [b]) + (v[a] A[ab] -> [b]))

    Args:
        f: a scalar expression.
        x: the variable.
        v: an expression or array of ``x``'s shape.

    Raises:
        ShapeError: ``f`` is not a scalar, or ``v`` has another shape than ``x``.

    """
    x = _checked_var(x)
    direction = as_expr(v)
    if direction.shape != x.shape:
        raise ShapeError(
            f"hvp needs a vector of the shape of {x.name}, {x.shape}, not {direction.shape}"
        )
    labels = fresh_labels(x.ndim, "")
    stand_in = var(_stand_in_name(f, direction), x.shape)
    inner = make_einsum([labels, labels], "", [grad(f, x), stand_in])
    return substitute(grad(inner, x), {stand_in.name: direction})


def _stand_in_name(*exprs: Expr) -> str:
    """A variable name none of ``exprs`` uses (the stand-in of ``hvp``'s vector)."""
    taken = {name for e in exprs for name in variables(e)}
    name = "hvp_direction"
    while name in taken:
        name += "_"
    return name


def substitute(expr: Expr, values: dict[str, Expr]) -> Expr:
    """``expr`` with the variables named in ``values`` replaced by those expressions.

    Nodes are rebuilt bottom up through the constructors, so the result
    simplifies and interns like any expression.

    >>> from einsql.expr import var, exp
    >>> x = var("x", (2,))
    >>> print(substitute(exp(x) * x, {"x": var("y", (2,))}))
    (exp(y) * y)
    """
    built: dict[int, Expr] = {}
    for node in walk(expr):
        operands = [built[id(child)] for child in node.children]
        built[id(node)] = _rebuilt(node, operands, values)
    return built[id(expr)]


def _rebuilt(node: Expr, operands: list[Expr], values: dict[str, Expr]) -> Expr:
    """``node`` over new ``operands`` (a variable: its value in ``values``, if any)."""
    if isinstance(node, Var):
        found = values.get(node.name, node)
        if found.shape != node.shape:
            raise ShapeError(f"{node.name} has shape {node.shape}, its value {found.shape}")
        return found
    if all(new is old for new, old in zip(operands, node.children)):
        return node
    if isinstance(node, Einsum):
        return make_einsum(list(node.inputs), node.output, operands)
    if isinstance(node, Solve):
        return solve(*operands)
    if isinstance(node, Det):
        return (logdet if node.log else det)(operands[0])
    assert isinstance(node, Elementwise), node
    if len(operands) == 1:
        return unary(node.fn, operands[0])
    return elementwise(node.fn, *operands)


def _checked_var(x: Any) -> Var:
    if not isinstance(x, Var):
        raise OperandError(f"derivatives are taken with respect to a variable, not {x!r}")
    return x


def _reverse(f: Expr, x: Var, seed: Expr) -> Expr:
    """Accumulate adjoints from ``f`` back to ``x``; each has shape ``O + node.shape``."""
    outer = seed.ndim - f.ndim
    order = walk(f)
    depends: dict[int, bool] = {}
    for node in order:
        depends[id(node)] = node is x or any(depends[id(c)] for c in node.children)
    adjoints: dict[int, Expr] = {id(f): seed}
    for node in reversed(order):
        bar = adjoints.get(id(node))
        if bar is None or node is x or not depends[id(node)]:
            continue
        for child, contribution in _pullback(node, bar, outer):
            if depends[id(child)]:
                previous = adjoints.get(id(child))
                adjoints[id(child)] = contribution if previous is None else previous + contribution
    return adjoints.get(id(x), zeros(seed.shape[:outer] + x.shape))


def _pullback(node: Expr, bar: Expr, outer: int) -> Iterator[tuple[Expr, Expr]]:
    if isinstance(node, Einsum):
        yield from _einsum_pullback(node, bar, outer)
    elif isinstance(node, Elementwise) and len(node.operands) == 1:
        (a,) = node.operands
        (contribution,) = FUNCTIONS[node.fn].pullback(bar, a, node)
        yield a, contribution
    elif isinstance(node, Solve):
        yield from _solve_pullback(node, bar, outer)
    elif isinstance(node, Det):
        yield from _det_pullback(node, bar, outer)
    elif isinstance(node, Elementwise):
        a, b = node.operands
        for operand, contribution in zip((a, b), FUNCTIONS[node.fn].pullback(bar, a, b, node)):
            yield operand, unbroadcast(contribution, operand.shape, outer)


def _einsum_pullback(node: Einsum, bar: Expr, outer: int) -> Iterator[tuple[Expr, Expr]]:
    """d/d operand k: the incoming adjoint times every other operand, onto k's labels.

    Labels of operand k found nowhere else were summed in k alone: the adjoint
    is constant along them, which a vector of ones says. A label repeated in k
    (a diagonal) repeats in the output, which puts the values on the diagonal.
    """
    used = "".join(node.inputs) + node.output
    front = fresh_labels(outer, used)
    for k, (labels, operand) in enumerate(zip(node.inputs, node.operands)):
        others = [(lb, op) for j, (lb, op) in enumerate(zip(node.inputs, node.operands)) if j != k]
        available = set(node.output).union(*[set(lb) for lb, _ in others])
        missing = list(dict.fromkeys(c for c in labels if c not in available))
        ones = [const(np.ones(operand.shape[labels.index(c)])) for c in missing]
        inputs = [front + node.output, *(lb for lb, _ in others), *missing]
        yield operand, make_einsum(inputs, front + labels, [bar, *(op for _, op in others), *ones])


def _solve_pullback(node: Solve, bar: Expr, outer: int) -> Iterator[tuple[Expr, Expr]]:
    """``X = solve(A, B)``: ``B`` gets ``inv(A)^T bar``, ``A`` gets minus that times ``X^T``.

    From ``dX = inv(A) (dB - dA X)``. Every adjoint reads the one ``inv(A)``
    node, so a Hessian eliminates ``A`` once more however often it appears.
    ``bar`` has the outer axes in front, ``O + X.shape``; so do the results.
    """
    matrix, rhs = node.operands
    labels = fresh_labels(outer + 2 + (node.ndim - 1), "")
    front, i, j, columns = labels[:outer], labels[outer], labels[outer + 1], labels[outer + 2 :]
    to_rhs = make_einsum([j + i, front + j + columns], front + i + columns, [inv(matrix), bar])
    to_matrix = make_einsum([front + i + columns, j + columns], front + i + j, [to_rhs, node])
    yield matrix, unary("neg", to_matrix)
    yield rhs, to_rhs


def _det_pullback(node: Det, bar: Expr, outer: int) -> Iterator[tuple[Expr, Expr]]:
    """``d logdet(A) = inv(A)^T``, ``d det(A) = det(A) inv(A)^T``, times ``bar`` (shape ``O``)."""
    (matrix,) = node.operands
    front = fresh_labels(outer + 2, "")
    i, j, front = front[-2], front[-1], front[:outer]
    factors = [bar, inv(matrix)] if node.log else [bar, node, inv(matrix)]
    inputs = [front, j + i] if node.log else [front, "", j + i]
    yield matrix, make_einsum(inputs, front + i + j, factors)


def unbroadcast(adjoint: Expr, shape: tuple[int, ...], outer: int) -> Expr:
    """Sum an adjoint over the axes its operand was broadcast along, back to ``shape``."""
    full = adjoint.shape[outer:]
    if full == shape:
        return adjoint
    labels = fresh_labels(adjoint.ndim, "")
    front, rest = labels[:outer], labels[outer:]
    aligned = rest[len(rest) - len(shape) :]
    output, extra_inputs, extra = front, [], []
    spare = iter(fresh_labels(len(shape), labels))
    for label, size, full_size in zip(aligned, shape, full[len(full) - len(shape) :]):
        if size == full_size:
            output += label
        else:  # a size-1 axis that was stretched: sum it, keep an axis of size 1
            one = next(spare)
            output += one
            extra_inputs.append(one)
            extra.append(const(np.ones(1)))
    return make_einsum([labels, *extra_inputs], output, [adjoint, *extra])
