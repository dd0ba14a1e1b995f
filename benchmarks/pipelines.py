"""Pipelines: what reading frames and files, result forms and replaced tables cost.

Each measurement times einsql next to a peer in the same run, interleaved (each
round times every system once, in alternating order, after a garbage collection
outside the clock); each figure is the median over the rounds and its ratio to
the peer. Inputs are built before any clock starts.

* ``read frame``: ``einsql.coo(frame, axes, values)`` on a pandas data frame of
  ``nnz`` triples, against building ``scipy.sparse.coo_array`` from the same
  columns (both checked: scipy's ``sum_duplicates``, einsql's duplicate check);
* ``read parquet``: ``einsql.coo(path)`` against ``pyarrow.parquet.read_table``
  of the same file (what reading it costs at all);
* ``result form``: a sparse matrix product on DuckDB returned as ``out="arrow"``,
  ``"pandas"``, ``"polars"``, ``"scipy"``, against ``out="coo"``;
* ``into``: storing that product with ``if_exists="replace"`` (built beside the
  old table, swapped in one transaction), against ``DROP TABLE`` then ``into=``.

    python benchmarks/pipelines.py --nnz 1000000 --rounds 7
    python benchmarks/runner.py --only pipelines
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from compile_speed import interleaved

import einsql


def triples(n: int, nnz: int, seed: int = 0) -> pd.DataFrame:
    """``nnz`` distinct random (row, col, w) triples of an ``n`` x ``n`` matrix."""
    rng = np.random.default_rng(seed)
    flat = np.unique(rng.integers(0, n * n, nnz))
    return pd.DataFrame({"row": flat // n, "col": flat % n, "w": rng.random(flat.size)})


def reading(frame: pd.DataFrame, n: int, folder: Path, rounds: int) -> list[dict[str, Any]]:
    path = folder / "m.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)

    def scipy_coo() -> Any:
        m = sp.coo_array((frame["w"].to_numpy(), (frame["row"], frame["col"])), shape=(n, n))
        m.sum_duplicates()
        return m

    frame_rows = measure(
        "read frame",
        {
            "einsql.coo(pandas frame)": lambda: einsql.coo(frame, ["row", "col"], "w", (n, n)),
            "scipy.sparse.coo_array": scipy_coo,
        },
        "scipy.sparse.coo_array",
        rounds,
    )
    parquet_rows = measure(
        "read parquet",
        {
            "einsql.coo(parquet path)": lambda: einsql.coo(path, ["row", "col"], "w", (n, n)),
            "pyarrow.parquet.read_table": lambda: pq.read_table(path),
        },
        "pyarrow.parquet.read_table",
        rounds,
    )
    return frame_rows + parquet_rows


def forms(frame: pd.DataFrame, n: int, rounds: int) -> list[dict[str, Any]]:
    a = einsql.coo(frame, ["row", "col"], "w", (n, n))
    con = duckdb.connect()

    def product(form: str) -> Callable[[], Any]:
        return lambda: einsql.einsum("ij,jk->ik", a, a, con=con, out=form)

    systems = {
        f'out="{form}"': product(form) for form in ("coo", "arrow", "pandas", "polars", "scipy")
    }
    rows = measure("result form", systems, 'out="coo"', rounds)

    def replace() -> None:
        einsql.einsum("ij,jk->ik", a, a, con=con, into="r", if_exists="replace")

    def drop_then_into() -> None:
        con.execute("DROP TABLE IF EXISTS r")
        einsql.einsum("ij,jk->ik", a, a, con=con, into="r")

    rows += measure(
        "into",
        {'if_exists="replace"': replace, "DROP TABLE, then into=": drop_then_into},
        "DROP TABLE, then into=",
        rounds,
    )
    con.close()
    return rows


def measure(
    workload: str, systems: dict[str, Callable[[], Any]], peer: str, rounds: int
) -> list[dict[str, Any]]:
    times = interleaved(systems, rounds)
    rows = []
    for name, seconds in times.items():
        median = statistics.median(seconds)
        rows.append(
            {
                "workload": workload,
                "measured": name,
                "rounds": len(seconds),
                "seconds": f"{median:.4g}",
                "peer": peer,
                "ratio": f"{median / statistics.median(times[peer]):.3g}",
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workload | measured | median s | ratio to peer | peer |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| {r['workload']} | {r['measured']} | {r['seconds']} | {r['ratio']}× | {r['peer']} |"
        for r in rows
    ]
    return "\n".join(lines)


def measure_pipelines(nnz: int, rounds: int) -> list[dict[str, Any]]:
    n = int(np.sqrt(nnz * 1000))  # density 0.1%: a product of about nnz * nnz / n results
    frame = triples(n, nnz)
    with tempfile.TemporaryDirectory() as folder:
        rows = reading(frame, n, Path(folder), rounds)
    m = int(np.sqrt(nnz / 10 * 1000))  # the products multiply a tenth of the nonzeros
    rows += forms(triples(m, nnz // 10, seed=1), m, rounds)
    for row in rows:
        row["nnz"] = nnz if row["workload"].startswith("read") else nnz // 10
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnz", type=int, default=1_000_000, help="nonzeros read")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    rows = measure_pipelines(args.nnz, args.rounds)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
