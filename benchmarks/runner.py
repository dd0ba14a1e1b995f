"""The benchmark runner: einsql on three databases against in-memory peers and a naive baseline.

For every workload (see :mod:`workloads`) it makes every system ready, then
times ``--repeat`` rounds interleaved (each round runs each system once, A B C A
B C, so the machine's changing load falls on all alike) and keeps each system's
median, with the median 1-minute load average read before its runs (the CSV's
``load_average``). It checks each result against the reference (dense
opt_einsum, else the ``sparse`` backend, else scipy), prints a table of medians
and ratios to einsql on DuckDB, and writes ``benchmarks/results/runner.csv``
and ``runner.svg``. Operands are loaded before the clock starts (a database's
load is timed on its own, ``load_seconds``): the database systems read tables,
the in-memory ones read arrays; every system gets the same
contraction path (opt_einsum's), except einsql, which plans its own (sparsity-aware, given
each table's ``nnz``); results come back as COO (dense for opt_einsum on NumPy).
``einsql-duckdb-e2e`` is the exception to loading outside the clock: einsql as a
user calls it, arrays in, no connection; the summary reports einsql's ratios to
its peers on both footings (:func:`footings`).

    python benchmarks/runner.py                      # every workload (see below for SQLite)
    python benchmarks/runner.py --quick              # tiny workloads, a smoke test
    python benchmarks/runner.py --only spmm,tree     # workloads whose name holds a word
    python benchmarks/runner.py --systems einsql-duckdb,naive-duckdb
    python benchmarks/runner.py --only compile       # compile speed alone (see below)
    python benchmarks/runner.py --only calls         # a tiny network, a 5,000-operand chain
    python benchmarks/runner.py --only pipelines     # frames, files, result forms, into=
    python benchmarks/runner.py --only newton        # Newton-CG, d = 10,000, against NumPy

Compile speed (:mod:`compile_speed`) is measured too: ``einsql.to_sql`` on a chain
of 1,000 tables (100 with ``--quick``; parse, plan, lower, render, no data)
against ``opt_einsum.contract_path`` on the same shapes, interleaved over
``5 * --repeat`` rounds, medians and their ratio, written to ``compile.csv``.
So are whole calls (:mod:`calls`): a tiny network of ten 2 x 2 operands and a
chain of 5,000 (500 with ``--quick``) run staged, each by ``einsql.einsum``
without a connection against ``opt_einsum.contract``, interleaved, written to
``calls.csv``. So is Newton-CG (:mod:`newton_cg`): logistic regression over 10,000 sparse
features (2,000 with ``--quick``) on each database system asked for, interleaved
with the same Newton-CG in NumPy, ratios to it, written to ``newton_cg.csv``.

PostgreSQL runs when ``EINSQL_BENCH_POSTGRES`` (or ``EINSQL_TEST_POSTGRES``)
names a server: ``postgresql://user@host:port/db``; Spark when ``EINSQL_BENCH_SPARK``
(or ``EINSQL_TEST_SPARK``) names one: ``sc://host:15002`` (Spark Connect),
``local[2]``. On Spark the phases are timed apart as well (``load_seconds``,
``query_seconds``, ``fetch_seconds`` in the CSV): loading the operands into
tables, the query with its result kept in Spark (``into=`` a table), and reading
that result to the client; ``seconds`` stays the end-to-end query and fetch.
Without SQLite the full run takes about 15 minutes on 2 cores; SQLite joins by
nested scans and takes many minutes per workload on the larger ones, so leave it
out with ``--systems`` for a quick comparison (Spark too: about 0.2 s per query).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import opt_einsum
import sparse

sys.path.insert(0, str(Path(__file__).parent))

from calls import measure_calls
from calls import table as calls_table
from compile_speed import measure_compile
from compile_speed import table as compile_table
from core import drop_tables, write_csv
from naive import naive_sql
from newton_cg import measure_newton_cg
from newton_cg import table as newton_table
from pipelines import measure_pipelines
from pipelines import table as pipelines_table
from workloads import Workload, standard

import einsql

RESULTS = Path(__file__).parent / "results"
SYSTEMS = (
    "einsql-duckdb",
    "einsql-duckdb-e2e",
    "einsql-postgres",
    "einsql-sqlite",
    "einsql-spark",
    "naive-duckdb",
    "opt_einsum-numpy",
    "opt_einsum-sparse",
    "scipy",
)
PEER_OF_RATIO = "einsql-duckdb"
#: einsql on DuckDB end to end: the operands passed as arrays, loaded inside the clock.
END_TO_END = "einsql-duckdb-e2e"
PHASES = ("load", "query", "fetch")


@dataclass
class Measurement:
    """One system on one workload: the median seconds, or why it did not run."""

    workload: Workload
    system: str
    seconds: float | None = None
    runs: int = 0
    note: str = ""
    matches: bool | None = None
    result: Any = None
    phases: dict[str, float] = field(default_factory=dict)
    load: float | None = None


def postgres_url() -> str | None:
    """The server PostgreSQL systems run on, if any."""
    return os.environ.get("EINSQL_BENCH_POSTGRES") or os.environ.get("EINSQL_TEST_POSTGRES")


def spark_url() -> str | None:
    """The Spark the ``einsql-spark`` system runs on, if any."""
    return os.environ.get("EINSQL_BENCH_SPARK") or os.environ.get("EINSQL_TEST_SPARK")


def contraction_path(w: Workload) -> tuple[list[tuple[int, ...]], int]:
    """opt_einsum's path for ``w`` (on dense sizes) and its largest intermediate."""
    path, info = opt_einsum.contract_path(w.equation, *w.shapes, shapes=True, optimize="auto")
    return [tuple(p) for p in path], int(info.largest_intermediate)


