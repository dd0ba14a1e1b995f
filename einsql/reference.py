"""The NumPy reference backend: the same plan, executed step by step with NumPy.

It is the oracle of the test suite. Every operand is first converted to the
result dtype, as ``numpy.einsum`` does, then each step runs as a dense einsum.

>>> import numpy as np
>>> from einsql.equation import parse
>>> from einsql.planner import make_plan
>>> a = np.arange(6.0).reshape(2, 3)
>>> p = make_plan(parse("ij,kj->ik", [a.shape, a.shape]))
>>> bool(np.allclose(evaluate(p, [a, a]), a @ a.T))
True
>>> evaluate(make_plan(parse("i->ii", [(2,)])), [np.array([1, 2])]).tolist()
[[1, 0], [0, 2]]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

import numpy as np
import opt_einsum

from einsql.equation import Equation
from einsql.expr import Const, Det, Einsum, Elementwise, Expr, Solve, Var, walk
from einsql.functions import FUNCTIONS
from einsql.planner import Plan, Step, make_plan
from einsql.semiring import SUM_PRODUCT, Semiring, get_semiring

#: NumPy's einsum accepts at most this many distinct labels in one call.
NUMPY_MAX_LABELS = 52


def evaluate(plan: Plan, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Run ``plan`` on dense ``arrays`` (already of the result dtype), in its semiring."""
    values = dict(enumerate(arrays))
    n = plan.num_operands
    semiring = get_semiring(plan.semiring)
    for s, step in enumerate(plan.steps):
        args = [values.pop(a) for a in step.args]
        if semiring is SUM_PRODUCT:
            values[n + s] = run_step(step, args)
        else:
            values[n + s] = semiring_step(step, args, semiring)
    return values[plan.result]


def semiring_step(step: Step, arrays: Sequence[np.ndarray], semiring: Semiring) -> np.ndarray:
    """One step in another semiring: broadcast every input over all labels, combine, reduce.

    >>> from einsql.semiring import SEMIRINGS
    >>> step = Step((0, 1), ("ij", "jk"), "ik", 0, 0)
    >>> d = np.array([[0.0, 1.0], [np.inf, 0.0]])
    >>> semiring_step(step, [d, d], SEMIRINGS["min-plus"]).tolist()
    [[0.0, 1.0], [inf, 0.0]]
    """
    labels = list(dict.fromkeys("".join(step.inputs) + step.output))
    sizes: dict[str, int] = {}
    aligned = []
    for term, array in zip(step.inputs, arrays):
        distinct = "".join(dict.fromkeys(term))
        ordered = "".join(sorted(distinct, key=labels.index))
        view = _einsum((term,), ordered, [array]) if term != ordered else array
        sizes.update(zip(ordered, view.shape))
        aligned.append(view.reshape([sizes[lb] if lb in ordered else 1 for lb in labels]))
    product = reduce(semiring.numpy_times, aligned)
    product = np.broadcast_to(product, [sizes[lb] for lb in labels])
    summed = tuple(k for k, lb in enumerate(labels) if lb not in step.output)
    kept = [lb for lb in labels if lb in step.output]
    result = semiring.numpy_plus(product, summed, semiring.zero) if summed else product
    distinct_out = "".join(dict.fromkeys(step.output))
    result = np.transpose(result, [kept.index(lb) for lb in distinct_out])
    if distinct_out == step.output:
        return np.array(result)  # a copy (ascontiguousarray would make a 0-d array 1-d)
    full = np.full([sizes[lb] for lb in step.output], semiring.zero, dtype=result.dtype)
    _einsum((step.output,), distinct_out, [full])[...] = result
    return full


