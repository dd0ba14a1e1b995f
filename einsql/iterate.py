"""Iterations run inside the database: gradient descent, Newton steps, power iteration.

An :class:`Iteration` is a program: state variables, the expression giving each
one's next value (its derivatives computed by einsql), start values, a number
of steps and a tolerance. :func:`iterate` runs it in one ``WITH RECURSIVE``
statement (see :mod:`einsql.iterate_lower`), or on the NumPy reference;
``einsql.to_sql(program)`` writes that statement to paste.

>>> import numpy as np
>>> from einsql.expr import var, sum_
>>> w = var("w", (2,))
>>> f = sum_((w - np.array([1.0, -2.0])) ** 2.0)
>>> result = minimize(f, w, {}, steps=200, lr=0.25, tol=1e-12)
>>> np.round(result.x, 6).tolist(), result.steps < 200
([1.0, -2.0], True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.calculus import grad, hessian
from einsql.dialect import load_dialect
from einsql.display import SQL
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver, dropped_after
from einsql.errors import OperandError, OptionError
from einsql.evaluate import check_variables, load_variables, reference_values, variable_value
from einsql.expr import Expr, Var, abs_, einsum, solve, sqrt, sum_, var, variables
from einsql.expr_lower import named_tables
from einsql.iterate_lower import IterationLowering, check_iteration
from einsql.operands import Table
from einsql.sql import create_table_as, drop_table, table_ref

#: Methods of :func:`descent` and :func:`minimize`.
METHODS = ("gd", "momentum", "newton")

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
) -> Iteration:
    """The iteration minimizing ``f`` over ``wrt``, its update rules derived by einsql.

    Args:
        f: a scalar expression.
        wrt: the variable(s) to optimize; every other variable of ``f`` is data.
        method: ``gd`` (``x - lr * grad``), ``momentum`` (heavy ball:
            ``v = momentum * v + grad``, ``x - lr * v``) or ``newton``
            (``x - lr * solve(hessian, grad)``, one vector of at most
            ``NEWTON_MAX_PARAMETERS`` entries).
        steps: the largest number of steps.
        lr: the step size; by default 0.1, or 1.0 for Newton.
        momentum: the velocity's decay, for ``momentum``.
        tol: stop once a step changes the variables by at most this (2-norm).
        start: start values by variable name; zeros by default.

    Raises:
        OptionError: an unknown method, or a Newton step over too many parameters.
        OperandError: ``f`` is not a scalar, or ``wrt`` is not among its variables.

    """
    params = (wrt,) if isinstance(wrt, Var) else tuple(wrt)
    _check_objective(f, params)
    if method not in METHODS:
        raise OptionError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    rate = lr if lr is not None else (1.0 if method == "newton" else 0.1)
    starts = tuple(_start_value(x, (start or {}).get(x.name)) for x in params)
    gradients = [grad(f, x) for x in params]
    if method == "gd":
        updates = tuple(x - rate * g for x, g in zip(params, gradients))
        return Iteration(params, updates, starts, steps, tol, f, len(params))
    if method == "newton":
        (x,) = _newton_parameter(params)
        update = x - rate * solve(hessian(f, x), gradients[0])
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


def _newton_parameter(params: tuple[Var, ...]) -> tuple[Var]:
    if len(params) != 1 or params[0].ndim != 1:
        raise OptionError("a Newton step optimizes one vector variable; use gd or momentum")
    if params[0].size > NEWTON_MAX_PARAMETERS:
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


# --- running ---------------------------------------------------------------------------


def iterate(
    program: Iteration,
    values: dict[str, Any],
    backend: str | None = None,
    con: Any = None,
    optimize: str = "auto",
    trace: bool = False,
    form: str | None = None,
) -> Iterated:
    """Run ``program`` with its data variables set from ``values``.

    Args:
        program: the iteration.
        values: an array or :class:`einsql.Table` for each data variable, by name.
        backend: ``duckdb``, ``postgres``, ``sqlite`` or ``numpy``; None takes
            the backend of ``con`` (DuckDB without one).
        con: the database, as for :func:`einsql.einsum`.
        optimize: the path strategy of every einsum.
        trace: also return the loss at every step.
        form: how the database carries the state (see ``Dialect.iteration_forms``);
            its default by default. ``loop`` runs a statement per step and warns
            when it is not asked for.

    Raises:
        OperandError: a data variable has no value or a wrong shape.
        OptionError: an unknown form, or tracing an iteration without a loss.

    """
    if backend == "numpy":
        program.check_trace(trace)
        return _iterate_numpy(program, values, trace)
    dialect = load_dialect(backend_of(con, backend))
    chosen = form or dialect.iteration_forms[0]
    checked = check_variables(program.data, values, dialect)
    check_iteration(program, dialect, chosen, trace)
    if chosen == "loop" and form is None:
        warnings.warn(
            f"{dialect.name} runs an iteration a statement per step", LoopWarning, stacklevel=2
        )
    with open_driver(con, backend) as driver:
        data = load_variables(checked, driver)
        lowering = IterationLowering(program, data, driver.dialect, chosen, trace, optimize)
        if chosen == "loop":
            return _run_loop(lowering, driver, trace)
        return _run_recursive(lowering, driver, trace)


def _run_recursive(lowering: IterationLowering, driver: Driver, trace: bool) -> Iterated:
    """One ``WITH RECURSIVE`` statement into a temporary table, then the result queries."""
    name = f"{driver.prefix}state"
    with dropped_after(driver, [name]):
        driver.doing = "the iteration's WITH RECURSIVE statement"
        driver.execute(driver.sql(lowering.create_state(name)))
        driver.doing = "reading the iteration's result"
        rows = driver.query(driver.sql(lowering.result_query(name)))
        losses = driver.query(driver.sql(lowering.trace_query(name))) if trace else None
    return _iterated(lowering, rows, losses)


def _run_loop(lowering: IterationLowering, driver: Driver, trace: bool) -> Iterated:
    """A statement per step, alternating between two tables; all steps kept in ``history``."""
    history, even, odd = (f"{driver.prefix}{name}" for name in ("history", "even", "odd"))
    steps = {
        source: driver.sql(create_table_as(target, lowering.recursive_step(source)))
        for source, target in ((history, odd), (odd, even), (even, odd))
    }
    created: list[str] = [history]
    with dropped_after(driver, created):
        driver.doing = "the iteration's start"
        driver.execute(driver.sql(create_table_as(history, lowering.seed())))
        last = history
        for step in range(lowering.program.steps):
            driver.doing = f"step {step + 1} of the iteration"
            following = odd if last != odd else even
            created.append(following)
            driver.execute(steps[last])
            if not driver.query(driver.sql(_any_row(following)))["one"].size:
                break
            driver.execute(driver.sql(exp.insert(_all_rows(following), table_ref(history))))
            if last != history:
                driver.execute(driver.sql(drop_table(last)))
                created.remove(last)
            last = following
        driver.doing = "reading the iteration's result"
        rows = driver.query(driver.sql(lowering.result_query(history)))
        losses = driver.query(driver.sql(lowering.trace_query(history))) if trace else None
    return _iterated(lowering, rows, losses)


def _iterated(
    lowering: IterationLowering, rows: dict[str, np.ndarray], losses: dict[str, np.ndarray] | None
) -> Iterated:
    values = {}
    for v in lowering.program.reported:
        mine = np.asarray(rows["variable"]).astype(str) == v.name
        value = np.zeros(v.shape)
        index = tuple(np.asarray(rows[f"i{a}"][mine], dtype=np.int64) for a in range(v.ndim))
        value[index] = np.asarray(rows["val"][mine], dtype=np.float64)
        values[v.name] = value
    steps = int(rows["step"][0]) if len(rows["step"]) else 0
    trace = None
    if losses is not None:
        trace = {
            "step": np.asarray(losses["step"], dtype=np.int64),
            "loss": np.asarray(losses["loss"], dtype=np.float64),
        }
    return Iterated(values, steps, trace, lowering.form)


def _iterate_numpy(program: Iteration, values: dict[str, Any], trace: bool) -> Iterated:
    """The same iteration on the NumPy reference, step by step."""
    data = {name: variable_value(v, values) for name, v in program.data.items()}
    state = {v.name: start for v, start in zip(program.state, program.start)}
    reported = [v.name for v in program.reported]
    change, losses, taken = math.inf, [], 0
    extra = [program.loss] if trace and program.loss is not None else []
    while taken < program.steps and (program.tol is None or change > program.tol):
        computed = reference_values([*program.updates, *extra], {**data, **state})
        if extra:
            losses.append(float(computed[-1]))
        following = dict(zip(state, computed))
        change = math.sqrt(sum(float(np.sum((following[n] - state[n]) ** 2)) for n in reported))
        state, taken = following, taken + 1
    series = None
    if trace and program.loss is not None:
        losses.append(float(reference_values([program.loss], {**data, **state})[0]))
        series = {"step": np.arange(len(losses)), "loss": np.array(losses)}
    return Iterated({n: state[n] for n in reported}, taken, series, "numpy")


def minimize(
    f: Expr,
    wrt: Var | Sequence[Var],
    values: dict[str, Any],
    method: str = "gd",
    steps: int = 100,
    lr: float | None = None,
    momentum: float = 0.9,
    tol: float | None = None,
    backend: str | None = None,
    con: Any = None,
    trace: bool = False,
    form: str | None = None,
) -> Iterated:
    """Minimize ``f`` over ``wrt`` inside the database: one ``WITH RECURSIVE`` statement.

    ``values`` holds the data variables (arrays or :class:`einsql.Table`) and,
    optionally, start values of ``wrt`` (zeros otherwise). The other arguments
    are those of :func:`descent` and :func:`iterate`.

    >>> import numpy as np
    >>> from einsql.expr import var, sum_
    >>> w = var("w", (1,))
    >>> minimize(sum_((w - 3.0) ** 2.0), w, {}, method="newton", steps=1).x.tolist()
    [3.0]
    """
    params = (wrt,) if isinstance(wrt, Var) else tuple(wrt)
    start = {x.name: values[x.name] for x in params if x.name in values}
    program = descent(f, params, method, steps, lr, momentum, tol, start)
    data = {name: value for name, value in values.items() if name not in start}
    result = iterate(program, data, backend, con, trace=trace, form=form)
    if method == "newton":
        _check_newton(result, start)
    return result


def _check_newton(result: Iterated, start: dict[str, Any]) -> None:
    """Raise if a Newton step met a singular Hessian (its solve gives NaN everywhere).

    Raises:
        OperandError: the iterate is NaN although the start was not.

    """
    ((name, x),) = result.values.items()
    finite_start = all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in start.values())
    if np.isnan(x).all() and x.size and finite_start:
        raise OperandError(
            f"a Newton step on {name!r} met a singular (or non-finite) Hessian: its linear "
            "system has no unique solution; use method='gd', or add a small ridge term "
            "(+ c * sum(w ** 2)) to the loss"
        )


def power_iteration(
    A: Any,
    steps: int = 100,
    tol: float | None = None,
    damping: float | None = None,
    backend: str | None = None,
    con: Any = None,
    trace: bool = False,
    form: str | None = None,
) -> Iterated:
    """The dominant eigenvector of a sparse matrix (or PageRank with ``damping``).

    ``A`` is an array (NumPy, scipy.sparse, pydata sparse) or an
    :class:`einsql.Table`; see :func:`power_method` for the iteration.

    >>> import numpy as np
    >>> result = power_iteration(np.array([[2.0, 0.0], [0.0, 1.0]]), steps=50)
    >>> np.round(result.x, 6).tolist()
    [1.0, 0.0]
    """
    shape = tuple(A.shape)
    matrix = var("A", shape) if len(shape) == 2 else var("A", (0, 1))
    program = power_method(matrix, steps, tol, damping)
    return iterate(program, {"A": A}, backend, con, trace=trace, form=form)


def iteration_sql(
    program: Iteration, dialect: str, tables: dict[str, Table] | None, trace: bool
) -> str:
    """The statement of ``program`` (see ``einsql.to_sql``)."""
    target = load_dialect(dialect)
    data = named_tables(program.data, tables, target)
    form = next((f for f in target.iteration_forms if f != "loop"), None)
    if form is None:
        raise OptionError(
            f"{target.name} cannot iterate in one statement (its recursive term may not "
            "aggregate); einsql.minimize runs it there as a statement per step"
        )
    check_iteration(program, target, form, trace)
    lowering = IterationLowering(program, data, target, form, trace)
    statement = lowering.trace_statement() if trace else lowering.statement()
    return SQL(target.render(statement) + ";")


def _any_row(table: str) -> exp.Select:
    return exp.select(exp.Literal.number(1).as_("one")).from_(table_ref(table)).limit(1)


def _all_rows(table: str) -> exp.Select:
    return exp.select("*").from_(table_ref(table))