@contextmanager
def database(system: str) -> Iterator[Any]:
    """A fresh connection for a database system (closed afterwards; Spark's session stays)."""
    if system.endswith("spark"):
        from einsql.drivers.spark import open_shared

        url = spark_url()
        assert url is not None
        yield open_shared(url)  # a session takes seconds to start: the process keeps it
        return
    if system.endswith("duckdb"):
        con: Any = duckdb.connect()
    elif system.endswith("sqlite"):
        con = sqlite3.connect(":memory:")
    else:
        import psycopg

        url = postgres_url()
        assert url is not None
        con = psycopg.connect(url, autocommit=True)
    try:
        yield con
    finally:
        con.close()


def load_tables(con: Any, w: Workload) -> list[einsql.Table]:
    """Store ``w``'s operands as tables ``bench_a0 ..`` through einsql."""
    tables = []
    for k, operand in enumerate(w.operands()):
        labels = "".join(opt_einsum.get_symbol(a) for a in range(operand.ndim))
        table = einsql.einsum(f"{labels}->{labels}", operand, con=con, into=f"bench_a{k}")
        tables.append(replace(table, nnz=operand.nnz))
    return tables


@dataclass
class Contender:
    """A system ready to run on a workload: its call, and the runs it has made."""

    system: str
    run: Callable[[], Any]
    extra: Callable[[], dict[str, float]] | None = None
    times: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    result: Any = None
    note: str = ""


def prepare_database(stack: ExitStack, w: Workload, system: str, path: Any) -> Contender:
    """einsql, or the naive baseline, with ``w``'s tables loaded (and dropped when ``stack`` ends).

    On Spark the query and the fetch are timed apart too (:func:`query_and_fetch`).
    """
    con = stack.enter_context(database(system))
    start = time.perf_counter()
    tables = load_tables(con, w)
    load = time.perf_counter() - start
    stack.callback(drop_tables, con, tables)
    if system.startswith("naive"):
        sql = naive_sql(w.equation, w.shapes, path, [t.name for t in tables])
        fn: Callable[[], Any] = lambda: naive_rows(con, sql, w)  # noqa: E731
    else:
        fn = lambda: einsql.einsum(w.equation, *tables, con=con, out="coo")  # noqa: E731
    extra = (lambda: query_and_fetch(con, w, tables)) if system == "einsql-spark" else None
    return Contender(system, fn, extra, phases={"load": load})


