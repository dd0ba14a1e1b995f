"""Plan: an :class:`~einsql.equation.Equation` becomes a sequence of contraction steps.

Labels that occur in one operand only (and not in the output) are summed first,
in a unary step per operand: joins get smaller, and NaN and infinities combine
as in ``numpy.einsum``, which sums such labels first too. The order of the
remaining contractions comes from opt_einsum's public ``contract_path``. The plan is in SSA
form: operands are values ``0 .. n-1``, step ``s`` writes value ``n + s``, and
every value is read exactly once. A step is unary (a permutation, a diagonal, a
sum over axes) or binary (a join of two values, summed over the labels nobody
needs any more); a path entry naming more than two operands is split into binary
steps from left to right.

>>> from einsql.equation import parse
>>> p = make_plan(parse("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), "optimal")
>>> [step.equation for step in p.steps]
['ij,jk->ik', 'kl,ik->il']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import opt_einsum

from einsql.display import html_table, markdown_table, text_table
from einsql.equation import Equation
from einsql.errors import OptionError
from einsql.semiring import get_semiring
from einsql.sparsity import estimate_nonzeros, path_cost, sparse_greedy

#: The path strategies accepted by name; an explicit path (a list of tuples) also works.
STRATEGIES = (
    "auto",
    "sparse",
    "greedy",
    "dp",
    "optimal",
    "random-greedy",
    "branch-2",
    "branch-all",
)


@dataclass(frozen=True)
class Step:
    """One contraction step.

    Attributes:
        args: the SSA values read (one or two).
        inputs: the labels of each value read.
        output: the labels of the value written.
        flops: opt_einsum's dense FLOP estimate for the step.
        size: the dense number of elements of the value written.

    """

    args: tuple[int, ...]
    inputs: tuple[str, ...]
    output: str
    flops: int
    size: int

    @property
    def equation(self) -> str:
        """The step as an einsum equation, such as ``'ij,jk->ik'``."""
        return ",".join(self.inputs) + "->" + self.output

    @property
    def needs_sum(self) -> bool:
        """Whether some input label is summed away (so rows must be grouped)."""
        return not set("".join(self.inputs)) <= set(self.output)


@dataclass(frozen=True)
class Plan:
    """A contraction plan: the equation and its steps, in order.

    Attributes:
        equation: the normalized equation.
        steps: the steps; the last one writes the result.
        optimize: the strategy that chose the order (or ``"explicit"``).
        semiring: the semiring the steps compute in (see :mod:`einsql.semiring`).

    """

    equation: Equation
    steps: tuple[Step, ...]
    optimize: str
    semiring: str = "sum-product"

    @property
    def num_operands(self) -> int:
        """How many operands the plan reads."""
        return len(self.equation.inputs)

    @property
    def result(self) -> int:
        """The SSA value holding the result."""
        return self.num_operands + len(self.steps) - 1

    @property
    def flops(self) -> int:
        """The estimated dense FLOPs of all steps."""
        return sum(step.flops for step in self.steps)

    def name(self, value: int) -> str:
        """The display name of an SSA value: ``a<k>`` for operands, ``t<s>`` for steps."""
        n = self.num_operands
        return f"a{value}" if value < n else f"t{value - n}"

    def rows(self) -> list[tuple[str, ...]]:
        """The steps as table rows (the first is the header): equation, inputs, FLOPs, size."""
        rows: list[tuple[str, ...]] = [("step", "equation", "inputs", "flops", "size")]
        for s, step in enumerate(self.steps):
            inputs = " ".join(self.name(a) for a in step.args)
            rows.append((f"t{s}", step.equation, inputs, f"{step.flops:,}", f"{step.size:,}"))
        return rows

    @property
    def title(self) -> str:
        """One line naming the equation, the strategy and the total FLOPs."""
        semiring = "" if self.semiring == "sum-product" else f", {self.semiring}"
        return f"einsum {self.equation} ({self.optimize}{semiring}, {self.flops:,} flops)"

    def __str__(self) -> str:
        return self.title + "\n" + text_table(self.rows())

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n" + markdown_table(self.rows())

    def _repr_html_(self) -> str:
        return html_table(self.rows(), self.title)


def make_plan(
    equation: Equation,
    optimize: Any = "auto",
    semiring: str = "sum-product",
    nnz: Sequence[int | None] | None = None,
    local_sums: bool = True,
) -> Plan:
    """Choose the contraction order of ``equation``.

    Args:
        equation: the parsed equation.
        optimize: a strategy name from :data:`STRATEGIES`, or an explicit path
            (a list of tuples of operand positions, in opt_einsum's convention).
            ``"sparse"`` is :func:`einsql.sparsity.sparse_greedy`; ``"auto"``
            takes opt_einsum's choice unless every operand's nonzeros are known
            and the sparse model prices the sparse greedy path lower.
        semiring: the semiring of the steps; every semiring einsql offers is
            commutative, so any order (and any path strategy) is valid.
        nnz: the number of nonzeros of each operand, where known.
        local_sums: first sum labels that occur in one operand only, in a
            unary step of their own (smaller joins).

    Returns:
        The plan.

    Raises:
        OptionError: an unknown strategy or a path that does not fit.

    >>> from einsql.equation import parse
    >>> print(make_plan(parse("i,i->", [(3,), (3,)])))
    einsum i,i-> (auto, 6 flops)
    step  equation  inputs  flops  size
    t0    i,i->     a0 a1   6      1

    """
    builder = _Builder(equation)
    if len(equation.inputs) > 1 and local_sums:
        builder.sum_local_labels()
    path, name = _contraction_path(builder.remaining(), optimize, builder.nonzeros(nnz))
    for entry in path:
        builder.contract(entry)
    if len(builder.live) != 1:
        raise OptionError(
            f"the path {path} leaves {len(builder.live)} operands uncontracted; "
            "a path must contract every operand into one"
        )
    if not builder.steps:
        builder.contract((0,))
    return Plan(equation, tuple(builder.steps), name, get_semiring(semiring).name)


def _contraction_path(
    equation: Equation, optimize: Any, nnz: list[float] | None
) -> tuple[list[tuple[int, ...]], str]:
    if not isinstance(optimize, str):
        return _explicit_path(optimize, len(equation.inputs)), "explicit"
    if optimize not in STRATEGIES:
        raise OptionError(
            f"unknown optimize strategy {optimize!r}; use one of {', '.join(STRATEGIES)} "
            "or pass an explicit path"
        )
    if len(equation.inputs) <= 2:
        return [tuple(range(len(equation.inputs)))], optimize
    output = "".join(dict.fromkeys(equation.output))
    # A label of size 0 makes every product empty, so any order is right; the
    # path search prices it as size 1 (its cost models divide by sizes).
    sizes = {label: max(1, n) for label, n in equation.size_of.items()}
    shapes = [tuple(sizes[label] for label in labels) for labels in equation.inputs]
    dense = [float(math.prod(shape)) for shape in shapes]
    model = (list(equation.inputs), output, sizes, nnz or dense)
    if optimize == "sparse":
        return sparse_greedy(*model), optimize
    subscripts = ",".join(equation.inputs) + "->" + output
    try:
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=optimize)
    except Exception as error:  # opt_einsum's own failure of a strategy
        raise OptionError(f"opt_einsum's {optimize!r} strategy failed: {error}") from error
    chosen = [tuple(entry) for entry in path]
    if optimize == "auto" and nnz is not None:
        greedy = sparse_greedy(*model)
        if path_cost(*model, greedy) < path_cost(*model, chosen):
            return greedy, optimize
    return chosen, optimize


def _explicit_path(path: Any, num_operands: int) -> list[tuple[int, ...]]:
    entries = list(path)
    if entries and entries[0] == "einsum_path":
        entries = entries[1:]
    live = num_operands
    checked = []
    for entry in entries:
        positions = tuple(int(p) for p in entry)
        if not positions or len(set(positions)) != len(positions):
            raise OptionError(f"path entry {entry!r} must name distinct operand positions")
        if min(positions) < 0 or max(positions) >= live:
            raise OptionError(
                f"path entry {entry!r} names a position outside 0..{live - 1} "
                f"(there are {live} operands at that point)"
            )
        live -= len(positions) - 1
        checked.append(positions)
    return checked


class _Builder:
    """Replays a path in opt_einsum's convention, writing SSA steps."""

    def __init__(self, equation: Equation) -> None:
        self.equation = equation
        self.live: list[int] = list(range(len(equation.inputs)))
        self.holders = Counter(lb for labels in equation.inputs for lb in set(labels))
        self.labels: dict[int, str] = dict(enumerate(equation.inputs))
        self.steps: list[Step] = []

    def sum_local_labels(self) -> None:
        """Sum labels that occur in one operand only before any join (as NumPy does)."""
        for position, value in enumerate(self.live):
            labels = self.labels[value]
            output = self.equation.output
            kept = "".join(
                lb for lb in dict.fromkeys(labels) if self.holders[lb] > 1 or lb in output
            )
            if len(kept) < len(set(labels)):
                self.live[position] = self._step((value,), later=[], output=kept)

    def nonzeros(self, nnz: Sequence[int | None] | None) -> list[float] | None:
        """Estimated nonzeros of each live value, or None unless every operand's is known."""
        if nnz is None or any(n is None for n in nnz):
            return None
        known = [float(n or 0) for n in nnz]
        estimates = []
        for value in self.live:
            if value < len(known):
                estimates.append(known[value])
                continue
            step = self.steps[value - len(known)]  # a unary step summing one operand
            estimates.append(estimate_nonzeros(known[step.args[0]], step.size))
        return estimates

    def remaining(self) -> Equation:
        """The equation still to contract, over the live values."""
        inputs = tuple(self.labels[v] for v in self.live)
        return Equation(inputs, self.equation.output, self.equation.sizes)

    def contract(self, positions: Sequence[int]) -> None:
        args = [self.live[p] for p in positions]
        for p in sorted(positions, reverse=True):
            del self.live[p]
        value = args[0]
        for k, other in enumerate(args[1:], start=1):
            value = self._step((value, other), later=args[k + 1 :])
        if len(args) == 1:
            value = self._step((value,), later=[])
        self.live.append(value)

    def _step(self, args: tuple[int, ...], later: Sequence[int], output: str | None = None) -> int:
        inputs = tuple(self.labels[a] for a in args)
        output = self._output_labels(inputs, later) if output is None else output
        sizes = self.equation.size_of
        labels = set("".join(inputs))
        flops = opt_einsum.helpers.flop_count(labels, bool(labels - set(output)), len(args), sizes)
        size = math.prod(sizes[lb] for lb in output)
        self.steps.append(Step(args, inputs, output, int(flops), size))
        value = len(self.equation.inputs) + len(self.steps) - 1
        self.labels[value] = output
        for read in inputs:
            self.holders.subtract(set(read))
        self.holders.update(set(output))
        return value

    def _output_labels(self, inputs: tuple[str, ...], later: Sequence[int]) -> str:
        if not self.live and not later:
            return self.equation.output
        output = set(self.equation.output)
        held_here = Counter(lb for labels in inputs for lb in set(labels))
        return "".join(
            lb
            for lb in dict.fromkeys("".join(inputs))
            if lb in output or self.holders[lb] > held_here[lb]
        )
