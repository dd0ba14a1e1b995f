"""A logistic-regression gradient computed inside the database, next to NumPy.

The data (``X``: 1e5 rows, 20 features; labels ``y``) are tables of the
database; einsql differentiates the loss ``sum(log1p(exp(-y * Xw)))`` and runs
the gradient as one SQL statement. NumPy computes the same gradient by hand in
the same run. Results go to ``benchmarks/results/gradient.csv``.

    python benchmarks/gradient.py [--rows 100000] [--features 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import duckdb
import numpy as np
from core import drop_and_close, median_time, report, row

import einsql


def numpy_gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The gradient of sum(log1p(exp(-y * Xw))) by hand: -X^T (y * sigmoid(-y * Xw))."""
    margin = y * (X @ w)
    return -(X.T @ (y * 0.5 * (1.0 - np.tanh(0.5 * margin))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("EINSQL_TEST_POSTGRES"))
    args = parser.parse_args()
    n, d = args.rows, args.features
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], size=n)
    w = 0.1 * rng.standard_normal(d)
    Xv, yv, wv = einsql.var("X", (n, d)), einsql.var("y", (n,)), einsql.var("w", (d,))
    loss = einsql.sum(einsql.log1p(einsql.exp(-yv * einsql.einsum("ij,j->i", Xv, wv))))
    gradient = einsql.grad(loss, wv)
    expected = numpy_gradient(X, y, w)
    peer = median_time(lambda: numpy_gradient(X, y, w), args.repeat)
    cons: dict[str, Any] = {"duckdb": duckdb.connect()}
    if args.postgres:
        import psycopg

        cons["postgres"] = psycopg.connect(args.postgres)
    rows = []
    for name, con in cons.items():
        tables = {
            "X": einsql.einsum("ij->ij", X, con=con, into="bench_X"),
            "y": einsql.einsum("i->i", y, con=con, into="bench_y"),
        }
        values = {**tables, "w": w}
        result = einsql.evaluate(gradient, values, con=con)
        assert np.allclose(result, expected, rtol=1e-8), name
        seconds = median_time(
            lambda c=con, v=values: einsql.evaluate(gradient, v, con=c), args.repeat
        )
        workload = f"logistic gradient, {n:,} x {d} table"
        rows.append(row("gradient", workload, name, seconds, peer, "numpy"))
        drop_and_close(name, con, tables.values())
    report(rows, "gradient.csv")


if __name__ == "__main__":
    main()
