"""Derivatives of deep expressions: how long building them takes, and running them.

The function is a chain of ``depth`` layers ``h -> tanh(W h)`` over a vector
``x`` of ``--size`` entries, summed: ``f(x) = sum(tanh(W tanh(W ... tanh(W x))))``.
For each depth the script times building ``f``, its gradient and its Hessian
with respect to ``x`` (median of ``--repeat`` builds, each from fresh
variables so nothing is reused from the build before) and counts the nodes.
With ``--run``, it also evaluates the gradient and the Hessian of the
``--run-depths`` chains on DuckDB, SQLite and (with ``--postgres URL``)
PostgreSQL, checks each against the NumPy reference, and reports the seconds
and the number of statements. Results go to ``benchmarks/results/calculus_depth.csv``.

    python benchmarks/calculus_depth.py                      # build times, depths 25/100/300
    python benchmarks/calculus_depth.py --run --postgres URL # and the deep runs
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import einsql
from einsql.expr import Expr, Var, walk
from einsql.expr_lower import lower_expression, named_tables

RESULTS = Path(__file__).parent / "results"


def chain(depth: int, size: int, tag: str) -> tuple[Expr, Var]:
    """``sum(tanh(W tanh(W ... tanh(W x))))`` with ``depth`` layers, and ``x``."""
    x, W = einsql.var(f"x{tag}", (size,)), einsql.var(f"W{tag}", (size, size))
    h: Expr = x
    for _ in range(depth):
        h = einsql.tanh(einsql.einsum("ij,j->i", W, h))
    return einsql.sum(h), x


def seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call of ``fn``, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def build_times(depth: int, size: int, repeat: int) -> dict[str, Any]:
    """Median seconds to build the chain, its gradient and its Hessian."""
    times: dict[str, list[float]] = {"function": [], "gradient": [], "hessian": []}
    nodes = 0
    for r in range(repeat):
        built, (f, x) = seconds(lambda r=r: chain(depth, size, f"_{depth}_{r}"))
        times["function"].append(built)
        gradient, _ = seconds(lambda f=f, x=x: einsql.grad(f, x))
        times["gradient"].append(gradient)
        hessian, h = seconds(lambda f=f, x=x: einsql.hessian(f, x))
        times["hessian"].append(hessian)
        nodes = len(walk(h))
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"depth": depth, **medians, "hessian_nodes": nodes}


def statements(expr: Expr, backend: str) -> int:
    """How many statements ``expr`` runs as on ``backend``."""
    dialect = einsql.dialect.load_dialect(backend)
    relations = named_tables(einsql.expr.variables(expr), None, dialect)
    return len(lower_expression(expr, relations, dialect).statements)


def run_times(depths: list[int], size: int, postgres: str | None) -> list[dict[str, Any]]:
    """Evaluate deep gradients and Hessians on each database; check them against NumPy."""
    backends: dict[str, Any] = {"duckdb": None, "sqlite": None}
    if postgres:
        import psycopg

        backends["postgres"] = psycopg.connect(postgres)
    rng = np.random.default_rng(0)
    rows = []
    for which, depth in zip(("gradient", "hessian"), depths):
        f, x = chain(depth, size, f"_run{depth}")
        expr = einsql.grad(f, x) if which == "gradient" else einsql.hessian(f, x)
        names = {v.name: v for v in walk(expr) if isinstance(v, Var)}
        values = {n: 0.5 * rng.standard_normal(v.shape) for n, v in names.items()}
        expected = einsql.evaluate(expr, values, backend="numpy")
        for backend, con in backends.items():
            took, result = seconds(
                lambda e=expr, v=values, b=backend, c=con: einsql.evaluate(e, v, b, c)
            )
            assert np.allclose(result, expected, rtol=1e-8, atol=1e-12), (which, backend)
            count = statements(expr, backend)
            rows.append(
                {
                    "what": f"{which}, depth {depth}",
                    "backend": backend,
                    "seconds": took,
                    "statements": count,
                }
            )
            print(f"{which:8} depth {depth:4}  {backend:8}  {took:7.2f} s  {count:4} statements")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[25, 100, 300])
    parser.add_argument("--size", type=int, default=4, help="entries of x (W is size x size)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", action="store_true", help="also evaluate in the databases")
    parser.add_argument(
        "--run-depths", type=int, nargs=2, default=[400, 100], metavar=("GRADIENT", "HESSIAN")
    )
    parser.add_argument("--postgres", default=os.environ.get("EINSQL_TEST_POSTGRES"))
    args = parser.parse_args()
    print("depth  function s  gradient s  hessian s  hessian nodes")
    built = []
    for depth in args.depths:
        row = build_times(depth, args.size, args.repeat)
        built.append(row)
        print(
            f"{depth:5}  {row['function']:10.4f}  {row['gradient']:10.4f}  "
            f"{row['hessian']:9.4f}  {row['hessian_nodes']:13}"
        )
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "calculus_depth.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(built[0]))
        writer.writeheader()
        writer.writerows(built)
    if args.run:
        rows = run_times(args.run_depths, args.size, args.postgres)
        with open(RESULTS / "calculus_depth_runs.csv", "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
