"""Iterations inside the database against hand-written NumPy of the same iterations.

Each problem is run on DuckDB, PostgreSQL and SQLite, in each database's default
form and as a loop of statements, with the step size and number of steps of a
NumPy loop written out by hand here (not derived by einsql), to 1e-8 relative.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import scipy.sparse
from conftest import Database, psql_rows
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import einsql
from einsql.dialect import load_dialect
from einsql.expr import var
from einsql.iteration import NEWTON_MAX_PARAMETERS

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from newton_cg import numpy_newton_cg  # the benchmark's oracle, ridge 0.01

RTOL = 1e-8


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class Problem:
    """An objective, its data, and a NumPy step written by hand."""

    name: str
    f: einsql.Expr
    wrt: tuple[einsql.Expr, ...]
    data: dict[str, np.ndarray]
    start: dict[str, np.ndarray]
    method: str
    lr: float
    steps: int
    numpy_step: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    numpy_loss: Callable[[dict[str, np.ndarray]], float]


def least_squares(method: str = "gd", ridge: float = 0.0) -> Problem:
    rng = np.random.default_rng(1)
    n, d = 40, 4
    A, b = rng.normal(size=(n, d)), rng.normal(size=n)
    w, Av, bv = var("w", (d,)), var("A", (n, d)), var("b", (n,))
    r = einsql.einsum("ij,j->i", Av, w) - bv
    f = 0.5 * einsql.sum(r * r) / n + 0.5 * ridge * einsql.sum(w * w)
    lr = 1.0 if method == "newton" else 0.1

    def step(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = A.T @ (A @ s["w"] - b) / n + ridge * s["w"]
        if method == "newton":
            return {"w": s["w"] - lr * np.linalg.solve(A.T @ A / n + ridge * np.eye(d), g)}
        return {"w": s["w"] - lr * g}

    def loss(s: dict[str, np.ndarray]) -> float:
        res = A @ s["w"] - b
        return float(0.5 * res @ res / n + 0.5 * ridge * s["w"] @ s["w"])

    name = ("ridge" if ridge else "least squares") + f" {method}"
    start = {"w": np.zeros(d)}
    return Problem(name, f, (w,), {"A": A, "b": b}, start, method, lr, 30, step, loss)


def logistic(method: str) -> Problem:
    rng = np.random.default_rng(2)
    n, d = 60, 3
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.3] = 0.0  # sparse features stay sparse tables
    y = (rng.random(n) < sigmoid(X @ np.array([1.0, -2.0, 0.5]))).astype(float)
    w, Xv, yv = var("w", (d,)), var("X", (n, d)), var("y", (n,))
    z = einsql.einsum("ij,j->i", Xv, w)
    f = einsql.sum(einsql.softplus(z) - yv * z) / n
    lr = 1.0 if method == "newton" else 0.5

    def step(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        p = sigmoid(X @ s["w"])
        g = X.T @ (p - y) / n
        if method == "newton":
            H = X.T @ (X * (p * (1 - p))[:, None]) / n
            return {"w": s["w"] - lr * np.linalg.solve(H, g)}
        return {"w": s["w"] - lr * g}

    def loss(s: dict[str, np.ndarray]) -> float:
        z = X @ s["w"]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    steps = 8 if method == "newton" else 40
    start = {"w": np.zeros(d)}
    return Problem(
        f"logistic {method}", f, (w,), {"X": X, "y": y}, start, method, lr, steps, step, loss
    )


def factorization(method: str) -> Problem:
    rng = np.random.default_rng(3)
    m, n, k = 6, 5, 2
    M = rng.normal(size=(m, k)) @ rng.normal(size=(k, n))
    U, V, Mv = var("U", (m, k)), var("V", (n, k)), var("M", (m, n))
    R = einsql.einsum("ik,jk->ij", U, V) - Mv
    f = 0.5 * einsql.sum(R * R)
    lr, beta = 0.02, 0.9

    def step(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        residual = s["U"] @ s["V"].T - M
        g = {"U": residual @ s["V"], "V": residual.T @ s["U"]}
        if method == "gd":
            return {x: s[x] - lr * g[x] for x in ("U", "V")}
        velocity = {x: beta * s.get(f"velocity {x}", 0.0) + g[x] for x in ("U", "V")}
        moved = {x: s[x] - lr * velocity[x] for x in ("U", "V")}
        return {**moved, **{f"velocity {x}": v for x, v in velocity.items()}}

    def loss(s: dict[str, np.ndarray]) -> float:
        residual = s["U"] @ s["V"].T - M
        return float(0.5 * np.sum(residual * residual))

    start = {"U": rng.normal(size=(m, k)) * 0.5, "V": rng.normal(size=(n, k)) * 0.5}
    return Problem(
        f"factorization {method}", f, (U, V), {"M": M}, start, method, lr, 40, step, loss
    )


PROBLEMS = [
    least_squares(),
    least_squares(ridge=0.3),
    least_squares("newton", ridge=0.3),
    logistic("gd"),
    logistic("newton"),
    factorization("gd"),
    factorization("momentum"),
]


def numpy_run(
    problem: Problem, steps: int | None = None
) -> tuple[dict[str, np.ndarray], list[float]]:
    state = {k: v.copy() for k, v in problem.start.items()}
    losses = []
    for _ in range(problem.steps if steps is None else steps):
        losses.append(problem.numpy_loss(state))
        state = problem.numpy_step(state)
    losses.append(problem.numpy_loss(state))
    return state, losses


def assert_close(ours: np.ndarray, expected: np.ndarray) -> None:
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=RTOL * scale)


def run(problem: Problem, db: Database, **options: Any) -> einsql.Iterated:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        return einsql.minimize(
            problem.f,
            problem.wrt if len(problem.wrt) > 1 else problem.wrt[0],
            {**problem.data, **problem.start},
            method=problem.method,
            steps=problem.steps,
            lr=problem.lr,
            con=db.con,
            **options,
        )


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_minimize_matches_numpy(problem: Problem, db: Database) -> None:
    expected, losses = numpy_run(problem)
    result = run(problem, db, trace=True)
    assert result.steps == problem.steps
    assert result.form == load_dialect(db.name).iteration_forms[0]
    assert result.values.keys() == problem.start.keys()
    for name, value in result.values.items():
        assert_close(value, expected[name])
    assert result.trace is not None
    assert result.trace["step"].tolist() == list(range(problem.steps + 1))
    assert_close(result.trace["loss"], np.array(losses))
    assert db.leftovers() == []


@pytest.mark.parametrize(
    "problem",
    [  # the first also on Spark, whose only form is the loop
        pytest.param(PROBLEMS[1], id=PROBLEMS[1].name, marks=pytest.mark.spark),
        pytest.param(PROBLEMS[4], id=PROBLEMS[4].name),
        pytest.param(PROBLEMS[6], id=PROBLEMS[6].name),
    ],
)
def test_loop_form_matches_numpy(problem: Problem, db: Database) -> None:
    expected, _ = numpy_run(problem)
    result = run(problem, db, form="loop")
    assert result.form == "loop"
    for name, value in result.values.items():
        assert_close(value, expected[name])
    assert db.leftovers() == []


@pytest.mark.parametrize("problem", [PROBLEMS[0], PROBLEMS[4]], ids=lambda p: p.name)
def test_numpy_backend_runs_the_same_iterations(problem: Problem) -> None:
    expected, losses = numpy_run(problem)
    result = einsql.minimize(
        problem.f,
        problem.wrt[0],
        {**problem.data, **problem.start},
        method=problem.method,
        steps=problem.steps,
        lr=problem.lr,
        backend="numpy",
        trace=True,
    )
    assert result.form == "numpy"
    assert_close(result.x, expected["w"])
    assert result.trace is not None
    assert_close(result.trace["loss"], np.array(losses))


def test_tolerance_stops_early_and_counts_steps(db: Database) -> None:
    problem = least_squares()
    problem.steps = 500
    tol = 1e-6
    state = {k: v.copy() for k, v in problem.start.items()}
    taken = 0
    while taken < problem.steps:
        following = problem.numpy_step(state)
        change = float(np.linalg.norm(following["w"] - state["w"]))
        state, taken = following, taken + 1
        if change <= tol:
            break
    result = run(problem, db, tol=tol)
    assert 0 < result.steps < 500
    assert result.steps == taken
    assert_close(result.x, state["w"])


def test_zero_steps_returns_the_start(db: Database) -> None:
    problem = factorization("gd")
    problem.steps = 0
    result = run(problem, db, trace=True)
    assert result.steps == 0
    for name, value in problem.start.items():
        assert_close(result.values[name], value)
    assert result.trace is not None and len(result.trace["loss"]) == 1


def random_graph(nodes: int, edges: int, seed: int) -> scipy.sparse.csr_matrix:
    """A column-stochastic transition matrix of a random directed graph (some dangling nodes)."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, nodes, size=edges)
    target = rng.integers(0, nodes, size=edges)
    keep = source % 97 != 0  # nodes without out-links
    adjacency = scipy.sparse.coo_matrix(
        (np.ones(keep.sum()), (target[keep], source[keep])), shape=(nodes, nodes)
    ).tocsr()
    adjacency.sum_duplicates()
    out_degree = np.asarray(adjacency.sum(axis=0)).ravel()
    scale = np.divide(1.0, out_degree, out=np.zeros(nodes), where=out_degree > 0)
    return (adjacency @ scipy.sparse.diags(scale)).tocsr()


