"""Compile speed: einsql writing SQL for a long matrix chain, against opt_einsum's path search.

A chain of ``num`` tables of shape 3 x 3 (``"ab,bc,cd,...->a<last>"``, labels from
``opt_einsum.get_symbol``) is compiled by ``einsql.to_sql`` (parse, plan, lower,
render; no data is read) and planned by ``einsql.plan`` (parse and plan), next to
``opt_einsum.contract_path(equation, *shapes, shapes=True)``, the peer, and to
opt_einsum's bare ``auto`` path function (what einsql's planner calls). The
systems run interleaved: each round times every system once, in alternating
order, after a garbage collection outside the clock, so drift on a noisy machine
hits all of them alike; each figure is the median over the rounds. The tables
and shapes are built before the clock starts.

    python benchmarks/runner.py --only compile            # through the runner
    python benchmarks/compile_speed.py --operands 1000 --rounds 15
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import opt_einsum

import einsql

#: The peer every ratio is taken against.
PEER = "opt_einsum.contract_path"


def chain(num: int) -> str:
    """The equation of a chain of ``num`` matrices.

    >>> chain(3)
    'ab,bc,cd->ad'
    """
    symbols = [opt_einsum.get_symbol(k) for k in range(num + 1)]
    return (
        ",".join(symbols[k] + symbols[k + 1] for k in range(num)) + f"->{symbols[0]}{symbols[-1]}"
    )


def systems(num: int) -> dict[str, Callable[[], Any]]:
    """What is timed, by name; operands are made here, before any clock starts."""
    equation = chain(num)
    tables = [einsql.Table(f"m{k}", (3, 3)) for k in range(num)]
    shapes = [(3, 3)] * num
    labels = equation.split("->")[0].split(",")
    inputs = [frozenset(term) for term in labels]
    output = frozenset(equation.split("->")[1])
    sizes = dict.fromkeys("".join(labels), 3)
    return {
        "einsql.to_sql": lambda: einsql.to_sql(equation, *tables),
        "einsql.plan": lambda: einsql.plan(equation, *tables),
        PEER: lambda: opt_einsum.contract_path(equation, *shapes, shapes=True),
        "opt_einsum auto path function": lambda: opt_einsum.paths.auto(inputs, output, sizes, None),
    }


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each function per round; the order reverses every other round."""
    for fn in fns.values():  # warm up: imports, caches, the dialect
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for r in range(rounds):
        for name in order if r % 2 == 0 else reversed(order):
            gc.collect()
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def measure_compile(num: int, rounds: int) -> list[dict[str, Any]]:
    """One row per system: median seconds, and the ratio to :data:`PEER` in the same run."""
    times = interleaved(systems(num), rounds)
    peer = statistics.median(times[PEER])
    rows = []
    for name, seconds in times.items():
        median = statistics.median(seconds)
        per_round = statistics.median(s / p for s, p in zip(seconds, times[PEER]))
        rows.append(
            {
                "workload": f"chain of {num} tables 3x3",
                "measured": name,
                "rounds": rounds,
                "seconds": f"{median:.4g}",
                "peer": PEER,
                "peer_seconds": f"{peer:.4g}",
                "ratio": f"{median / peer:.3g}",
                "ratio_median_per_round": f"{per_round:.3g}",
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"| {rows[0]['workload']} | median seconds | ratio to {PEER} |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {r['measured']} | {r['seconds']} | {r['ratio']}× |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operands", type=int, default=1000, help="matrices in the chain")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    rows = measure_compile(args.operands, args.rounds)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
