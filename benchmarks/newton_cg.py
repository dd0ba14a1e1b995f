"""Newton-CG on sparse logistic regression, run in the databases against the same NumPy.

The data: ``X``, ``--rows`` x ``--features`` (20,000 x 10,000 by default) at
``--density`` (0.1%: ten nonzeros a row), and labels ``y``; both tables of the
database. ``einsql.minimize(..., method="newton-cg")`` derives the ridge
logistic loss's gradient and its Hessian-vector products (never the Hessian)
and runs ``--steps`` Newton steps of ``--cg-steps`` conjugate-gradient steps
each. NumPy runs the same Newton-CG written by hand (same start, same CG steps,
same rule stopping them at a curvature not above zero) in the same rounds,
interleaved with the databases; every result is checked against it, and the
NumPy result against SciPy's own Newton-CG run to convergence (a sanity check
that the iteration heads for the optimum).

Reported per database: the seconds to build the iteration (the derivatives),
to lower and render its SQL, the median seconds of a run (loading the data
excluded) and per Newton step, and the ratio of a run to NumPy's. Results go to
``benchmarks/results/newton_cg.csv``.

    python benchmarks/newton_cg.py [--rows 20000] [--features 10000] [--steps 5] \\
        [--cg-steps 10] [--postgres URL] [--sqlite] [--rounds 3]
    python benchmarks/runner.py --only newton   # the same, inside the runner
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import scipy.optimize
import scipy.sparse as sp
from core import write_csv

import einsql
from einsql.dialect import load_dialect
from einsql.expr_lower import named_tables
from einsql.iteration_sql import IterationLowering

RESULTS = Path(__file__).parent / "results"
RIDGE = 0.01
BUILD_COLUMNS = ("build_s", "lower_s", "render_s")


def problem(n: int, d: int, density: float, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """A sparse ``X`` (values in [0, 1)) and labels drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr")
    truth = rng.normal(size=d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ truth - 0.5 * X.sum(1).A1)))).astype(float)
    return X, y


def objective(n: int, d: int) -> tuple[einsql.Expr, einsql.Var]:
    """The mean logistic loss plus ``RIDGE * ||w||^2``, over tables ``X`` and ``y``."""
    w, X, y = einsql.var("w", (d,)), einsql.var("X", (n, d)), einsql.var("y", (n,))
    z = einsql.einsum("ij,j->i", X, w)
    return einsql.sum(einsql.softplus(z) - y * z) / n + RIDGE * einsql.sum(w * w), w


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def numpy_newton_cg(X: Any, y: np.ndarray, steps: int, cg_steps: int) -> np.ndarray:
    """The Newton-CG ``einsql.minimize`` runs, by hand: ``w + s``, ``s`` from CG on ``H s = -g``.

    The CG steps stop at the first direction of curvature not above zero,
    keeping what they reached (``-g`` itself if it is the first).
    """
    n, d = X.shape
    w = np.zeros(d)
    for _ in range(steps):
        p = _sigmoid(X @ w)
        g = X.T @ (p - y) / n + 2 * RIDGE * w
        weights = p * (1 - p) / n
        s, r = np.zeros(d), -g
        direction, rr = r.copy(), r @ r
        for k in range(cg_steps):
            hp = X.T @ (weights * (X @ direction)) + 2 * RIDGE * direction
            curvature = direction @ hp
            if not curvature > 0:
                s = s if k else -g
                break
            alpha = rr / curvature
            s, r = s + alpha * direction, r - alpha * hp
            following = r @ r
            direction = r + following / (rr if rr != 0 else 1.0) * direction
            rr = following
        w = w + s
    return w


def loss(X: Any, y: np.ndarray, w: np.ndarray) -> float:
    """The objective at ``w``, in NumPy."""
    z = X @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + RIDGE * w @ w)


def scipy_optimum(X: Any, y: np.ndarray) -> np.ndarray:
    """SciPy's Newton-CG on the same objective, run until its gradient is tiny."""
    n, d = X.shape

    def gradient(w: np.ndarray) -> np.ndarray:
        return np.asarray(X.T @ (_sigmoid(X @ w) - y) / n + 2 * RIDGE * w)

    def hessp(w: np.ndarray, v: np.ndarray) -> np.ndarray:
        p = _sigmoid(X @ w)
        return np.asarray(X.T @ (p * (1 - p) / n * (X @ v)) + 2 * RIDGE * v)

    found = scipy.optimize.minimize(
        lambda w: loss(X, y, w), np.zeros(d), jac=gradient, hessp=hessp, method="Newton-CG",
        options={"xtol": 1e-12, "maxiter": 200},
    )  # fmt: skip
    return np.asarray(found.x)


def connections(postgres: str | None, sqlite: bool) -> dict[str, Any]:
    """A fresh connection to each database measured."""
    cons: dict[str, Any] = {"duckdb": duckdb.connect()}
    if postgres:
        import psycopg

        cons["postgres"] = psycopg.connect(postgres, autocommit=True)
    if sqlite:
        cons["sqlite"] = sqlite3.connect(":memory:")
    return cons