def prepare_end_to_end(w: Workload) -> Contender:
    """einsql as a user calls it: arrays in (pydata ``sparse``), no connection, loading timed."""
    operands = w.operands()
    return Contender(END_TO_END, lambda: einsql.einsum(w.equation, *operands, out="coo"))


def query_and_fetch(con: Any, w: Workload, tables: list[einsql.Table]) -> dict[str, float]:
    """The query with its result kept in the database (``into=``), then reading that result."""
    stored = "bench_result"
    try:
        start = time.perf_counter()
        table = einsql.einsum(w.equation, *tables, con=con, into=stored, if_exists="replace")
        query = time.perf_counter() - start
        read = f"{'abcdefgh'[: table.ndim]}->{'abcdefgh'[: table.ndim]}"
        start = time.perf_counter()
        einsql.einsum(read, table, con=con, out="coo")
        fetch = time.perf_counter() - start
    finally:
        drop_tables(con, [einsql.Table(stored, ())])
    return {"query": query, "fetch": fetch}


def naive_rows(con: Any, sql: str, w: Workload) -> sparse.COO:
    """Run the naive SQL on DuckDB and read its rows as a COO array."""
    table = con.sql(sql).to_arrow_table()  # the fetch einsql's DuckDB driver uses
    columns = {name: table.column(name).to_numpy() for name in table.column_names}
    output = w.equation.split("->")[1]
    shape = result_shape(w)
    values = np.asarray(columns["val"], dtype=float)
    keep = ~np.isnan(values)  # a scalar SUM over no rows is NULL
    coords = np.zeros((len(output), int(keep.sum())), dtype=np.int64)
    for a in range(len(output)):
        coords[a] = np.asarray(columns[f"i{a}"])[keep]
    return sparse.COO(coords, values[keep], shape=shape)


def result_shape(w: Workload) -> tuple[int, ...]:
    """The shape of ``w``'s result."""
    inputs, output = w.equation.split("->")
    size = {}
    for labels, shape in zip(inputs.split(","), w.shapes):
        size.update(zip(labels, shape))
    return tuple(size[label] for label in output)


def prepare_memory(w: Workload, system: str, path: Any) -> Contender:
    """An in-memory peer: opt_einsum on NumPy or on pydata sparse, or scipy."""
    operands = w.operands()
    if system == "opt_einsum-numpy":
        arrays = [op.todense() for op in operands]
        fn: Callable[[], Any] = lambda: opt_einsum.contract(w.equation, *arrays, optimize=path)  # noqa: E731
    elif system == "opt_einsum-sparse":
        fn = lambda: opt_einsum.contract(w.equation, *operands, optimize=path, backend="sparse")  # noqa: E731
    else:
        a, b = (op.tocsr() for op in operands)
        fn = lambda: a @ b  # noqa: E731
    return Contender(system, fn)


def as_sparse(result: Any) -> sparse.COO:
    """Any system's result as a pydata ``sparse.COO``."""
    if isinstance(result, einsql.CooArray):
        coords = np.asarray(result.coords, dtype=np.int64).reshape(result.nnz, len(result.shape)).T
        return sparse.COO(coords, np.asarray(result.values, float), shape=result.shape)
    if isinstance(result, sparse.SparseArray):
        return sparse.COO(result)
    if hasattr(result, "tocoo"):
        return sparse.COO.from_scipy_sparse(result)
    return sparse.COO.from_numpy(np.asarray(result))


def agree(ours: sparse.COO, reference: sparse.COO) -> bool:
    """Whether two results are equal to a relative 1e-9 of the reference's largest value."""
    scale = float(abs(reference).max()) if reference.nnz else 0.0
    difference = abs(ours - reference)
    return float(difference.max()) <= 1e-9 * scale + 1e-12 if difference.nnz else True


