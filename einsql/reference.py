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
from typing import Any

import numpy as np
import opt_einsum

from einsql.planner import Plan, Step

#: NumPy's einsum accepts at most this many distinct labels in one call.
NUMPY_MAX_LABELS = 52


def evaluate(plan: Plan, arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Run ``plan`` on dense ``arrays`` (already of the result dtype)."""
    values = dict(enumerate(arrays))
    n = plan.num_operands
    for s, step in enumerate(plan.steps):
        values[n + s] = run_step(step, [values.pop(a) for a in step.args])
    return values[plan.result]


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
