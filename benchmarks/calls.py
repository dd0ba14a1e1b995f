"""Whole calls against opt_einsum: a tiny network's fixed costs, and a long chain run staged.

Two einsums are run end to end (parse, plan, lower, render, execute, fetch)
by ``einsql.einsum`` on DuckDB without a connection (``con=None``: the
process's in-memory database), next to ``opt_einsum.contract`` on the same
NumPy arrays, the peer:

* **tiny network**: ten 2 x 2 operands in a ring (``ab,bc,...,ja->``), every
  operand inlined as ``VALUES``: what a call costs when there is nothing to
  compute.
* **long chain**: a chain of 2 x 2 operands (5,000 by default,
  ``ab,bc,...->a<last>``), 90% dense, run staged: many statements of many
  steps each.

The systems run interleaved: each round times each once, in alternating order,
after a garbage collection outside the clock; each figure is the median over
the rounds, with the median 1-minute load average read before the runs.

    python benchmarks/runner.py --only calls        # through the runner
    python benchmarks/calls.py --chain 5000 --rounds 3 --tiny-rounds 50
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import opt_einsum

import einsql
from einsql.planner import clear_plans

#: The peer every ratio is taken against.
PEER = "opt_einsum.contract"


def ring(num: int) -> str:
    """The equation of ``num`` matrices in a ring, summed to a scalar.

    >>> ring(3)
    'ab,bc,ca->'
    """
    symbols = [opt_einsum.get_symbol(k) for k in range(num)]
    return ",".join(symbols[k] + symbols[(k + 1) % num] for k in range(num)) + "->"


def chain(num: int) -> str:
    """The equation of a chain of ``num`` matrices.

    >>> chain(3)
    'ab,bc,cd->ad'
    """
    symbols = [opt_einsum.get_symbol(k) for k in range(num + 1)]
    terms = ",".join(symbols[k] + symbols[k + 1] for k in range(num))
    return f"{terms}->{symbols[0]}{symbols[-1]}"


def operands(num: int, density: float, seed: int) -> list[np.ndarray]:
    """``num`` random 2 x 2 arrays with about ``density`` of their entries nonzero."""
    rng = np.random.default_rng(seed)
    return [rng.random((2, 2)) * (rng.random((2, 2)) < density) for _ in range(num)]


def contenders(equation: str, arrays: list[np.ndarray]) -> dict[str, Callable[[], Any]]:
    """einsql on DuckDB without a connection (its plan kept, or planned anew), and the peer.

    ``einsql.einsum`` keeps the plans of repeated inputs (see ``einsql.planner``),
    as a program calling it again gets them; the first call of an input plans,
    as ``opt_einsum.contract`` does on every call.
    """

    def first_call() -> Any:
        clear_plans()
        return einsql.einsum(equation, *arrays)

    return {
        "einsql.einsum (duckdb, con=None)": lambda: einsql.einsum(equation, *arrays),
        "einsql.einsum, planned anew": first_call,
        PEER: lambda: opt_einsum.contract(equation, *arrays),
    }


def interleaved(
    fns: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, list[float]], list[float], dict[str, Any]]:
    """Seconds per round of each function (order reversed every other round), loads, results."""
    results = {name: fn() for name, fn in fns.items()}  # warm up, and keep the answers
    times: dict[str, list[float]] = {name: [] for name in fns}
    loads = []
    order = list(fns)
    for r in range(rounds):
        for name in order if r % 2 == 0 else reversed(order):
            gc.collect()
            loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times, loads, results


def measure(
    workload: str, equation: str, arrays: list[np.ndarray], rounds: int
) -> list[dict[str, Any]]:
    """One row per system: median seconds and the ratio to :data:`PEER` in the same run.

    Raises:
        AssertionError: einsql's answer differs from the peer's.

    """
    times, loads, results = interleaved(contenders(equation, arrays), rounds)
    expected = results[PEER]
    for name, answer in results.items():
        assert np.allclose(answer, expected, rtol=1e-9, atol=1e-12), f"{workload}: {name} is wrong"
    peer = statistics.median(times[PEER])
    return [
        {
            "workload": workload,
            "measured": name,
            "rounds": rounds,
            "seconds": f"{statistics.median(seconds):.4g}",
            "peer": PEER,
            "peer_seconds": f"{peer:.4g}",
            "ratio": f"{statistics.median(seconds) / peer:.3g}",
            "load_average": f"{statistics.median(loads):.2f}",
        }
        for name, seconds in times.items()
    ]


def measure_calls(chain_length: int, rounds: int, tiny_rounds: int) -> list[dict[str, Any]]:
    """The tiny network (``tiny_rounds`` rounds) and the long chain (``rounds`` rounds)."""
    rows = measure(
        "tiny network: 10 operands 2x2 in a ring", ring(10), operands(10, 1.0, 0), tiny_rounds
    )
    arrays = operands(chain_length, 0.9, 0)
    rows += measure(
        f"chain of {chain_length} operands 2x2, staged", chain(chain_length), arrays, rounds
    )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"| workload | measured | median seconds | ratio to {PEER} | load average |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [r["workload"], r["measured"], r["seconds"], f"{r['ratio']}×", r["load_average"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=5000, help="operands in the chain")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the chain")
    parser.add_argument("--tiny-rounds", type=int, default=50, help="rounds of the tiny network")
    args = parser.parse_args(argv)
    rows = measure_calls(args.chain, args.rounds, args.tiny_rounds)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
