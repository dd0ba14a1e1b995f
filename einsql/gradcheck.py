"""Checking derivatives: einsql's Jacobian against central finite differences.

Beside the calculus rather than inside it: it runs expressions on the NumPy
reference (``einsql.evaluation``), which the calculus itself never needs.

>>> import numpy as np
>>> from einsql.expr import var, einsum
>>> x = var("x", (3,))
>>> bool(check_grad(einsum("i->", x.map("exp") * x), x, {"x": np.array([0.1, -0.3, 2.0])}))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from einsql.calculus import jacobian
from einsql.evaluation import evaluate
from einsql.expr import Expr, Var


@dataclass(frozen=True)
class GradCheck:
    """A derivative compared with central finite differences.

    Attributes:
        ok: whether they agree within the tolerances.
        max_error: the largest absolute difference.
        analytic: the derivative einsql computed (NumPy reference).
        numeric: the finite-difference estimate.

    """

    ok: bool
    max_error: float
    analytic: np.ndarray
    numeric: np.ndarray

    def __bool__(self) -> bool:
        return self.ok


def check_grad(
    f: Expr,
    x: Var,
    values: dict[str, Any],
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> GradCheck:
    """Compare ``jacobian(f, x)`` (``grad`` for a scalar) with central differences.

    Both run on the NumPy reference. ``values`` gives every variable of ``f``.

    """
    point = np.array(values[x.name], dtype=np.float64)
    analytic = np.asarray(evaluate(jacobian(f, x), values, backend="numpy"))
    numeric = np.zeros(f.shape + x.shape)
    for index in np.ndindex(*x.shape):
        shifted = []
        for delta in (eps, -eps):
            moved = point.copy()
            moved[index] += delta
            shifted.append(np.asarray(evaluate(f, {**values, x.name: moved}, backend="numpy")))
        numeric[(..., *index)] = (shifted[0] - shifted[1]) / (2 * eps)
    error = float(np.max(np.abs(analytic - numeric), initial=0.0))
    ok = bool(np.allclose(analytic, numeric, rtol=rtol, atol=atol))
    return GradCheck(ok, error, analytic, numeric)
