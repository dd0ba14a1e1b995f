"""Workloads of the benchmark runner: an equation, shapes, and seeded sparse operands.

Equations and shapes come from the generators of the ``einsum_benchmark``
package (Einsum Benchmark, NeurIPS 2024) or are written out (sparse matrix
product, MTTKRP, a matrix chain). Every operand is filled with seeded random
values at a chosen density, so a run is reproducible offline.

>>> w = spmm(100, 500)
>>> w.equation, [op.nnz for op in w.operands()]
('ij,jk->ik', [500, 500])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sparse
from einsum_benchmark import generators

#: The dense number of elements past which dense peers are not run.
DENSE_LIMIT = 2**26


@dataclass(frozen=True)
class Workload:
    """One benchmark instance.

    Attributes:
        name: a short label.
        family: the generator or kind of workload.
        equation: the einsum equation.
        shapes: the operand shapes.
        density: the fraction of nonzeros of each sparse operand.
        dense_operands: positions of operands filled densely (MTTKRP's factors).
        systems: the only systems to run, or empty for all of them.
        seed: the seed of the values.

    """

    name: str
    family: str
    equation: str
    shapes: tuple[tuple[int, ...], ...]
    density: float
    dense_operands: frozenset[int] = frozenset()
    systems: tuple[str, ...] = ()
    seed: int = 0

    def operands(self) -> list[sparse.COO]:
        """The operands as pydata ``sparse.COO`` arrays (made once, then cached)."""
        return list(self._operands)

    @cached_property
    def _operands(self) -> list[sparse.COO]:
        rng = np.random.default_rng(self.seed)
        densities = [
            1.0 if k in self.dense_operands else self.density for k in range(len(self.shapes))
        ]
        return [
            random_coo(shape, density, rng) * scale
            for shape, density, scale in zip(self.shapes, densities, self._scales(densities))
        ]

    def _scales(self, densities: Sequence[float]) -> list[float]:
        """Per-operand value scales that keep the result near 1 for any number of operands.

        A result sums ``prod(label sizes) * prod(densities)`` products, so each
        operand divides by its density and by its share of each of its labels'
        sizes (a label held by ``c`` operands, the output counting as one,
        contributes ``size ** (1 / c)`` to each).
        """
        inputs, output = self.equation.split("->")
        terms = inputs.split(",")
        holders = Counter(label for labels in [*terms, output] for label in set(labels))
        size = {
            label: n for labels, shape in zip(terms, self.shapes) for label, n in zip(labels, shape)
        }
        return [
            1.0 / (density * math.prod(size[x] ** (1 / holders[x]) for x in set(labels)))
            for labels, density in zip(terms, densities)
        ]

    @property
    def num_tensors(self) -> int:
        """How many operands the equation has."""
        return len(self.shapes)

    @property
    def dense_fits(self) -> bool:
        """Whether every operand fits densely under :data:`DENSE_LIMIT` elements."""
        return all(math.prod(shape) <= DENSE_LIMIT for shape in self.shapes)

    def runs(self, system: str) -> bool:
        """Whether ``system`` is measured on this workload."""
        return not self.systems or system in self.systems


def random_coo(shape: Sequence[int], density: float, rng: np.random.Generator) -> sparse.COO:
    """A random COO array: ``max(1, density * size)`` distinct positions, values in [0.5, 1.5).

    >>> random_coo((4, 5), 0.1, np.random.default_rng(0)).nnz
    2
    """
    size = math.prod(shape)
    nnz = min(size, max(1, round(density * size)))
    flat = np.sort(rng.choice(size, nnz, replace=False)) if nnz < size else np.arange(size)
    coords = np.stack(np.unravel_index(flat, tuple(shape))) if shape else np.zeros((0, nnz), int)
    return sparse.COO(coords, rng.uniform(0.5, 1.5, nnz), shape=tuple(shape))


def _as_shapes(shapes: Sequence[Sequence[Any]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(d) for d in shape) for shape in shapes)


def spmm(n: int, nnz: int, systems: tuple[str, ...] = ()) -> Workload:
    """The sparse matrix product of two ``n x n`` matrices with ``nnz`` nonzeros each."""
    return Workload(
        f"spmm {n:,}², {nnz:.0e} nnz",
        "spmm",
        "ij,jk->ik",
        ((n, n), (n, n)),
        nnz / n / n,
        systems=systems,
    )


def mttkrp(n: int, rank: int, density: float) -> Workload:
    """MTTKRP: a sparse ``n x n x n`` tensor times two dense ``n x rank`` factors."""
    return Workload(
        f"mttkrp {n}³ r{rank}, {density * 100:g}%",
        "mttkrp",
        "ijk,jr,kr->ir",
        ((n, n, n), (n, rank), (n, rank)),
        density,
        dense_operands=frozenset({1, 2}),
    )


def matrix_chain(dims: Sequence[int], density: float, name: str = "matrix chain") -> Workload:
    """The product of matrices of sizes ``dims[k] x dims[k + 1]``, to a matrix."""
    symbols = [chr(ord("a") + k) if k < 26 else chr(0x100 + k) for k in range(len(dims))]
    terms = ",".join(symbols[k] + symbols[k + 1] for k in range(len(dims) - 1))
    shapes = tuple((dims[k], dims[k + 1]) for k in range(len(dims) - 1))
    return Workload(
        f"{name} {len(shapes)}, {density * 100:g}%",
        "matrix chain",
        f"{terms}->{symbols[0]}{symbols[-1]}",
        shapes,
        density,
    )


def generated(
    family: str,
    make: Callable[[], tuple[str, Sequence[Sequence[Any]]]],
    density: float,
    label: str,
    systems: tuple[str, ...] = (),
) -> Workload:
    """A workload from an ``einsum_benchmark`` generator call."""
    equation, shapes = make()[:2]
    return Workload(
        f"{family} {label}, {density * 100:g}%",
        family,
        equation,
        _as_shapes(shapes),
        density,
        systems=systems,
    )


def standard(quick: bool = False) -> list[Workload]:
    """The runner's workloads; ``quick`` shrinks every one to a smoke test."""
    if quick:
        return _quick()
    g = generators
    big = ("einsql-duckdb", "einsql-postgres", "opt_einsum-numpy", "opt_einsum-sparse")
    fast = ("einsql-duckdb", "naive-duckdb", "opt_einsum-numpy", "opt_einsum-sparse", "scipy")
    return [
        spmm(20_000, 10**6, systems=fast),
        spmm(5_000, 10**5),
        mttkrp(200, 16, 0.01),
        mttkrp(400, 32, 0.001),
        matrix_chain([4000, 3000, 5000, 2000, 4000], 0.001),
        generated(
            "matrix_chain", lambda: g.structured.matrix_chain(8, 1000, 4000, seed=1), 0.001, "8"
        ),
        generated(
            "connected_hypernetwork",
            lambda: g.random.connected_hypernetwork(
                30,
                2.5,
                max_tensor_order=3,
                max_edge_order=3,
                number_of_output_indices=2,
                number_of_single_summation_indices=10,
                min_axis_size=20,
                max_axis_size=40,
                seed=1,
            ),
            0.01,
            "30",
        ),
        generated(
            "connected_network",
            lambda: g.random.connected_network(12, 3, min_axis_size=8, max_axis_size=16, seed=1),
            0.1,
            "12",
        ),
        generated("lattice", lambda: g.structured.lattice((4, 4), d_min=30, seed=1), 0.01, "4x4"),
        generated("tree", lambda: g.structured.tree(40, d_min=8, d_max=16, seed=1), 0.1, "40"),
        generated(
            "p_first_and_last",
            lambda: g.language_model.p_first_and_last(1, 40, 100),
            0.01,
            "mera 1",
            systems=fast,
        ),
        generated(
            "tree", lambda: g.structured.tree(2_000, d_min=2, d_max=4, seed=2), 0.8, "2000", big
        ),
        generated(
            "lattice",
            lambda: g.structured.lattice((2, 1_000), d_min=2, d_max=3, seed=2),
            0.8,
            "2x1000",
            big,
        ),
    ]


def _quick() -> list[Workload]:
    g = generators
    return [
        spmm(200, 2_000),
        mttkrp(20, 4, 0.05),
        matrix_chain([30, 40, 20, 50], 0.1),
        generated(
            "connected_hypernetwork",
            lambda: g.random.connected_hypernetwork(
                8,
                2.5,
                max_tensor_order=3,
                max_edge_order=3,
                number_of_output_indices=1,
                min_axis_size=3,
                max_axis_size=5,
                seed=1,
            ),
            0.3,
            "8",
        ),
        generated("tree", lambda: g.structured.tree(100, d_min=2, d_max=3, seed=2), 0.5, "100"),
    ]
