"""Sparsity-aware contraction paths: a cost model over nonzeros, not dense sizes.

opt_einsum prices a contraction by its dense FLOPs. Over COO tables, what a
step costs is the rows its join produces and then groups. Under the usual
independence assumption, joining values with ``n1`` and ``n2`` nonzeros that
share labels of sizes ``s1, s2, ...`` gives ``n1 * n2 / (s1 * s2 * ...)`` rows,
and grouping ``j`` rows into an output of dense size ``d`` leaves about
``d * (1 - exp(-j / d))`` nonzeros.

:func:`sparse_greedy` builds a path greedily by that model (always the pair
whose join is smallest); :func:`path_cost` prices any path by it, so the planner
can keep whichever candidate (opt_einsum's or the greedy one) the model says is
cheaper.

>>> inputs, sizes = ["ij", "jk", "kl"], {"i": 1000, "j": 10, "k": 1000, "l": 10}
>>> sparse_greedy(inputs, "il", sizes, [10_000, 10_000, 10_000])
[(1, 2), (0, 1)]
>>> paths = [(0, 1), (0, 1)], [(1, 2), (0, 1)]
>>> [round(path_cost(inputs, "il", sizes, [10_000] * 3, p)) for p in paths]
[21029501, 230100]
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import opt_einsum


def estimate_nonzeros(join_rows: float, dense_size: int) -> float:
    """Expected distinct cells hit by ``join_rows`` rows spread over ``dense_size`` cells."""
    if dense_size <= 0:
        return 0.0
    return min(join_rows, dense_size * -math.expm1(-join_rows / dense_size))


def step_rows(
    steps: Sequence[tuple[Sequence[int], Sequence[str], int]],
    sizes: Mapping[str, int],
    nnz: Sequence[float],
) -> list[tuple[float, float]]:
    """The model's rows of each step of a plan: those its join yields, and its nonzeros.

    Each step is ``(args, inputs, dense size)``: the values it reads (operands
    ``0 .. len(nnz) - 1``, then the steps in order), their labels, and the dense
    size of what it writes. A step reading one value yields that value's rows
    (a diagonal fewer, by ``1 / size`` per repeated label).

    >>> rows = step_rows([((0, 1), ("ij", "jk"), 100)], {"i": 10, "j": 10, "k": 10}, [50, 50])
    >>> [(join, round(nonzeros, 1)) for join, nonzeros in rows]
    [(250.0, 91.8)]
    """
    known = [float(n) for n in nnz]
    rows = []
    for args, inputs, size in steps:
        join = math.prod(known[a] for a in args)
        seen: Counter[str] = Counter()
        for labels in inputs:
            for label in labels:
                join /= max(sizes[label], 1) if seen[label] else 1  # a size-0 axis: no rows
                seen[label] += 1
        nonzeros = estimate_nonzeros(join, size)
        rows.append((join, nonzeros))
        known.append(max(nonzeros, 1.0))
    return rows


class _Model:
    """Live values of a contraction: their labels, estimated nonzeros, and label counts."""

    def __init__(
        self, inputs: Sequence[str], output: str, sizes: Mapping[str, int], nnz: Sequence[float]
    ) -> None:
        self.labels = {k: set(labels) for k, labels in enumerate(inputs)}
        self.nnz = {k: float(n) for k, n in enumerate(nnz)}
        self.output = set(output)
        self.sizes = sizes
        self.count = Counter(label for labels in self.labels.values() for label in labels)

    def pair(self, a: int, b: int) -> tuple[float, float, set[str]]:
        """Join rows, result nonzeros and result labels of contracting ``a`` with ``b``."""
        la, lb = self.labels[a], self.labels[b]
        join = self.nnz[a] * self.nnz[b] / math.prod(self.sizes[x] for x in la & lb)
        kept = {x for x in la | lb if x in self.output or self.count[x] > (x in la) + (x in lb)}
        return join, estimate_nonzeros(join, math.prod(self.sizes[x] for x in kept)), kept

    def contract(self, a: int, b: int, new: int) -> float:
        """Replace ``a`` and ``b`` by their contraction ``new``; return the join rows."""
        join, nonzeros, kept = self.pair(a, b)
        for value in (a, b):
            self.count.subtract(self.labels.pop(value))
            del self.nnz[value]
        self.labels[new], self.nnz[new] = kept, max(nonzeros, 1.0)
        self.count.update(kept)
        return join


def path_cost(
    inputs: Sequence[str],
    output: str,
    sizes: Mapping[str, int],
    nnz: Sequence[float],
    path: Sequence[Sequence[int]],
) -> float:
    """The model's cost of a linear (opt_einsum) ``path``: rows scanned and joined.

    An entry naming more than two positions is contracted from left to right.
    """
    model = _Model(inputs, output, sizes, nnz)
    live, new, cost = list(range(len(inputs))), len(inputs), 0.0
    for entry in path:
        args = [live[p] for p in entry]
        for p in sorted(entry, reverse=True):  # not a scan of every live value: long paths
            del live[p]
        value = args[0]
        for other in args[1:]:
            cost += model.nnz[value] + model.nnz[other] + model.contract(value, other, new)
            value, new = new, new + 1
        live.append(value)
    return cost


def sparse_greedy(
    inputs: Sequence[str], output: str, sizes: Mapping[str, int], nnz: Sequence[float]
) -> list[tuple[int, ...]]:
    """A linear path that always contracts the connected pair with the smallest join.

    Only pairs sharing a label are candidates while there are any; then the two
    values with the fewest nonzeros. Candidates sit in a heap, and pairs whose
    values are gone are skipped when popped, so thousands of operands plan fast.
    """
    model = _Model(inputs, output, sizes, nnz)
    holders: defaultdict[str, set[int]] = defaultdict(set)
    for value, labels in model.labels.items():
        for label in labels:
            holders[label].add(value)
    heap: list[tuple[float, float, int, int]] = []

    def push(a: int, b: int) -> None:
        join, nonzeros, _ = model.pair(a, b)
        heapq.heappush(heap, (join, nonzeros - model.nnz[a] - model.nnz[b], a, b))

    for a in list(model.labels):
        for b in {b for label in model.labels[a] for b in holders[label] if b > a}:
            push(a, b)
    ssa: list[tuple[int, int]] = []
    new = len(inputs)
    while len(model.labels) > 1:
        while heap and not (heap[0][2] in model.labels and heap[0][3] in model.labels):
            heapq.heappop(heap)
        if heap:
            _, _, a, b = heapq.heappop(heap)
        else:
            a, b = sorted(sorted(model.labels), key=lambda v: model.nnz[v])[:2]
        for value in (a, b):
            for label in model.labels[value]:
                holders[label].discard(value)
        model.contract(a, b, new)
        for label in model.labels[new]:
            holders[label].add(new)
        ssa.append((a, b))
        for other in sorted({v for label in model.labels[new] for v in holders[label]} - {new}):
            push(other, new)
        new += 1
    return [tuple(entry) for entry in opt_einsum.paths.ssa_to_linear(ssa)] if ssa else [(0,)]