def run_step(step: Step, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """One step as a dense einsum; a label repeated in the output fills a diagonal."""
    distinct = "".join(dict.fromkeys(step.output))
    result = _einsum(step.inputs, distinct, arrays)
    if distinct == step.output:
        return result
    shape = dict(zip(distinct, result.shape))
    full = np.zeros([shape[label] for label in step.output], dtype=result.dtype)
    _einsum((step.output,), distinct, [full])[...] = result  # a writeable diagonal view
    return full


def _einsum(inputs: Sequence[str], output: str, arrays: Sequence[np.ndarray]) -> np.ndarray:
    labels = {lb: k for k, lb in enumerate(dict.fromkeys("".join(inputs) + output))}
    if len(labels) > NUMPY_MAX_LABELS:
        equation = ",".join(inputs) + "->" + output
        return np.asarray(
            opt_einsum.contract(equation, *arrays, optimize=[tuple(range(len(arrays)))])
        )
    args: list[object] = []
    for labels_k, array in zip(inputs, arrays):
        args += [array, [labels[lb] for lb in labels_k]]
    einsum: Any = np.einsum  # the interleaved form has no typed overload
    return np.asarray(einsum(*args, [labels[lb] for lb in output]))


def dense_einsum(inputs: Sequence[str], output: str, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The einsum of dense arrays through einsql's own plan (repeated output labels too)."""
    sizes: dict[str, int] = {}
    for labels, array in zip(inputs, arrays):
        sizes.update(zip(labels, array.shape))
    equation = Equation(tuple(inputs), output, tuple(sizes.items()))
    return evaluate(make_plan(equation), list(arrays))


def expression_values(exprs: Sequence[Expr], arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The values of several expressions from float64 arrays of their variables.

    Every node is computed once, however often it is used; einsums run through
    their plans, as in the databases.

    >>> from einsql.expr import var
    >>> x = var("x", (2,))
    >>> expression_values([(x * 2.0).map("exp")], {"x": np.zeros(2)})[0].tolist()
    [1.0, 1.0]
    """
    results: dict[int, np.ndarray] = {}
    for expr in exprs:
        for node in walk(expr):
            if id(node) not in results:
                args = [results[id(c)] for c in node.children]
                results[id(node)] = _node_value(node, args, arrays)
    return [results[id(expr)] for expr in exprs]


def _node_value(node: Expr, args: list[np.ndarray], arrays: dict[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, Var):
        return arrays[node.name]
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Einsum):
        return dense_einsum(node.inputs, node.output, args)
    if isinstance(node, Solve):
        return gauss_jordan(*args)[0]
    if isinstance(node, Det):
        (matrix,) = args
        _, determinant, log_magnitude = gauss_jordan(matrix, np.zeros((len(matrix), 0)))
        return np.asarray(log_magnitude if node.log else determinant)
    assert isinstance(node, Elementwise)
    with np.errstate(all="ignore"):
        return np.asarray(FUNCTIONS[node.fn].numpy(*args), dtype=np.float64)


def gauss_jordan(matrix: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The databases' elimination of ``[matrix | rhs]``, operation for operation.

    Partial pivoting: the pivot of step ``k`` is the entry of largest magnitude
    in column ``k`` at or below row ``k``, the first of equals (a NaN first);
    its row is divided by it, swapped into row ``k``, and the column
    eliminated from every other row as ``M - M[:, k] (pivot row / pivot)``.
    So SQL and the reference agree on which matrices are singular (an exactly
    zero pivot), not only up to rounding as LAPACK would.

    >>> A = np.array([[0.0, 2.0], [4.0, 1.0]])
    >>> x, determinant, log_magnitude = gauss_jordan(A, np.array([2.0, 9.0]))
    >>> x.tolist(), determinant, bool(np.isclose(log_magnitude, np.log(8.0)))
    ([2.0, 1.0], -8.0, True)
    >>> gauss_jordan(np.ones((2, 2)), np.ones(2))[0].tolist()
    [nan, nan]

    Returns:
        The solution (NaN everywhere where the matrix is singular), the
        determinant and the log of its magnitude (0 and -inf where singular).
        The determinant is ``sign * exp(log magnitude)``, as NumPy computes
        it: the sum of the logs of the pivots' magnitudes, and a sign flipped
        by each negative pivot and each row swap, so no running product
        overflows or underflows where the determinant does not.

    """
    n = len(matrix)
    augmented = np.column_stack([matrix, rhs.reshape(n, -1)]).astype(np.float64)
    sign, log_magnitude = 1.0, 0.0
    with np.errstate(all="ignore"):
        for k in range(n):
            magnitudes = np.abs(augmented[k:, k])
            worst = np.flatnonzero(np.isnan(magnitudes))
            best = worst if len(worst) else np.flatnonzero(magnitudes == magnitudes.max())
            p = k + int(best[0])
            pivot = float(augmented[p, k])
            if pivot == 0.0:
                return np.full(rhs.shape, np.nan), 0.0, -np.inf
            scaled = augmented[p] / pivot
            augmented = augmented - np.outer(augmented[:, k], scaled)
            augmented[p] = scaled
            augmented[[k, p]] = augmented[[p, k]]
            if (pivot < 0.0) != (p != k):
                sign = -sign
            log_magnitude += float(np.log(abs(pivot)))
        determinant = sign * float(np.exp(log_magnitude))
    return augmented[:, n:].reshape(rhs.shape), determinant, log_magnitude