def build_times(n: int, d: int, steps: int, cg_steps: int, backend: str) -> dict[str, float]:
    """Seconds to build the iteration (its derivatives) and to lower and render its SQL."""
    start = time.perf_counter()
    f, w = objective(n, d)
    program = einsql.descent(f, w, method="newton-cg", steps=steps, cg_steps=cg_steps)
    built = time.perf_counter()
    dialect = load_dialect(backend)
    form = dialect.iteration_forms[0]
    lowering = IterationLowering(program, named_tables(program.data, None, dialect), dialect, form)
    step = lowering.recursive_step()
    lowered = time.perf_counter()
    dialect.render(step)
    rendered = time.perf_counter()
    return {"build_s": built - start, "lower_s": lowered - built, "render_s": rendered - lowered}


def measure_newton_cg(
    n: int,
    d: int,
    density: float,
    steps: int,
    cg_steps: int,
    rounds: int,
    postgres: str | None,
    sqlite: bool,
    budget: float = 120.0,
) -> list[dict[str, Any]]:
    """Interleaved rounds of NumPy and each database; a row per database with its ratio."""
    X, y = problem(n, d, density)
    f, w = objective(n, d)
    expected = numpy_newton_cg(X, y, steps, cg_steps)
    optimum = scipy_optimum(X, y)
    gap = (loss(X, y, expected) - loss(X, y, optimum)) / loss(X, y, optimum)
    cons = connections(postgres, sqlite)
    tables = {
        name: {
            "X": einsql.einsum("ij->ij", X, con=con, into="bench_newton_X", if_exists="replace"),
            "y": einsql.einsum("i->i", y, con=con, into="bench_newton_y", if_exists="replace"),
        }
        for name, con in cons.items()
    }
    times: dict[str, list[float]] = {name: [] for name in ["numpy", *cons]}
    runs: dict[str, Callable[[], np.ndarray]] = {
        "numpy": lambda: numpy_newton_cg(X, y, steps, cg_steps)
    }
    for name, con in cons.items():
        runs[name] = partial(_minimize, f, w, tables[name], con, steps, cg_steps)
    error: dict[str, float] = {}
    for round_ in range(rounds):
        for name, run in runs.items():
            if round_ and sum(times[name]) > budget:
                continue  # one run was enough for the slow ones
            start = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - start)
            error[name] = float(np.abs(result - expected).max())
            print(f"  round {round_ + 1}: {name} {times[name][-1]:.3f} s", flush=True)
    peer = statistics.median(times["numpy"])
    rows = []
    for name in runs:
        seconds = statistics.median(times[name])
        built = build_times(n, d, steps, cg_steps, name) if name != "numpy" else {}
        built_columns = {k: f"{built[k]:.4f}" if built else "" for k in BUILD_COLUMNS}
        rows.append(
            {
                "workload": f"newton-cg logistic, {n:,} x {d:,}, {density:.1%} dense, "
                f"{steps} x {cg_steps} CG steps",
                "system": name,
                **built_columns,
                "seconds": f"{seconds:.4g}",
                "per_newton_step_s": f"{seconds / steps:.4g}",
                "runs": len(times[name]),
                "ratio_to_numpy": f"{seconds / peer:.3g}",
                "max_abs_difference": f"{error[name]:.2g}",
                "numpy_loss_gap_to_scipy_optimum": f"{gap:.2g}",
            }
        )
        assert error[name] <= 1e-8 * max(1.0, float(np.abs(expected).max())), (name, error[name])
    for name, con in cons.items():
        for table in tables[name].values():
            con.execute(f'DROP TABLE "{table.name}"')
        con.close()
    return rows


def _minimize(
    f: einsql.Expr, w: einsql.Var, tables: dict[str, Any], con: Any, steps: int, cg_steps: int
) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.minimize(
            f, w, tables, method="newton-cg", steps=steps, cg_steps=cg_steps, con=con
        )
    assert result.steps == steps
    return result.x


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows."""
    columns = ["system", "build_s", "lower_s", "render_s", "seconds", "per_newton_step_s"]
    columns += ["ratio_to_numpy", "max_abs_difference"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    gap = rows[0]["numpy_loss_gap_to_scipy_optimum"]
    note = f"NumPy's loss is {gap} (relative) above SciPy's Newton-CG optimum"
    return "\n".join([rows[0]["workload"], *lines, note])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--cg-steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("EINSQL_TEST_POSTGRES"))
    parser.add_argument("--sqlite", action="store_true", help="also SQLite (minutes at d=10,000)")
    args = parser.parse_args()
    rows = measure_newton_cg(
        args.rows,
        args.features,
        args.density,
        args.steps,
        args.cg_steps,
        args.rounds,
        args.postgres,
        args.sqlite,
    )
    write_csv(rows, RESULTS / "newton_cg.csv")
    print(table(rows))


if __name__ == "__main__":
    main()
