"""Iterations run inside the database: gradient descent, Newton steps, power iteration.

An :class:`Iteration` is a program: state variables, the expression giving each
one's next value (its derivatives computed by einsql), start values, a number
of steps and a tolerance. :func:`iterate` runs it in one ``WITH RECURSIVE``
statement (see :mod:`einsql.iteration_sql`), or on the NumPy reference;
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
from typing import Any

import numpy as np
from sqlglot import exp

from einsql import staging
from einsql.convention import VALUE, Program, axis_column
from einsql.dialect import Dialect, load_dialect
from einsql.display import SQL
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver, dropped_after
from einsql.errors import OperandError, OptionError
from einsql.evaluation import check_variables, load_variables, reference_values
from einsql.expr import Expr, Var, var
from einsql.expr_lower import named_tables
from einsql.iteration import Iterated, Iteration, LoopWarning, descent, power_method
from einsql.iteration_sql import IterationLowering, check_iteration
from einsql.logger import mark, public
from einsql.operands import Table, variable_value
from einsql.sql import create_table_as, drop_table, table_ref, union_all

# --- running ---------------------------------------------------------------------------


@public("iterate")
def iterate(
    program: Iteration,
    values: dict[str, Any],
    backend: str | None = None,
    con: Any = None,
    optimize: Any = "auto",
    trace: bool = False,
    form: str | None = None,
    *,
    echo: bool = False,
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
            its default by default, or ``loop`` where a step has more CTEs than
            one statement holds (``Dialect.max_recursive_step_ctes``). ``loop``
            runs a statement per step (each staged if long, see
            :func:`step_program`) and warns when it is not asked for.
        echo: print each SQL statement, and the call's timings, on standard error.

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
    with open_driver(con, backend) as driver:
        data = load_variables(checked, driver)
        lowering = IterationLowering(program, data, driver.dialect, chosen, trace, optimize)
        if form is None and chosen != "loop" and _too_long(lowering):
            lowering = IterationLowering(program, data, driver.dialect, "loop", trace, optimize)
        if lowering.form == "loop" and form is None:
            warnings.warn(
                f"{dialect.name} runs this iteration a statement per step"
                + ("" if chosen == "loop" else ": its step is too long for one statement"),
                LoopWarning,
                stacklevel=3,  # the caller of iterate, past the wrapper of einsql.logger.public
            )
        if lowering.form == "loop":
            return _run_loop(lowering, driver, trace)
        return _run_recursive(lowering, driver, trace)


def _too_long(lowering: IterationLowering) -> bool:
    """Whether a step has more CTEs than one statement of the database holds."""
    limit = lowering.dialect.max_recursive_step_ctes
    ctes, _ = staging.split_ctes(lowering.recursive_step())
    return limit is not None and len(ctes) > limit


def _run_recursive(lowering: IterationLowering, driver: Driver, trace: bool) -> Iterated:
    """One ``WITH RECURSIVE`` statement into a temporary table, then the result queries."""
    mark("run")
    name = f"{driver.prefix}state"
    with dropped_after(driver, [name]):
        driver.doing = "the iteration's WITH RECURSIVE statement"
        driver.execute(driver.sql(lowering.create_state(name)))
        driver.doing = "reading the iteration's result"
        rows = driver.query(driver.sql(lowering.result_query(name)))
        losses = driver.query(driver.sql(lowering.trace_query(name))) if trace else None
    return _iterated(lowering, rows, losses)


def _run_loop(lowering: IterationLowering, driver: Driver, trace: bool) -> Iterated:
    """A statement per step, alternating between two tables; all steps kept in ``history``.

    A step longer than one statement holds (see :func:`step_program`) runs as
    staged statements, their tables dropped as soon as the step no longer reads them.
    """
    if not driver.dialect.insertable_temporaries:
        return _run_loop_kept(lowering, driver, trace)
    mark("run")
    history, even, odd = (f"{driver.prefix}{name}" for name in ("history", "even", "odd"))
    steps = {
        source: step_program(lowering.recursive_step(source), target, driver.dialect)
        for source, target in ((history, odd), (odd, even), (even, odd))
    }
    rendered = {
        source: [driver.sql(s) for s in (*p.setup, create_table_as(target, p.query), *p.teardown)]
        for (source, p), target in zip(steps.items(), (odd, even, odd))
    }
    created: list[str] = [history]
    with dropped_after(driver, created):
        driver.doing = "the iteration's start"
        driver.execute(driver.sql(create_table_as(history, lowering.seed())))
        last = history
        for step in range(lowering.program.steps):
            driver.doing = f"step {step + 1} of the iteration"
            following = odd if last != odd else even
            created += [following, *steps[last].temporaries]
            for sql in rendered[last]:
                driver.execute(sql)
            del created[len(created) - len(steps[last].temporaries) :]  # dropped by the step
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


def step_program(query: exp.Select, into: str, dialect: Dialect) -> Program:
    """One step (``query``, to be kept as table ``into``) as a program of statements.

    The step's CTEs stay in its one statement when they fit; else they run
    first as :func:`einsql.staging.staged_query` statements, tables named after
    ``into``: when there are more than ``Dialect.max_statement_steps`` of them
    (a Newton-CG step has about 30 per conjugate-gradient step; one statement
    holding them passes DuckDB's expression depth limit of 1,000 near 40 CG
    steps and SQLite's 65,535 references to one table at 3), when the
    database would copy a CTE read twice (``Dialect.inlines_shared_ctes``),
    and always, a table per CTE, where ``Dialect.stages_every_step_cte`` says.

    >>> from einsql.dialect import load_dialect
    >>> from einsql.sql import table_ref
    >>> step = exp.select("*").from_(table_ref("a")).with_("a", as_=exp.select("1"))
    >>> step_program(step, "t", load_dialect("duckdb")).setup
    ()
    >>> staged = step_program(step.join(table_ref("a").as_("b")), "t", load_dialect("spark"))
    >>> [load_dialect("spark").render(s, pretty=False) for s in staged.setup]
    ['CACHE TABLE `t_a` AS SELECT 1']

    Returns:
        The program: run its setup, keep its query's rows as ``into``, then
        run its teardown (which drops the step's tables).

    """
    ctes, body = staging.split_ctes(query)
    if dialect.stages_every_step_cte:
        return staging.staged_query(query, f"{into}_", 1, dialect)
    long = len(ctes) > dialect.max_statement_steps
    if not (long or (dialect.inlines_shared_ctes and staging.shared(ctes, body))):
        return Program((), query)
    return staging.staged_query(query, f"{into}_", dialect.max_statement_steps, dialect)


def _iterated(
    lowering: IterationLowering, rows: dict[str, np.ndarray], losses: dict[str, np.ndarray] | None
) -> Iterated:
    values = {}
    for v in lowering.program.reported:
        mine = np.asarray(rows["variable"]).astype(str) == v.name
        value = np.zeros(v.shape)
        index = tuple(np.asarray(rows[axis_column(a)][mine], dtype=np.int64) for a in range(v.ndim))
        value[index] = np.asarray(rows[VALUE][mine], dtype=np.float64)
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


@public("minimize")
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
    *,
    echo: bool = False,
    cg_steps: int = 10,
) -> Iterated:
    """Minimize ``f`` over ``wrt`` inside the database: one ``WITH RECURSIVE`` statement.

    ``values`` holds the data variables (arrays or :class:`einsql.Table`) and,
    optionally, start values of ``wrt`` (zeros otherwise). The other arguments
    are those of :func:`descent` and :func:`iterate` (``echo`` too).

    >>> import numpy as np
    >>> from einsql.expr import var, sum_
    >>> w = var("w", (1,))
    >>> minimize(sum_((w - 3.0) ** 2.0), w, {}, method="newton", steps=1).x.tolist()
    [3.0]
    """
    params = (wrt,) if isinstance(wrt, Var) else tuple(wrt)
    start = {x.name: values[x.name] for x in params if x.name in values}
    program = descent(f, params, method, steps, lr, momentum, tol, start, cg_steps)
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


@public("power_iteration")
def power_iteration(
    A: Any,
    steps: int = 100,
    tol: float | None = None,
    damping: float | None = None,
    backend: str | None = None,
    con: Any = None,
    trace: bool = False,
    form: str | None = None,
    *,
    echo: bool = False,
) -> Iterated:
    """The dominant eigenvector of a sparse matrix (or PageRank with ``damping``).

    ``A`` is an array (NumPy, scipy.sparse, pydata sparse) or an
    :class:`einsql.Table`; see :func:`power_method` for the iteration, and
    :func:`iterate` for the other arguments.

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


def _run_loop_kept(lowering: IterationLowering, driver: Driver, trace: bool) -> Iterated:
    """A statement per step, each into a table of its own, read together at the end.

    For databases whose temporary tables take no inserts (Spark's cached views).
    """
    mark("run")
    tables: list[str] = []
    with dropped_after(driver, tables):
        driver.doing = "the iteration's start"
        steps = [f"{driver.prefix}s0"]
        tables.append(steps[0])
        driver.run_statement(driver.dialect.temporary_table(steps[0], lowering.seed()))
        for step in range(lowering.program.steps):
            driver.doing = f"step {step + 1} of the iteration"
            following = f"{driver.prefix}s{step + 1}"
            tables.append(following)
            _run_step(driver, lowering.recursive_step(steps[-1]), following, tables)
            steps.append(following)
            if not driver.query(driver.sql(_any_row(following)))["one"].size:
                break
        driver.doing = "collecting the iteration's steps"
        history = f"{driver.prefix}history"
        every = union_all([_all_rows(table) for table in steps])
        tables.append(history)
        driver.run_statement(driver.dialect.temporary_table(history, every))
        driver.doing = "reading the iteration's result"
        rows = driver.query(driver.sql(lowering.result_query(history)))
        losses = driver.query(driver.sql(lowering.trace_query(history))) if trace else None
    return _iterated(lowering, rows, losses)


def _run_step(driver: Driver, query: exp.Select, into: str, tables: list[str]) -> None:
    """Keep ``query``'s rows as ``into``, staged as :func:`step_program` says.

    The staged tables (listed in ``tables`` while they live) are dropped at the
    end with the steps' tables: a database keeping steps this way (Spark's
    cached views) reads a later step through the tables it was made from.
    """
    program = step_program(query, into, driver.dialect)
    tables.extend(program.temporaries)
    for statement in program.setup:
        driver.run_statement(statement)
    driver.run_statement(driver.dialect.temporary_table(into, program.query))


def _any_row(table: str) -> exp.Select:
    return exp.select(exp.Literal.number(1).as_("one")).from_(table_ref(table)).limit(1)


def _all_rows(table: str) -> exp.Select:
    return exp.select("*").from_(table_ref(table))