def skip_reason(w: Workload, system: str, largest: int) -> str:
    """Why ``system`` does not run on ``w`` (empty if it does)."""
    if not w.runs(system.removesuffix("-e2e")):
        return "not in this workload"
    if system == "einsql-postgres" and postgres_url() is None:
        return "no server (set EINSQL_BENCH_POSTGRES)"
    if system == "einsql-spark" and spark_url() is None:
        return "no server (set EINSQL_BENCH_SPARK)"
    if system == "scipy" and w.equation != "ij,jk->ik":
        return "matrix products only"
    if system == "opt_einsum-numpy" and (not w.dense_fits or largest > 2**27):
        return "dense operands or intermediates too large"
    return ""


def measure(w: Workload, systems: Sequence[str], repeat: int, budget: float) -> list[Measurement]:
    """Every system on one workload, interleaved; results checked against a reference.

    Every system is made ready first (a database's tables loaded), then each
    round runs each system once, in turn (A B C A B C ...), so a change in the
    machine's load falls on all of them alike; a system stops once its runs
    have taken ``budget`` seconds. The 1-minute load average is read before
    each run and its median kept with the figure.
    """
    path, largest = contraction_path(w)
    results, contenders = [], []
    with ExitStack() as stack:
        for system in systems:
            reason = skip_reason(w, system, largest)
            if reason:
                results.append(Measurement(w, system, note=reason))
                continue
            contender = Contender(system, lambda: None)
            try:
                if system == END_TO_END:
                    contender = prepare_end_to_end(w)
                elif system.startswith(("einsql", "naive")):
                    contender = prepare_database(stack, w, system, path)
                else:
                    contender = prepare_memory(w, system, path)
            except Exception as error:  # a failure is a result of the benchmark
                contender.note = failed(error)
            contenders.append(contender)
        for _ in range(repeat):
            for contender in contenders:
                if not contender.note and sum(contender.times) <= budget:
                    run_once(contender)
        for contender in contenders:
            if contender.extra is not None and not contender.note:
                contender.phases.update(contender.extra())
            results.append(finished(w, contender))
    check(results)
    return results


def run_once(contender: Contender) -> None:
    """One timed run (a failure ends the contender's runs, with a note)."""
    contender.loads.append(os.getloadavg()[0])
    start = time.perf_counter()
    try:
        contender.result = contender.run()
    except Exception as error:  # a failure is a result of the benchmark
        contender.note = failed(error)
        return
    contender.times.append(time.perf_counter() - start)


def failed(error: Exception) -> str:
    return f"failed: {str(error).splitlines()[0][:80]}"


def finished(w: Workload, contender: Contender) -> Measurement:
    """The measurement of a contender's runs (printed as it is made)."""
    m = Measurement(w, contender.system, note=contender.note, phases=contender.phases)
    if contender.times and not contender.note:
        m.seconds, m.runs = statistics.median(contender.times), len(contender.times)
        m.load = statistics.median(contender.loads)
        m.result = as_sparse(contender.result)
    shown = f"{m.seconds:.4g} s (load {m.load:.1f})" if m.seconds is not None else m.note
    print(f"  {w.name}: {contender.system}: {shown}", flush=True)
    return m


def check(results: list[Measurement]) -> None:
    """Mark each measurement as matching the reference result, or not."""
    order = ("opt_einsum-numpy", "opt_einsum-sparse", "scipy")
    ran = {m.system: m for m in results if m.seconds is not None}
    reference = next((ran[s] for s in order if s in ran), None)
    for m in ran.values():
        m.matches = agree(m.result, reference.result) if reference else None
    for m in ran.values():
        m.result = None


