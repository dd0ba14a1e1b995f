"""DuckDB, PostgreSQL and SQLite side by side: loading operands and one workload.

Each figure is a median over ``--repeat`` runs, reported next to a peer measured
in the same run (DuckDB for loading, scipy.sparse for the product). Results
print as a table and go to ``benchmarks/results/backends.csv``.

    python benchmarks/backends.py --postgres postgresql://user@host:port/db
    python benchmarks/backends.py --quick     # small sizes; PostgreSQL from $EINSQL_TEST_POSTGRES
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from typing import Any

import duckdb
import numpy as np
import psycopg
import scipy.sparse as sp
from core import median_time, report, row

import einsql
from einsql.drivers import open_driver
from einsql.operands import as_operand


def connections(postgres: str | None) -> dict[str, Any]:
    """One open connection per backend (PostgreSQL only with a URL)."""
    found: dict[str, Any] = {"duckdb": duckdb.connect(), "sqlite": sqlite3.connect(":memory:")}
    if postgres:
        found["postgres"] = psycopg.connect(postgres)
    return found


def bench_load(cons: dict[str, Any], nnz: int, repeat: int) -> list[dict[str, Any]]:
    """Loading a 20,000² matrix with ``nnz`` nonzeros into each database."""
    n = 20_000
    coo = as_operand(sp.random(n, n, density=nnz / n / n, random_state=1, format="csr"), 0)

    def load(con: Any) -> None:
        with open_driver(con) as driver:
            driver.load(coo, "float")  # type: ignore[arg-type]

    times = {name: median_time(lambda c=con: load(c), repeat) for name, con in cons.items()}
    workload = f"load {nnz:.0e} nonzeros (20,000² float64)"
    return [row("load", workload, name, t, times["duckdb"], "duckdb") for name, t in times.items()]


def bench_spmm(cons: dict[str, Any], n: int, nnz: int, repeat: int) -> list[dict[str, Any]]:
    """A sparse matrix product, result fetched as COO, on each database."""
    density = nnz / n / n
    a = sp.random(n, n, density=density, random_state=2, format="csr")
    b = sp.random(n, n, density=density, random_state=3, format="csr")
    expected = (a @ b).toarray() if n <= 5_000 else None
    peer = median_time(lambda: (a @ b).tocoo(), repeat)
    rows = []
    for name, con in cons.items():
        result = einsql.einsum("ij,jk->ik", a, b, con=con, out="coo")
        if expected is not None:
            assert np.allclose(result.todense(), expected), name
        seconds = median_time(
            lambda c=con: einsql.einsum("ij,jk->ik", a, b, con=c, out="coo"), repeat
        )
        workload = f"spmm {n:,}², {nnz:.0e} nonzeros each, {result.nnz:,} out"
        rows.append(row("spmm", workload, name, seconds, peer, "scipy.sparse"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("EINSQL_TEST_POSTGRES"))
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    cons = connections(args.postgres)
    rows = [
        *bench_load(cons, 10**6 // scale, args.repeat),
        *bench_spmm(cons, 5_000 // scale, 10**5 // scale**2, args.repeat),
    ]
    for con in cons.values():
        con.close()
    report(rows, "backends.csv")


if __name__ == "__main__":
    main()
