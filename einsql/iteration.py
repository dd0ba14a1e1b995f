"""Iterations as programs: the IR that ``einsql.iterate`` runs and ``to_sql`` writes.

An :class:`Iteration` is a program: state variables, the expression giving each
one's next value (its derivatives computed by einsql), start values, a number
of steps and a tolerance. :func:`descent` and :func:`power_method` build the
common ones. Running them is :mod:`einsql.iteration_run`; their SQL is
:mod:`einsql.iteration_sql`.

>>> from einsql.expr import var, sum_
>>> w = var("w", (2,))
>>> descent(sum_(w * w), w, steps=10).steps
10
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einsql.calculus import grad, hessian, hvp
from einsql.errors import OperandError, OptionError
from einsql.expr import Expr, Var, abs_, einsum, sign, solve, sqrt, sum_, var, variables
from einsql.operands import variable_value

#: Methods of :func:`descent` and :func:`minimize`.
METHODS = ("gd", "momentum", "newton", "newton-cg")

#: The most parameters a Newton step solves for: one CTE per row of the Hessian
#: (Gauss-Jordan elimination, cubic in the count) inside the recursive term.
NEWTON_MAX_PARAMETERS = 64


class LoopWarning(UserWarning):
    """An iteration runs as one statement per step, not one ``WITH RECURSIVE`` statement."""


@dataclass(frozen=True)
class Iteration:
    """A fixed-point iteration ``state <- updates(state)``, the program einsql compiles.

    Attributes:
        state: the iterated variables; the first ``reported`` of them are the result.
        updates: the next value of each state variable, from the state and data variables.
        start: the first value of each state variable.
        steps: the largest number of steps.
        tol: stop once a step changes the reported variables by at most this
            (2-norm over all of them); None: always take ``steps`` steps.
        loss: the value to trace per step (the objective; for power iteration
            the eigenvalue estimate), if any.
        outputs: how many state variables (from the first) are reported and
            measured by ``tol``; the rest are auxiliary (a momentum's velocity).

    """

    state: tuple[Var, ...]
    updates: tuple[Expr, ...]
    start: tuple[np.ndarray, ...] = field(compare=False)
    steps: int
    tol: float | None = None
    loss: Expr | None = None
    outputs: int = 0

    def __post_init__(self) -> None:
        if len(self.updates) != len(self.state) or len(self.start) != len(self.state):
            raise OperandError(
                "an iteration needs one update and one start value per state variable"
            )
        for v, update, start in zip(self.state, self.updates, self.start):
            if update.shape != v.shape or np.shape(start) != v.shape:
                raise OperandError(
                    f"state variable {v.name!r} has shape {v.shape}; its update has "
                    f"{update.shape} and its start value {np.shape(start)}"
                )
            if v.size == 0:
                raise OperandError(f"state variable {v.name!r} is empty")
        if self.steps < 0 or (self.tol is not None and not self.tol >= 0):
            raise OptionError("steps and tol must not be negative")
        if self.loss is not None and self.loss.shape != ():
            raise OperandError(f"the loss must be a scalar, not of shape {self.loss.shape}")

    def check_trace(self, trace: bool) -> None:
        """Raise if a trace is asked of an iteration without a loss.

        Raises:
            OptionError: ``trace`` and no loss.

        """
        if trace and self.loss is None:
            raise OptionError("this iteration has no loss to trace")

    @property
    def reported(self) -> tuple[Var, ...]:
        """The state variables that are the result."""
        return self.state[: self.outputs or len(self.state)]

    @property
    def data(self) -> dict[str, Var]:
        """The variables the iteration reads that are not state, by name."""
        names = {v.name for v in self.state}
        found: dict[str, Var] = {}
        for expr in [*self.updates, *([self.loss] if self.loss is not None else [])]:
            found.update({n: v for n, v in variables(expr).items() if n not in names})
        return found

    def change(self) -> Expr:
        """The 2-norm of one step's change of the reported variables."""
        squares = [
            sum_((update - v) ** 2.0)
            for v, update in zip(self.reported, self.updates[: len(self.reported)])
        ]
        total = squares[0]
        for square in squares[1:]:
            total = total + square
        return sqrt(total)


@dataclass(frozen=True)
class Iterated:
    """The result of an iteration.

    Attributes:
        values: the last value of each reported variable, by name.
        steps: the number of steps taken (fewer than asked if the tolerance stopped it).
        trace: if asked, the loss per step as columns ``step`` and ``loss``
            (``pandas.DataFrame(result.trace)`` is a table to plot).
        form: how it ran: ``numpy``, ``rows``, ``packed`` or ``loop``.

    """

    values: dict[str, np.ndarray]
    steps: int
    trace: dict[str, np.ndarray] | None
    form: str

    @property
    def x(self) -> np.ndarray:
        """The value of the only reported variable.

        Raises:
            OptionError: there are several; read ``values``.

        """
        if len(self.values) != 1:
            raise OptionError(f"several variables: read values[name] ({', '.join(self.values)})")
        return next(iter(self.values.values()))


# --- programs --------------------------------------------------------------------------


def descent(
    f: Expr,
    wrt: Var | Sequence[Var],
    method: str = "gd",
    steps: int = 100,
    lr: float | None = None,
    momentum: float = 0.9,
    tol: float | None = None,
    start: dict[str, Any] | None = None,
    cg_steps: int = 10,
) -> Iteration:
    """The iteration minimizing ``f`` over ``wrt``, its update rules derived by einsql.

    Args:
        f: a scalar expression.
        wrt: the variable(s) to optimize; every other variable of ``f`` is data.
        method: ``gd`` (``x - lr * grad``), ``momentum`` (heavy ball:
            ``v = momentum * v + grad``, ``x - lr * v``) or ``newton``
            (``x - lr * solve(hessian, grad)``, one vector of at most
            ``NEWTON_MAX_PARAMETERS`` entries), or ``newton-cg`` (``x + lr *
            s``, ``s`` from ``cg_steps`` conjugate-gradient steps on ``hessian
            s = -grad``, each a Hessian-vector product: any number of
            parameters, never the Hessian).
        steps: the largest number of steps.
        lr: the step size; by default 0.1, or 1.0 for Newton.
        momentum: the velocity's decay, for ``momentum``.
        tol: stop once a step changes the variables by at most this (2-norm).
        start: start values by variable name; zeros by default.
        cg_steps: conjugate-gradient steps per Newton step, for ``newton-cg``.

    Raises:
        OptionError: an unknown method, or a Newton step over too many parameters.
        OperandError: ``f`` is not a scalar, or ``wrt`` is not among its variables.

    """
    params = (wrt,) if isinstance(wrt, Var) else tuple(wrt)
    _check_objective(f, params)
    if method not in METHODS:
        raise OptionError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    rate = lr if lr is not None else (1.0 if method.startswith("newton") else 0.1)
    starts = tuple(_start_value(x, (start or {}).get(x.name)) for x in params)
    gradients = [grad(f, x) for x in params]
    if method == "gd":
        updates = tuple(x - rate * g for x, g in zip(params, gradients))
        return Iteration(params, updates, starts, steps, tol, f, len(params))
    if method == "newton":
        (x,) = _newton_parameter(params)
        update = x - rate * solve(hessian(f, x), gradients[0])
        return Iteration(params, (update,), starts, steps, tol, f, 1)
    if method == "newton-cg":
        (x,) = _newton_parameter(params, limited=False)
        update = x + rate * conjugate_gradients(f, x, -gradients[0], cg_steps)
        return Iteration(params, (update,), starts, steps, tol, f, 1)
    taken = set(variables(f))
    velocities = tuple(var(_fresh(f"{x.name}_velocity", taken), x.shape) for x in params)
    moved = [momentum * v + g for v, g in zip(velocities, gradients)]
    updates = (*(x - rate * m for x, m in zip(params, moved)), *moved)
    zeros = tuple(np.zeros(x.shape) for x in params)
    return Iteration((*params, *velocities), updates, starts + zeros, steps, tol, f, len(params))


def power_method(
    A: Expr,
    steps: int = 100,
    tol: float | None = None,
    damping: float | None = None,
    start: Any = None,
) -> Iteration:
    """Power iteration on a square matrix expression: its dominant eigenvector.

    Without ``damping``: ``x <- A x / ||A x||`` (2-norm), tracing the Rayleigh
    quotient ``x.A x`` (the eigenvalue estimate). With ``damping`` d, PageRank
    on a column-stochastic ``A``: ``x <- d A x + (1 - d) sum(x) / n``, scaled to
    sum 1 (which also returns the mass of dangling nodes), starting uniform.

    Raises:
        OperandError: ``A`` is not a square matrix.

    """
    n = A.shape[0] if A.ndim == 2 else -1
    if A.shape != (n, n) or n == 0:
        raise OperandError(f"power iteration needs a square matrix, not shape {A.shape}")
    x = var(_fresh("x", set(variables(A))), (n,))
    y = einsum("ij,j->i", A, x)
    if damping is None:
        update = y / sqrt(sum_(y * y))
        first = np.full(n, 1.0 / math.sqrt(n))
        loss: Expr | None = einsum("i,ij,j->", x, A, x)
    else:
        if not 0.0 <= damping <= 1.0:
            raise OptionError(f"damping must be between 0 and 1, not {damping}")
        y = damping * y + (1.0 - damping) / n * sum_(x)
        update = y / sum_(abs_(y))
        first = np.full(n, 1.0 / n)
        loss = None
    initial = first if start is None else _start_value(x, start)
    return Iteration((x,), (update,), (initial,), steps, tol, loss, 1)


def _check_objective(f: Expr, params: tuple[Var, ...]) -> None:
    if f.shape != ():
        raise OperandError(f"minimize needs a scalar objective, not one of shape {f.shape}")
    names = variables(f)
    for x in params:
        if not isinstance(x, Var) or names.get(x.name) is not x:
            raise OperandError(f"{x} is not a variable of the objective")
    if len({x.name for x in params}) != len(params):
        raise OperandError("each variable may be optimized over once")


def conjugate_gradients(f: Expr, x: Var, b: Expr, steps: int) -> Expr:
    """``steps`` conjugate-gradient steps on ``hessian(f, x) s = b`` from ``s = 0``, unrolled.

    Each step multiplies by the Hessian through :func:`einsql.hvp`. As in
    SciPy's Newton-CG, the steps stop at the first direction of curvature not
    above zero (a singular or indefinite Hessian), keeping what they reached;
    when that is the first direction, the result is ``b`` itself, a
    steepest-descent step (with ``b = -gradient``). A residual that reached
    zero stops them too: the divisions are guarded, never 0 / 0.

    >>> from einsql.expr import var, sum_
    >>> x = var("x", (2,))
    >>> f = sum_(x ** 2.0) + sum_(x) ** 2.0  # Hessian [[4, 2], [2, 4]]
    >>> from einsql.evaluation import evaluate
    >>> evaluate(conjugate_gradients(f, x, var("b", (2,)), 2), {"x": [0, 0], "b": [6, 0]},
    ...          backend="numpy").round(12).tolist()
    [2.0, -1.0]

    Raises:
        OptionError: ``steps`` is not a positive integer.

    """
    if not isinstance(steps, int) or steps < 1:
        raise OptionError(f"cg_steps must be a positive integer, not {steps!r}")
    s, r, p = b * 0.0, b, b
    rr = _dot(r, r)
    active: Expr | None = None  # 1 while every curvature so far was positive, else 0
    first: Expr | None = None
    for _ in range(steps):
        hp = hvp(f, x, p)
        curvature = _dot(p, hp)
        positive = (sign(curvature) + abs_(sign(curvature))) * 0.5  # 1 above 0, else 0
        active = positive if active is None else active * positive
        first = active if first is None else first
        alpha = active * rr / _nonzero(curvature)
        s, r = s + alpha * p, r - alpha * hp
        following = _dot(r, r)
        p = r + following / _nonzero(rr) * p
        rr = following
    assert first is not None  # steps >= 1
    return s + (1.0 - first) * b


def _dot(a: Expr, b: Expr) -> Expr:
    labels = "".join(chr(ord("a") + k) for k in range(a.ndim))
    return einsum(f"{labels},{labels}->", a, b)


def _nonzero(value: Expr) -> Expr:
    """``value``, or 1 where it is 0 (a guard for a division whose numerator is then 0)."""
    return value + (1.0 - sign(abs_(value)))  # exactly value where it is not 0


def _newton_parameter(params: tuple[Var, ...], limited: bool = True) -> tuple[Var]:
    if len(params) != 1 or params[0].ndim != 1:
        raise OptionError("a Newton step optimizes one vector variable; use gd or momentum")
    if limited and params[0].size > NEWTON_MAX_PARAMETERS:
        raise OptionError(
            f"a Newton step solves with the Hessian, one CTE per parameter: at most "
            f"{NEWTON_MAX_PARAMETERS} parameters, not {params[0].size}; use gd or momentum"
        )
    return (params[0],)


def _start_value(x: Var, value: Any) -> np.ndarray:
    if value is None:
        return np.zeros(x.shape)
    return variable_value(x, {x.name: value}).copy()


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name