def rows(measurements: list[Measurement]) -> list[dict[str, Any]]:
    """CSV rows: one per measurement, with its ratio to einsql on DuckDB."""
    peer = {m.workload.name: m.seconds for m in measurements if m.system == PEER_OF_RATIO}
    out = []
    for m in measurements:
        base = peer.get(m.workload.name)
        out.append(
            {
                "workload": m.workload.name,
                "family": m.workload.family,
                "tensors": m.workload.num_tensors,
                "density": m.workload.density,
                "system": m.system,
                "seconds": "" if m.seconds is None else f"{m.seconds:.4g}",
                "runs": m.runs,
                f"ratio_to_{PEER_OF_RATIO}": ""
                if m.seconds is None or not base
                else f"{m.seconds / base:.3g}",
                "matches_reference": "" if m.matches is None else m.matches,
                **{f"{p}_seconds": _seconds(m.phases.get(p)) for p in PHASES},
                "load_average": "" if m.load is None else f"{m.load:.2f}",
                "note": m.note,
            }
        )
    return out


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def phases(measurements: list[Measurement]) -> list[str]:
    """A line per measurement timed in phases: load, query (kept in the database), fetch."""
    return [
        f"{m.system} on {m.workload.name}: "
        + ", ".join(f"{p} {m.phases[p]:.3g} s" for p in PHASES if p in m.phases)
        + f"; query and fetch together {m.seconds:.3g} s"
        for m in measurements
        if m.seconds is not None and set(PHASES) <= set(m.phases)
    ]


def table(measurements: list[Measurement], systems: Sequence[str]) -> str:
    """A Markdown table: a row per workload, seconds (and ratio to einsql-duckdb) per system."""
    names = list(dict.fromkeys(m.workload.name for m in measurements))
    by = {(m.workload.name, m.system): m for m in measurements}
    lines = [
        "| workload | " + " | ".join(systems) + " |",
        "| --- | " + " | ".join("---:" for _ in systems) + " |",
    ]
    for name in names:
        base = by.get((name, PEER_OF_RATIO))
        cells = [_cell(by.get((name, s)), base) for s in systems]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(m: Measurement | None, base: Measurement | None) -> str:
    if m is None or m.seconds is None:
        return "failed" if m is not None and m.note.startswith("failed") else "-"
    text = f"{m.seconds:.3g} s"
    if base is not None and base.seconds and m is not base:
        text += f" ({m.seconds / base.seconds:.2g}×)"
    return text + ("" if m.matches is not False else " WRONG")


def summary(measurements: list[Measurement]) -> list[str]:
    """Median ratios of each peer to einsql on DuckDB, over the workloads both ran."""
    peer = {m.workload.name: m for m in measurements if m.system == PEER_OF_RATIO}
    lines = []
    for system in SYSTEMS:
        for label, test in (
            ("all", lambda w: True),
            ("density <= 1%", lambda w: w.density <= 0.01),
        ):
            ratios = [
                m.seconds / peer[m.workload.name].seconds
                for m in measurements
                if m.system == system and m.seconds and test(m.workload)
                if m.workload.name in peer and peer[m.workload.name].seconds
            ]
            if ratios and system != PEER_OF_RATIO:
                lines.append(
                    f"{system} / einsql-duckdb, {label}: median {statistics.median(ratios):.3g}× "
                    f"over {len(ratios)} workloads"
                )
    return lines + footings(measurements)


def footings(measurements: list[Measurement]) -> list[str]:
    """Peers against einsql on both footings: loading outside the clock, and end to end.

    einsql-duckdb reads tables loaded before the clock starts (the SIGMOD 2023
    paper's footing); einsql-duckdb-e2e is what a user waits for, arrays in and
    a COO array out, loading included.
    """
    by = {(m.workload.name, m.system): m.seconds for m in measurements if m.seconds}
    lines = []
    for ours in (PEER_OF_RATIO, END_TO_END):
        for peer in ("scipy", "naive-duckdb", "opt_einsum-sparse"):
            ratios = [
                by[(name, ours)] / by[(name, peer)]
                for name, system in by
                if system == peer and (name, ours) in by
            ]
            if ratios:
                lines.append(
                    f"{ours} / {peer}: median {statistics.median(ratios):.3g}×, "
                    f"worst {max(ratios):.3g}× over {len(ratios)} workloads"
                )
    return lines


