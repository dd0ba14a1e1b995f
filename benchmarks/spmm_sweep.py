"""The sparse matrix product swept from 1e5 to 5e7 scalar products, end to end, against scipy.

Each size is an ``n × n`` product of two random matrices of ``nnz`` nonzeros
each (``nnz**2 / n`` products). Three systems run interleaved, ``--rounds``
rounds (A B C A B C), medians kept:

* ``scipy``: ``(a @ b).tocoo()`` on CSR matrices;
* ``einsql``: ``einsql.einsum("ij,jk->ik", a, b, out="coo")``, no connection
  (the process's in-memory DuckDB), loading included: what a user waits for;
  the sparsity model chooses where the last step sums (``aggregate="auto"``);
* ``einsql-database``: the same with ``aggregate="database"`` (``GROUP BY``).

With ``--memory`` each system instead runs once in a child process of its own,
and the figure is the child's peak resident memory above its baseline (the
operands built, imports done).

    python benchmarks/spmm_sweep.py                  # the sweep, 3 rounds
    python benchmarks/spmm_sweep.py --memory --only 1000000   # the 20,000² product
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).parent))

from core import write_csv

import einsql

RESULTS = Path(__file__).parent / "results"
#: (n, nnz per operand): 1e5, 1e6, 4.5e6, 2e7 and 5e7 products.
SIZES = ((10_000, 31_623), (10_000, 100_000), (20_000, 300_000), (20_000, 632_456), (20_000, 10**6))
SYSTEMS = ("scipy", "einsql", "einsql-database")


def operands(n: int, nnz: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Two seeded random ``n × n`` matrices of ``nnz`` nonzeros each."""
    density = nnz / n / n
    return tuple(  # type: ignore[return-value]
        sp.random(n, n, density=density, format="csr", random_state=seed) for seed in (1, 2)
    )


def runner(system: str, a: Any, b: Any) -> Callable[[], Any]:
    """The call ``system`` makes."""
    if system == "scipy":
        return lambda: (a @ b).tocoo()
    aggregate = "database" if system == "einsql-database" else "auto"
    return lambda: einsql.einsum("ij,jk->ik", a, b, out="coo", aggregate=aggregate)


def sweep(sizes: Sequence[tuple[int, int]], rounds: int) -> list[dict[str, Any]]:
    """Every size, the systems interleaved; rows of medians and ratios to scipy."""
    rows = []
    for n, nnz in sizes:
        a, b = operands(n, nnz)
        calls = {s: runner(s, a, b) for s in SYSTEMS}
        times: dict[str, list[float]] = {s: [] for s in SYSTEMS}
        counts = {}
        load = os.getloadavg()[0]
        for _ in range(rounds):
            for system, call in calls.items():
                start = time.perf_counter()
                counts[system] = int(call().nnz)
                times[system].append(time.perf_counter() - start)
        assert len(set(counts.values())) == 1, f"results differ in nonzeros: {counts}"
        medians = {s: statistics.median(t) for s, t in times.items()}
        row = {"n": n, "nnz": nnz, "products": nnz * nnz // n, "result_nnz": counts["scipy"]}
        row["load_average"] = round(load, 2)
        row |= {f"{s}_seconds": round(m, 4) for s, m in medians.items()}
        row |= {f"{s}_ratio": round(m / medians["scipy"], 2) for s, m in medians.items()}
        print(row, flush=True)
        rows.append(row)
    return rows


def peak_memory(system: str, n: int, nnz: int) -> float:
    """Peak resident bytes of one call of ``system`` above what it held before, in a child.

    The child resets its peak (``/proc/self/clear_refs``) after building the
    operands, and reads it (``VmHWM``) after the call.
    """
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from spmm_sweep import operands, runner, resident;"
        f"a, b = operands({n}, {nnz}); call = runner({system!r}, a, b);"
        "import einsql, numpy; einsql.einsum('ij,jk->ik', numpy.eye(2), numpy.eye(2));"
        "base = resident('VmRSS'); open('/proc/self/clear_refs', 'w').write('5');"
        "result = call(); print(resident('VmHWM') - base)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.split()[-1])


def resident(field: str) -> int:
    """A resident-memory figure of this process from ``/proc/self/status``, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory(sizes: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for n, nnz in sizes:
        peaks = {s: peak_memory(s, n, nnz) for s in SYSTEMS}
        row: dict[str, Any] = {"n": n, "nnz": nnz}
        row |= {f"{s}_peak_gb": round(p / 1e9, 3) for s, p in peaks.items()}
        row |= {f"{s}_ratio": round(p / peaks["scipy"], 2) for s, p in peaks.items()}
        print(row, flush=True)
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated nnz values to keep")
    parser.add_argument("--memory", action="store_true", help="peak memory instead of time")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    keep = {int(x) for x in args.only.split(",") if x}
    sizes = [s for s in SIZES if not keep or s[1] in keep]
    einsql.einsum("ij,jk->ik", np.eye(2), np.eye(2))  # imports and the database, off the clock
    if args.memory:
        write_csv(memory(sizes), Path(args.out) / "spmm_memory.csv")
    else:
        write_csv(sweep(sizes, args.rounds), Path(args.out) / "spmm_sweep.csv")


if __name__ == "__main__":
    main()
