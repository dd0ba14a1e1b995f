"""Core benchmarks: loading, sparse matrix product, long plans, CTE materialization.

Every figure is a median over ``--repeat`` runs and is reported next to a peer
measured in the same run (scipy.sparse, opt_einsum on NumPy), because these
machines are noisy. Results print as a table and go to ``benchmarks/results/core.csv``.

    python benchmarks/core.py            # full sizes (a few minutes)
    python benchmarks/core.py --quick    # small sizes, a smoke test
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import opt_einsum
import scipy.sparse as sp

import einsql
from einsql.api import prepare
from einsql.drivers import backend_of, open_driver
from einsql.drivers.duckdb import arrow_table
from einsql.lower import Layout, lower
from einsql.operands import as_operand

RESULTS = Path(__file__).parent / "results"


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_load(nnz: int, repeat: int) -> list[dict[str, Any]]:
    """Reading a scipy matrix with ``nnz`` nonzeros and registering it in DuckDB."""
    n = 20_000
    matrix = sp.random(n, n, density=nnz / n / n, random_state=1, format="csr")
    con = duckdb.connect()
    coo = as_operand(matrix, 0)

    def register() -> None:
        con.register("bench_operand", arrow_table(coo, "float"))
        con.unregister("bench_operand")

    read = median_time(lambda: as_operand(matrix, 0), repeat)
    load = median_time(register, repeat)
    peer = median_time(lambda: matrix.tocoo(), repeat)
    con.close()
    label = f"scipy csr, {nnz:.0e} nnz"
    return [
        row("load", label, "einsql reads operand", read, peer, "scipy tocoo"),
        row("load", label, "einsql Arrow registration", load, peer, "scipy tocoo"),
    ]


def bench_spmm(n: int, nnz: int, repeat: int) -> list[dict[str, Any]]:
    """C = A B for random n x n matrices with ``nnz`` nonzeros each."""
    a = sp.random(n, n, density=nnz / n / n, random_state=1, format="csr")
    b = sp.random(n, n, density=nnz / n / n, random_state=2, format="csr")
    peer = median_time(lambda: a @ b, repeat)
    con = duckdb.connect()

    def into_table() -> None:
        einsql.einsum("ij,jk->ik", a, b, con=con, into="bench_c")
        con.execute("DROP TABLE bench_c")

    stored = median_time(into_table, repeat)
    coo = median_time(lambda: einsql.einsum("ij,jk->ik", a, b, con=con, out="coo"), repeat)
    con.close()
    label = f"{n}x{n}, {nnz:.0e} nnz each"
    return [
        row("spmm", label, "einsql duckdb, result table", stored, peer, "scipy.sparse"),
        row("spmm", label, "einsql duckdb, COO result", coo, peer, "scipy.sparse"),
    ]


def chain(num: int) -> str:
    symbols = [opt_einsum.get_symbol(k) for k in range(num + 1)]
    terms = ",".join(symbols[k] + symbols[k + 1] for k in range(num))
    return f"{terms}->{symbols[0]}{symbols[-1]}"


def bench_long_plan(num: int, repeat: int) -> list[dict[str, Any]]:
    """A chain of ``num`` small matrices: compile time and staged DuckDB run."""
    rng = np.random.default_rng(0)
    arrays = [rng.random((2, 2)) * (rng.random((2, 2)) < 0.9) for _ in range(num)]
    equation = chain(num)
    compiled = median_time(lambda: einsql.to_sql(equation, *arrays), repeat)
    run = median_time(lambda: einsql.einsum(equation, *arrays), repeat)
    peer = median_time(lambda: opt_einsum.contract(equation, *arrays), repeat)
    label = f"chain of {num} 2x2 operands"
    return [
        row("long plan", label, "einsql to_sql, VALUES inlined", compiled, peer, "opt_einsum"),
        row("long plan", label, "einsql duckdb staged run", run, peer, "opt_einsum"),
    ]


def bench_materialized(n: int, nnz: int, repeat: int) -> list[dict[str, Any]]:
    """The same CTE chain with and without ``AS MATERIALIZED`` on DuckDB."""
    mats = [sp.random(n, n, density=nnz / n / n, random_state=k, format="csr") for k in range(4)]
    vector = np.ones(n)
    cases = {
        "chain A B C D v": ("ij,jk,kl,lm,m->i", [*mats, vector], [(3, 4), (2, 3), (1, 2), (0, 1)]),
        "mttkrp-like A B C": ("ij,jk,jl->kl", mats[:3], [(0, 1), (0, 1)]),
    }
    rows = []
    for label, (equation, operands, path) in cases.items():
        timings = {}
        for materialize in (True, False):
            timings[materialize] = median_time(
                lambda m=materialize, e=equation, o=operands, p=path: run_with(m, e, o, p), repeat
            )
        rows.append(
            row(
                "materialize",
                f"{label}, {n}x{n}, {nnz:.0e} nnz",
                "AS MATERIALIZED",
                timings[True],
                timings[False],
                "inlined CTEs",
            )
        )
    return rows


def run_with(materialize: bool, equation: str, operands: list[Any], path: Any) -> None:
    prepared = prepare([equation, *operands], optimize=path)
    with open_driver(None, "duckdb") as driver:
        dialect = driver.dialect
        relations = [driver.load(op, "float") for op in prepared.operands]  # type: ignore[arg-type]
        layout = Layout(materialize=materialize, prefix=driver.prefix)
        program = lower(prepared.plan, relations, "float", dialect, layout=layout)
        driver.con.execute(f"CREATE TABLE bench_out AS {dialect.render(program.query)}")  # type: ignore[attr-defined]


def row(
    group: str, workload: str, what: str, seconds: float, peer: float, peer_name: str
) -> dict[str, Any]:
    return {
        "group": group,
        "workload": workload,
        "measured": what,
        "seconds": round(seconds, 4),
        "peer": peer_name,
        "peer_seconds": round(peer, 4),
        "ratio": round(seconds / peer, 2) if peer else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rows = [
        *bench_load(10**6 // scale, args.repeat),
        *bench_spmm(20_000 // scale, 10**6 // scale**2, args.repeat),
        *bench_long_plan(1000 // scale, args.repeat),
        *bench_materialized(20_000 // scale, 10**5 // scale**2, args.repeat),
    ]
    report(rows, "core.csv")


def drop_tables(con: Any, tables: Any) -> None:
    """Drop the tables a benchmark made and commit (DuckDB autocommits; Spark has no commit)."""
    if backend_of(con) == "spark":
        for table in tables:
            con.sql(f"DROP TABLE IF EXISTS `{table.name}`")
        return
    for table in tables:
        con.execute(f'DROP TABLE IF EXISTS "{table.name}"')
    if not isinstance(con, duckdb.DuckDBPyConnection):
        con.commit()


def drop_and_close(backend: str, con: Any, tables: Any) -> None:
    """Drop the tables a benchmark made, commit, and close the connection."""
    drop_tables(con, tables)
    con.close()


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` (dicts with the same keys) as a CSV file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def report(rows: list[dict[str, Any]], filename: str) -> None:
    """Print ``rows`` as a table and write them to ``benchmarks/results/filename``."""
    write_csv(rows, RESULTS / filename)
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in widths.items()))


if __name__ == "__main__":
    main()