def plot(measurements: list[Measurement], systems: Sequence[str], target: Path) -> None:
    """Seconds per workload and system, as grouped horizontal bars on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(m.workload.name for m in measurements))
    by = {(m.workload.name, m.system): m.seconds for m in measurements}
    height = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(names) * max(2, len(systems) / 2)))
    for k, system in enumerate(systems):
        ys = [i + k * height for i, n in enumerate(names) if by.get((n, system))]
        xs = [by[(n, system)] for n in names if by.get((n, system))]
        ax.barh(ys, xs, height=height, label=system)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("seconds (median, log scale)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> list[Measurement]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds before repeats stop")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated systems")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated words of workload names; 'compile' is the compile-speed measurement",
    )
    parser.add_argument("--out", default=str(RESULTS), help="directory for runner.csv/.svg")
    args = parser.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; use some of {', '.join(SYSTEMS)}")
    words = [w for w in args.only.split(",") if w]
    workloads = [w for w in standard(args.quick) if not words or any(x in w.name for x in words)]
    measurements = []
    einsql.einsum("ij,jk->ik", np.eye(2), np.eye(2), con=duckdb.connect())  # imports, off the clock
    for w in workloads:
        print(f"{w.name}: {w.num_tensors} tensors, {w.equation[:60]}", flush=True)
        measurements += measure(w, systems, args.repeat, args.budget)
    out = Path(args.out)
    if measurements:
        write_csv(rows(measurements), out / "runner.csv")
        plot(measurements, systems, out / "runner.svg")
        print()
        print(table(measurements, systems))
        print()
        print("\n".join(summary(measurements)))
        print("\n".join(phases(measurements)))
        print(f"\nwrote {out / 'runner.csv'} and {out / 'runner.svg'}")
    if not words or "compile" in words:
        compiled(100 if args.quick else 1000, 5 * args.repeat, out)
    if not words or "calls" in words:
        called(500 if args.quick else 5000, args.repeat, 10 * args.repeat + 20, out)
    if not words or "pipelines" in words:
        pipelined(10_000 if args.quick else 1_000_000, 2 * args.repeat + 1, out)
    if not words or "newton" in words:
        newton_cg(args.quick, args.repeat, systems, out)
    return measurements


def newton_cg(quick: bool, rounds: int, systems: Sequence[str], out: Path) -> None:
    """Newton-CG on sparse logistic regression (:mod:`newton_cg`): write ``newton_cg.csv``."""
    n, d = (4_000, 2_000) if quick else (20_000, 10_000)
    postgres = postgres_url() if "einsql-postgres" in systems else None
    sqlite = "einsql-sqlite" in systems
    title = f"newton-cg: logistic regression, {n:,} x {d:,}, {rounds} interleaved rounds"
    run = lambda: measure_newton_cg(n, d, 0.001, 5, 10, rounds, postgres, sqlite)  # noqa: E731
    reported(title, run, newton_table, out / "newton_cg.csv")


def pipelined(nnz: int, rounds: int, out: Path) -> None:
    """The pipeline measurement (:mod:`pipelines`): print its table and write ``pipelines.csv``."""
    title = f"pipelines: {nnz} nonzeros read, {rounds} interleaved rounds"
    reported(title, lambda: measure_pipelines(nnz, rounds), pipelines_table, out / "pipelines.csv")


def called(chain: int, rounds: int, tiny_rounds: int, out: Path) -> None:
    """Whole calls against opt_einsum (:mod:`calls`): print their table and write ``calls.csv``."""
    title = f"calls: a tiny network ({tiny_rounds} rounds), a chain of {chain} ({rounds} rounds)"
    run = lambda: measure_calls(chain, rounds, tiny_rounds)  # noqa: E731
    reported(title, run, calls_table, out / "calls.csv")


def compiled(num: int, rounds: int, out: Path) -> None:
    """The compile-speed measurement: print its table and write ``compile.csv``."""
    title = f"compile: chain of {num} tables, {rounds} interleaved rounds"
    reported(title, lambda: measure_compile(num, rounds), compile_table, out / "compile.csv")


def reported(
    title: str,
    measure: Callable[[], list[dict[str, Any]]],
    render: Callable[[list[dict[str, Any]]], str],
    path: Path,
) -> None:
    """Run a side measurement under ``title``; print its table and write its rows to ``path``."""
    print(f"\n{title}", flush=True)
    rows = measure()
    write_csv(rows, path)
    print(render(rows))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
