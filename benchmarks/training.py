"""Logistic regression trained inside the database by one WITH RECURSIVE statement.

The data (``X``: 1e5 rows, 20 features; labels ``y`` in {0, 1}) are tables of
the database. ``einsql.minimize`` derives the gradient of the mean logistic
loss and runs ``--steps`` steps of gradient descent as one statement (DuckDB:
the state as rows; PostgreSQL: one ``float8[]`` row per step); SQLite, which
cannot aggregate in a recursive term, runs a statement per step. NumPy runs the
same steps by hand in the same run, and every result is checked against it.
Results go to ``benchmarks/results/training.csv``.

    python benchmarks/training.py [--rows 100000] [--features 20] [--steps 100] \
        [--postgres URL] [--sqlite]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import warnings
from typing import Any

import duckdb
import numpy as np
from core import drop_and_close, median_time, report, row

import einsql


def numpy_descent(X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Gradient descent on the mean logistic loss, gradient written by hand."""
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 0.5 * (1.0 + np.tanh(0.5 * (X @ w)))
        w = w - lr * (X.T @ (p - y)) / X.shape[0]
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("EINSQL_TEST_POSTGRES"))
    parser.add_argument("--sqlite", action="store_true", help="also SQLite (a statement per step)")
    args = parser.parse_args()
    n, d, steps = args.rows, args.features, args.steps
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ rng.standard_normal(d)))).astype(float)
    w, Xv, yv = einsql.var("w", (d,)), einsql.var("X", (n, d)), einsql.var("y", (n,))
    z = einsql.einsum("ij,j->i", Xv, w)
    loss = einsql.sum(einsql.softplus(z) - yv * z) / n
    expected = numpy_descent(X, y, args.lr, steps)
    peer = median_time(lambda: numpy_descent(X, y, args.lr, steps), args.repeat)
    cons: dict[str, Any] = {"duckdb": duckdb.connect()}
    if args.postgres:
        import psycopg

        cons["postgres"] = psycopg.connect(args.postgres)
    if args.sqlite:
        cons["sqlite"] = sqlite3.connect(":memory:")
    rows = []
    workload = f"logistic regression, {n:,} x {d} table, {steps} steps"
    for name, con in cons.items():
        tables = {
            "X": einsql.einsum("ij->ij", X, con=con, into="bench_X"),
            "y": einsql.einsum("i->i", y, con=con, into="bench_y"),
        }

        def train(c: Any = con, t: dict[str, Any] = tables) -> einsql.Iterated:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", einsql.LoopWarning)
                return einsql.minimize(loss, w, t, steps=steps, lr=args.lr, con=c)

        result = train()
        assert result.steps == steps
        np.testing.assert_allclose(result.x, expected, rtol=1e-8, atol=1e-10)
        seconds = median_time(train, args.repeat)
        rows.append(row("training", f"{workload} ({result.form})", name, seconds, peer, "numpy"))
        drop_and_close(name, con, tables.values())
    report(rows, "training.csv")


if __name__ == "__main__":
    main()