def test_pagerank_on_ten_thousand_edges(db: Database) -> None:
    M = random_graph(2_000, 12_000, seed=4)
    assert M.nnz >= 10_000
    damping, steps, n = 0.85, 30, M.shape[0]
    x = np.full(n, 1.0 / n)
    for _ in range(steps):
        y = damping * (M @ x) + (1 - damping) * x.sum() / n
        x = y / np.abs(y).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.power_iteration(M, steps=steps, damping=damping, con=db.con)
    assert result.steps == steps
    assert_close(result.x, x)
    assert db.leftovers() == []
    table = einsql.einsum("ij->ij", M, con=db.con, into="graph_links")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", einsql.LoopWarning)
            from_table = einsql.power_iteration(table, steps=steps, damping=damping, con=db.con)
        assert_close(from_table.x, x)
    finally:
        db.drop("graph_links")


def test_power_iteration_finds_the_dominant_eigenvector(db: Database) -> None:
    B = scipy.sparse.random(300, 300, density=0.02, random_state=6).toarray()
    A = B + B.T + np.diag(np.linspace(0.0, 3.0, 300))
    x = np.full(300, 1.0 / np.sqrt(300))
    rayleigh = []
    for _ in range(25):
        rayleigh.append(x @ A @ x)
        y = A @ x
        x = y / np.linalg.norm(y)
    rayleigh.append(x @ A @ x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.power_iteration(A, steps=25, con=db.con, trace=True)
    assert_close(result.x, x)
    assert result.trace is not None
    assert_close(result.trace["loss"], np.array(rayleigh))


def test_newton_limit_runs_at_the_limit(db: Database) -> None:
    d = load_dialect(db.name).max_solve_size
    assert d <= NEWTON_MAX_PARAMETERS
    rng = np.random.default_rng(7)
    A, b = rng.normal(size=(2 * d, d)), rng.normal(size=2 * d)
    w = var("w", (d,))
    r = einsql.einsum("ij,j->i", var("A", (2 * d, d)), w) - var("b", (2 * d,))
    f = 0.5 * einsql.sum(r * r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.minimize(f, w, {"A": A, "b": b}, method="newton", steps=1, con=db.con)
    assert_close(result.x, np.linalg.lstsq(A, b, rcond=None)[0])


# --- SQL text --------------------------------------------------------------------------


def table_script(name: str, value: np.ndarray) -> str:
    """PostgreSQL text creating a COO table holding ``value``."""
    axes = [f"i{a}" for a in range(value.ndim)]
    columns = ", ".join([*(f"{c} bigint" for c in axes), "val double precision"])
    rows = ", ".join(
        "(" + ", ".join([*map(str, index), repr(float(value[index]))]) + ")"
        for index in zip(*np.nonzero(value))
    )
    return f'CREATE TEMP TABLE "{name}" ({columns});\nINSERT INTO "{name}" VALUES {rows};\n'


def pasted_values(
    rows: list[list[str]] | list[tuple[Any, ...]], problem: Problem
) -> dict[str, np.ndarray]:
    values = {v.name: np.zeros(v.shape) for v in problem.wrt}
    for step, name, *rest in rows:
        *index, val = rest
        v = values[str(name)]
        values[str(name)][tuple(int(i) for i in index[: v.ndim])] = float(val)
        assert int(step) == problem.steps
    return values


def program_of(problem: Problem) -> einsql.Iteration:
    wrt = problem.wrt if len(problem.wrt) > 1 else problem.wrt[0]
    return einsql.descent(
        problem.f, wrt, problem.method, problem.steps, problem.lr, start=problem.start
    )


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_sql_pasted_into_psql(problem: Problem, pg_url: str) -> None:
    script = "".join(table_script(name, value) for name, value in problem.data.items())
    rows = psql_rows(pg_url, script + einsql.to_sql(program_of(problem), dialect="postgres"))
    expected, _ = numpy_run(problem)
    for name, value in pasted_values(rows, problem).items():
        assert_close(value, expected[name])


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_sql_pasted_into_duckdb(problem: Problem) -> None:
    con = duckdb.connect()
    for name, value in problem.data.items():
        con.execute(table_script(name, value).replace("double precision", "double"))
    program = program_of(problem)
    rows = con.sql(einsql.to_sql(program, dialect="duckdb")).fetchall()
    expected, losses = numpy_run(problem)
    for name, value in pasted_values(rows, problem).items():
        assert_close(value, expected[name])
    trace = con.sql(einsql.to_sql(program, dialect="duckdb", trace=True)).fetchall()
    assert [s for s, _ in trace] == list(range(problem.steps + 1))
    assert_close(np.array([loss for _, loss in trace]), np.array(losses))


def test_sql_reads_named_tables() -> None:
    problem = least_squares()
    text = einsql.to_sql(
        program_of(problem), dialect="duckdb", tables={"A": einsql.Table("design", (40, 4))}
    )
    assert '"design"' in text and 'FROM "b"' in text and "WITH RECURSIVE" in text


# --- forms and errors ------------------------------------------------------------------


def test_sqlite_loops_by_default_and_says_so() -> None:
    problem = least_squares()
    with pytest.warns(einsql.LoopWarning, match="statement per step"):
        result = einsql.minimize(problem.f, problem.wrt[0], problem.data, steps=3, backend="sqlite")
    assert result.form == "loop"


#: A database that cannot be reached: input errors must come before connecting.
NOWHERE = "postgresql://nowhere.invalid/x"


def error_cases() -> list[tuple[Callable[[], Any], type[Exception], str]]:
    problem = least_squares()
    f, w = problem.f, problem.wrt[0]
    big = var("big", (65,))
    mid = var("mid", (33,))
    M = var("Mat", (2, 2))
    return [
        (lambda: einsql.minimize(f, w, problem.data, method="adam"), einsql.OptionError, "adam"),
        (lambda: einsql.minimize(w * 2.0, w, {}), einsql.OperandError, "scalar"),
        (
            lambda: einsql.minimize(f, var("q", (4,)), problem.data),
            einsql.OperandError,
            "not a variable",
        ),
        (
            lambda: einsql.minimize(einsql.sum(big * big), big, {}, method="newton"),
            einsql.OptionError,
            "at most 64",
        ),
        (
            lambda: einsql.minimize(einsql.sum(M * M), M, {}, method="newton"),
            einsql.OptionError,
            "one vector",
        ),
        (lambda: einsql.minimize(f, w, {"A": problem.data["A"]}), einsql.OperandError, "'b'"),
        (
            lambda: einsql.minimize(f, w, {"A": problem.data["A"]}, con=NOWHERE),
            einsql.OperandError,
            "'b'",
        ),
        (
            lambda: einsql.minimize(
                f, w, {**problem.data, "A": einsql.Table("__einsql_cur", (40, 4))}, con=NOWHERE
            ),
            einsql.OperandError,
            "reserved",
        ),
        (
            lambda: einsql.minimize(
                f,
                w,
                problem.data,
                form="rows",
                backend="postgres",
                con="postgresql://nowhere.invalid/x",
            ),
            einsql.OptionError,
            "packed",
        ),
        (
            lambda: einsql.power_iteration(np.eye(3), damping=0.5, trace=True),
            einsql.OptionError,
            "no loss",
        ),
        (lambda: einsql.power_iteration(np.ones((2, 3))), einsql.OperandError, "square"),
        (lambda: einsql.to_sql(einsql.descent(f, w), dialect="trino"), einsql.OptionError, "trino"),
        (
            lambda: einsql.to_sql(einsql.descent(f, w), dialect="sqlite"),
            einsql.OptionError,
            "statement per step",
        ),
        (
            lambda: einsql.minimize(f, w, problem.data, backend="sqlite", form="packed"),
            einsql.OptionError,
            "loop",
        ),
        (
            lambda: einsql.minimize(
                einsql.sum(mid * mid), mid, {}, method="newton", backend="sqlite"
            ),
            einsql.OptionError,
            "at most 32",
        ),
        (
            lambda: einsql.to_sql(einsql.descent(einsql.sum(var("__einsql_x", (4,)) * w), w)),
            einsql.OperandError,
            "reserved",
        ),
        (lambda: einsql.minimize(f, w, problem.data, steps=-1), einsql.OptionError, "negative"),
    ]


@pytest.mark.parametrize("case", range(len(error_cases())))
def test_bad_input_is_refused_before_the_database(case: int) -> None:
    call, error, text = error_cases()[case]
    with pytest.raises(error, match=text):
        call()


@pytest.mark.spark
def test_a_failing_iteration_leaves_nothing_behind(db: Database) -> None:
    problem = least_squares()
    values = {"A": problem.data["A"], "b": einsql.Table("no_such_table", (40,))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        with pytest.raises(Exception, match="no_such_table"):
            einsql.minimize(problem.f, problem.wrt[0], values, steps=3, con=db.con)
    assert db.leftovers() == []
    assert db.rows("SELECT 1") == [(1,)]


def test_newton_cg_runs_past_the_solve_limit(db: Database) -> None:
    rng = np.random.default_rng(7)
    n, d = 150, NEWTON_MAX_PARAMETERS + 16
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < sigmoid(X @ rng.normal(size=d) / np.sqrt(d))).astype(float)
    w, Xv, yv = var("w", (d,)), var("X", (n, d)), var("y", (n,))
    z = einsql.einsum("ij,j->i", Xv, w)
    f = einsql.sum(einsql.softplus(z) - yv * z) / n + 0.01 * einsql.sum(w * w)
    cg_steps = 4
    values = {"X": X, "y": y}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.minimize(
            f, w, values, method="newton-cg", steps=3, cg_steps=cg_steps, con=db.con
        )
    expected = numpy_newton_cg(X, y, 3, cg_steps)  # the benchmark's ridge, 0.01
    assert result.steps == 3 and np.abs(expected).max() > 0.05
    np.testing.assert_allclose(result.x, expected, rtol=1e-8, atol=1e-10)
    assert db.leftovers() == []
    with pytest.raises(einsql.OptionError, match="at most 64 parameters"):
        einsql.descent(f, w, method="newton")


def test_conjugate_gradients_need_a_positive_count() -> None:
    w = var("w", (2,))
    with pytest.raises(einsql.OptionError, match="cg_steps must be a positive integer"):
        einsql.descent(einsql.sum(w * w), w, method="newton-cg", cg_steps=0)


def test_newton_cg_stops_at_curvature_not_above_zero(db: Database) -> None:
    """A singular or negative curvature ends the CG steps (as SciPy's Newton-CG), so a
    step never flies off along a flat direction nor climbs toward a maximum."""
    x = var("x", (2,))
    flat = einsql.sum(x**2.0 * np.array([1.0, 0.0])) + einsql.sum(x * np.array([0.0, 1.0]))
    result = einsql.minimize(
        flat, x, {"x": np.zeros(2)}, method="newton-cg", steps=1, cg_steps=2, con=db.con
    )
    # the first direction is the gradient (0, -1), flat: a steepest-descent step
    np.testing.assert_allclose(result.values["x"], [0.0, -1.0], atol=1e-12)
    start = np.array([0.5, 0.3])
    hill = einsql.sum(einsql.cos(x))  # its Hessian -diag(cos x) is negative here
    result = einsql.minimize(
        hill, x, {"x": start}, method="newton-cg", steps=1, cg_steps=2, con=db.con
    )
    np.testing.assert_allclose(result.values["x"], start + np.sin(start), atol=1e-12)
    assert db.leftovers() == []


def test_postgres_iterates_without_jit_and_puts_it_back(pg_url: str) -> None:
    """JIT compiled a Newton-CG step's CTEs for 24 s of its 26 s: iterations turn it off,
    for einsql's own transaction block only; a caller's open transaction keeps its value."""
    import psycopg

    x = var("x", (3,))
    f = einsql.sum((x - 1.0) ** 2.0)
    with psycopg.connect(pg_url) as con:
        con.execute("SET jit = on")
        con.commit()
        with con.transaction():
            con.execute("SET LOCAL jit_above_cost = 0")
            result = einsql.minimize(f, x, {}, method="newton-cg", steps=1, con=con)
            assert con.execute("SHOW jit").fetchone() == ("on",)
            assert con.execute("SHOW jit_above_cost").fetchone() == ("0",)
        np.testing.assert_allclose(result.x, np.ones(3), atol=1e-12)
        assert con.execute("SHOW jit").fetchone() == ("on",)


def test_a_step_too_long_for_one_statement_runs_staged_as_a_loop() -> None:
    """DuckDB's expression depth limit failed a step of 1,254 CTEs in one WITH RECURSIVE:
    by default such a step runs as a loop, each step staged; asked for, the form stays."""
    problem = least_squares("gd")
    program = einsql.descent(problem.f, problem.wrt[0], method="newton-cg", cg_steps=40, steps=1)
    con = duckdb.connect()
    with pytest.warns(einsql.LoopWarning, match="too long for one statement"):
        result = einsql.iterate(program, problem.data, con=con)
    assert result.form == "loop" and result.steps == 1
    expected = einsql.iterate(program, problem.data, backend="numpy")
    np.testing.assert_allclose(result.x, expected.x, rtol=RTOL, atol=1e-12)
    with pytest.raises(einsql.DatabaseError, match="expression depth"):
        einsql.iterate(program, problem.data, con=con, form="rows")
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


def test_newton_cg_on_sparse_logistic_regression_over_tables(db: Database) -> None:
    """The benchmark's workload (benchmarks/newton_cg.py, d = 10,000) at d = 2,000: X a
    sparse table of the database, every step staged where one statement would not do."""
    rng = np.random.default_rng(11)
    n, d, steps, cg_steps = 4_000, 2_000, 2, 5
    X = scipy.sparse.random(n, d, density=0.002, random_state=11, format="csr")
    y = (rng.random(n) < sigmoid(X @ rng.normal(size=d) - 0.5 * X.sum(1).A1)).astype(float)
    w, Xv, yv = var("w", (d,)), var("X", (n, d)), var("y", (n,))
    z = einsql.einsum("ij,j->i", Xv, w)
    f = einsql.sum(einsql.softplus(z) - yv * z) / n + 0.01 * einsql.sum(w * w)
    tables = {
        "X": einsql.einsum("ij->ij", X, con=db.con, into="newton_cg_X"),
        "y": einsql.einsum("i->i", y, con=db.con, into="newton_cg_y"),
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", einsql.LoopWarning)
            result = einsql.minimize(
                f, w, tables, method="newton-cg", steps=steps, cg_steps=cg_steps, con=db.con
            )
    finally:
        db.execute(*(f'DROP TABLE "{t.name}"' for t in tables.values()))
    expected = numpy_newton_cg(X, y, steps, cg_steps)  # the benchmark's ridge, 0.01
    assert result.steps == steps and np.abs(expected).max() > 0.01
    np.testing.assert_allclose(result.x, expected, rtol=1e-8, atol=1e-12)
    assert db.leftovers() == []


def oracle_newton_cg(
    grad: Callable[[np.ndarray], np.ndarray],
    hvp: Callable[[np.ndarray, np.ndarray], np.ndarray],
    start: np.ndarray,
    steps: int,
    cg_steps: int,
) -> tuple[np.ndarray, float]:
    """Newton-CG by hand, the CG steps stopping at a curvature not above zero (``-g`` if
    it is the first); also the smallest |curvature| / |p|^2 met (near 0 the sign is noise)."""
    w, closest = start.copy(), np.inf
    for _ in range(steps):
        g = grad(w)
        s, r = np.zeros_like(w), -g
        p, rr = r.copy(), r @ r
        for k in range(cg_steps):
            hp = hvp(w, p)
            curvature = p @ hp
            if p @ p > 1e-12:
                closest = min(closest, abs(curvature) / (p @ p))
            if not curvature > 0:
                s = s if k else -g
                break
            alpha = rr / curvature
            s, r = s + alpha * p, r - alpha * hp
            following = r @ r
            p = r + following / (rr if rr != 0 else 1.0) * p
            rr = following
        w = w + s
    return w, closest


@st.composite
def newton_cases(draw: st.DrawFn) -> dict[str, Any]:
    """``sum(phi(A w)) - b.w + c |w|^2``, phi softplus (convex) or cos (indefinite)."""
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    entries = st.one_of(st.just(0.0), st.floats(-2, 2, allow_nan=False, width=32))
    return {
        "A": draw(hnp.arrays("float64", (n, d), elements=entries)),
        "b": draw(hnp.arrays("float64", (d,), elements=entries)),
        "start": draw(hnp.arrays("float64", (d,), elements=entries)),
        "c": draw(st.sampled_from([0.0, 0.01, 0.5])),
        "phi": draw(st.sampled_from(["softplus", "cos"])),
        "steps": draw(st.integers(1, 2)),
        "cg_steps": draw(st.integers(1, 4)),
    }


@settings(
    max_examples=int(os.environ.get("EINSQL_NEWTON_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=newton_cases())
def test_newton_cg_matches_a_numpy_oracle(db: Database, case: dict[str, Any]) -> None:
    A, b, c, start = case["A"], case["b"], case["c"], case["start"]
    n, d = A.shape
    convex = case["phi"] == "softplus"
    reached = [0.0]  # the largest |A w| met: past 30, sigmoid's forms differ relatively
    # (NumPy's 0.5 * (1 + tanh(z / 2)) is 0 below -37, SQL's exp(z) / (1 + exp(z)) is not),
    # and a Newton step divides the tiny gradient there by the tiny curvature

    def grad(w: np.ndarray) -> np.ndarray:
        z = A @ w
        reached[0] = max(reached[0], float(np.abs(z).max(initial=0.0)))
        return np.asarray(A.T @ (sigmoid(z) if convex else -np.sin(z)) - b + 2 * c * w)

    def hvp(w: np.ndarray, v: np.ndarray) -> np.ndarray:
        z = A @ w
        curvature = sigmoid(z) * (1 - sigmoid(z)) if convex else -np.cos(z)
        return np.asarray(A.T @ (curvature * (A @ v)) + 2 * c * v)

    expected, closest = oracle_newton_cg(grad, hvp, start, case["steps"], case["cg_steps"])
    assume(closest > 1e-6 and np.all(np.abs(expected) < 1e6) and reached[0] < 30)
    w, Av, bv = var("w", (d,)), var("A", (n, d)), var("b", (d,))
    phi = {"softplus": einsql.softplus, "cos": einsql.cos}[case["phi"]]
    f = einsql.sum(phi(einsql.einsum("ij,j->i", Av, w))) - einsql.sum(bv * w)
    f = f + c * einsql.sum(w * w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.minimize(
            f, w, {"A": A, "b": b, "w": start}, method="newton-cg", steps=case["steps"],
            cg_steps=case["cg_steps"], con=db.con,
        )  # fmt: skip
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(result.x, expected, rtol=1e-7, atol=1e-7 * scale)
