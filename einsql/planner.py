"""Plan: an :class:`~einsql.equation.Equation` becomes a sequence of contraction steps.

Labels that occur in one operand only (and not in the output) are summed first,
in a unary step per operand: joins get smaller, and NaN and infinities combine
as in ``numpy.einsum``, which sums such labels first too. The order of the
remaining contractions comes from a path optimizer: a name in opt_einsum's
registry (see :func:`strategies`), any opt_einsum ``PathOptimizer`` (such as
cotengra's ``HyperOptimizer``), einsql's ``"sparse"`` greedy, or an explicit
path. einsql calls the optimizer itself, as ``opt_einsum.contract_path`` does
but without building its report, so the same name gives the same path.

The plan is in SSA form: operands are values ``0 .. n-1``, step ``s`` writes
value ``n + s``, and every value is read exactly once. A step is unary (a
permutation, a diagonal, a sum over axes) or binary (a join of two values,
summed over the labels nobody needs any more), and each step is checked
against that invariant as it is built; a path entry naming more than two
operands is split into binary steps from left to right.

>>> from einsql.equation import parse
>>> p = make_plan(parse("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), "optimal")
>>> [step.equation for step in p.steps]
['ij,jk->ik', 'kl,ik->il']
"""

from __future__ import annotations

import math
import operator
import reprlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum
from opt_einsum.paths import PathOptimizer

from einsql.display import html_table, markdown_table, text_table
from einsql.equation import Equation
from einsql.errors import OptionError, PathError
from einsql.semiring import get_semiring
from einsql.sparsity import estimate_nonzeros, path_cost, sparse_greedy, step_rows

#: einsql's own strategy name: :func:`einsql.sparsity.sparse_greedy` on estimated nonzeros.
SPARSE = "sparse"

#: A path search in opt_einsum's convention: input label sets, output labels,
#: label sizes and a memory limit in, a linear path out.
PathFunction = Callable[[list[frozenset[str]], frozenset[str], dict[str, int], Any], Any]

LinearPath = list[tuple[int, ...]]


def strategies() -> tuple[str, ...]:
    """The strategy names ``optimize=`` accepts: opt_einsum's registry, then ``"sparse"``.

    The registry is read on every call, so a name registered later (with
    ``opt_einsum.paths.register_path_fn``, as importing cotengra does) counts.

    >>> strategies()[:4], "branch-1" in strategies(), strategies()[-1]
    (('auto', 'auto-hq', 'optimal', 'branch-all'), True, 'sparse')
    """
    return tuple(dict.fromkeys([*opt_einsum.paths._PATH_OPTIONS, SPARSE]))


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
        path: the contraction path the steps replay, in opt_einsum's (and
            ``numpy.einsum_path``'s) convention, over the operands left after
            labels of one operand only were summed (those sums keep each
            operand's position); passed back as ``optimize=`` it gives this plan.

    """

    equation: Equation
    steps: tuple[Step, ...]
    optimize: str
    semiring: str = "sum-product"
    path: tuple[tuple[int, ...], ...] = ()

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

    def estimated_rows(self, nnz: Sequence[float]) -> list[tuple[float, float]]:
        """Per step, the sparsity model's rows joined and nonzeros written, given operand ``nnz``.

        >>> from einsql.equation import parse
        >>> plan = make_plan(parse("ij,jk->ik", [(10, 10), (10, 10)]))
        >>> [(join, round(nonzeros)) for join, nonzeros in plan.estimated_rows([50, 50])]
        [(250.0, 92)]
        """
        steps = [(step.args, step.inputs, step.size) for step in self.steps]
        return step_rows(steps, self.equation.size_of, nnz)

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

    def report(self) -> str:
        """The plan in ``numpy.einsum_path``'s report format (the steps einsql runs).

        >>> from einsql.equation import parse
        >>> print(make_plan(parse("ij,jk->ik", [(2, 3), (3, 4)])).report())
          Complete contraction:  ij,jk->ik
                 Naive scaling:  3
             Optimized scaling:  3
              Naive FLOP count:  4.800e+01
          Optimized FLOP count:  4.800e+01
           Theoretical speedup:  1.000
          Largest intermediate:  8.000e+00 elements
        --------------------------------------------------------------------------
        scaling                  current                                remaining
        --------------------------------------------------------------------------
           3                   ij,jk->ik                                   ik->ik
        """
        equation, size_of = self.equation, self.equation.size_of.__getitem__
        labels = set("".join(equation.inputs))
        naive = _flops(labels, not labels <= set(equation.output), len(equation.inputs), size_of)
        scales = [len(set("".join(step.inputs))) for step in self.steps]
        lines = [
            f"  Complete contraction:  {equation}",
            f"         Naive scaling:  {len(labels)}",
            f"     Optimized scaling:  {max(scales)}",
            f"      Naive FLOP count:  {naive:.3e}",
            f"  Optimized FLOP count:  {self.flops:.3e}",
            f"   Theoretical speedup:  {naive / max(self.flops, 1):3.3f}",
            f"  Largest intermediate:  {max(step.size for step in self.steps):.3e} elements",
            "-" * 74,
            f"{'scaling':6} {'current':>24} {'remaining':>40}",
            "-" * 74,
        ]
        live = dict(enumerate(equation.inputs))
        for s, (scale, step) in enumerate(zip(scales, self.steps)):
            for arg in step.args:
                del live[arg]
            live[self.num_operands + s] = step.output
            remaining = ",".join(live.values()) + "->" + equation.output
            lines.append(f"{scale:4d}    {step.equation:>24} {remaining:>40}")
        return "\n".join(lines)

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
        optimize: a strategy name from :func:`strategies`, any opt_einsum
            ``PathOptimizer`` instance, or an explicit path (a list of tuples
            of operand positions, in opt_einsum's convention, optionally
            after NumPy's leading ``"einsum_path"``). ``"sparse"`` is
            :func:`einsql.sparsity.sparse_greedy`; ``"auto"`` takes
            opt_einsum's choice unless every operand's nonzeros are known and
            the sparse model prices the sparse greedy path lower. NumPy's forms
            work too: ``True`` is ``"greedy"``, ``False`` contracts the
            operands from left to right, and ``(strategy, memory_limit)``
            bounds the elements of every intermediate (opt_einsum's
            ``memory_limit``; a step that cannot fit contracts what is left at once).
        semiring: the semiring of the steps; every semiring einsql offers is
            commutative, so any order (and any path strategy) is valid.
        nnz: the number of nonzeros of each operand, where known.
        local_sums: first sum labels that occur in one operand only, in a
            unary step of their own (smaller joins).

    Returns:
        The plan. Plans of a strategy in :data:`CACHED_STRATEGIES` (and of
        NumPy's ``True`` and ``False``) are kept: the same equation (labels
        and sizes), strategy, semiring and nonzeros give the same plan again
        without a search.

    Raises:
        OptionError: an unknown strategy, an object that is no optimizer or
            path, or an optimizer that fails.
        PathError: an explicit path that does not fit the operands.

    >>> from einsql.equation import parse
    >>> print(make_plan(parse("i,i->", [(3,), (3,)])))
    einsum i,i-> (auto, 6 flops)
    step  equation  inputs  flops  size
    t0    i,i->     a0 a1   6      1
    >>> from opt_einsum.paths import DynamicProgramming
    >>> make_plan(parse("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), DynamicProgramming()).optimize
    'DynamicProgramming'

    """
    key = _cache_key(equation, optimize, semiring, nnz, local_sums)
    if key is None:
        return _make_plan(equation, optimize, semiring, nnz, local_sums)
    with _PLANS_LOCK:
        cached = _PLANS.get(key)
        if cached is not None:
            _PLANS.move_to_end(key)
            return cached
    plan = _make_plan(equation, optimize, semiring, nnz, local_sums)
    with _PLANS_LOCK:
        _PLANS[key] = plan
        while len(_PLANS) > PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
    return plan


#: Strategies that choose the same path whenever their input is the same, so
#: their plans are kept (opt_einsum's ``random-greedy`` and ``auto-hq``, which
#: samples, and optimizer objects, which may keep state, are asked every time).
CACHED_STRATEGIES = frozenset(
    {"auto", "greedy", "optimal", "dp", "branch-all", "branch-2", "branch-1", SPARSE}
)

#: The most plans kept (the least recently used goes first).
PLAN_CACHE_SIZE = 256

_PLANS: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
_PLANS_LOCK = threading.Lock()


def _cache_key(
    equation: Equation,
    optimize: Any,
    semiring: str,
    nnz: Sequence[int | None] | None,
    local_sums: bool,
) -> tuple[Any, ...] | None:
    """What a plan depends on, or None when it is not kept (see :data:`CACHED_STRATEGIES`).

    The key holds the path function registered under the name, so a name
    given another function is planned again.

    >>> from einsql.equation import parse
    >>> key = _cache_key(parse("i,i->", [(3,), (3,)]), "greedy", "sum-product", [3, 2], True)
    >>> key[1:] == ("greedy", opt_einsum.paths.greedy, "sum-product", (3, 2), True)
    True
    >>> _cache_key(parse("i,i->", [(3,), (3,)]), "random-greedy", "sum-product", None, True)
    """
    if isinstance(optimize, (bool, np.bool_)):
        optimize = "greedy" if optimize else "unoptimized"
        function = None
    elif isinstance(optimize, str) and optimize in CACHED_STRATEGIES:
        function = opt_einsum.paths._PATH_OPTIONS.get(optimize)
    else:
        return None
    counts = None if nnz is None else tuple(nnz)
    return (equation, optimize, function, semiring, counts, local_sums)


def clear_plans() -> None:
    """Forget every kept plan (:func:`make_plan` keeps the last :data:`PLAN_CACHE_SIZE`)."""
    with _PLANS_LOCK:
        _PLANS.clear()


def _make_plan(
    equation: Equation,
    optimize: Any,
    semiring: str,
    nnz: Sequence[int | None] | None,
    local_sums: bool,
) -> Plan:
    """:func:`make_plan` without its cache."""
    builder = _PlanBuilder(equation)
    if len(equation.inputs) > 1 and local_sums:
        builder.sum_local_labels()
    path, name = _contraction_path(builder.remaining(), optimize, builder.nonzeros(nnz))
    for entry in path:
        builder.contract(entry)
    if not builder.steps:
        builder.contract((0,))
    steps, ring = tuple(builder.steps), get_semiring(semiring).name
    plan = Plan(equation, steps, name, ring, tuple(path) or ((0,),))
    assert builder.unread == {plan.result}, f"values {builder.unread} are never read"
    return plan


def _contraction_path(
    equation: Equation, optimize: Any, nnz: list[float] | None
) -> tuple[LinearPath, str]:
    """The path for ``equation`` and the name the plan shows for how it was chosen."""
    count = len(equation.inputs)
    optimize, memory_limit = _strategy(optimize)
    if optimize is False:
        return [tuple(range(count))], "unoptimized"
    if not isinstance(optimize, (str, PathOptimizer)):
        return _explicit_path(optimize, count), "explicit"
    find, name = _path_function(optimize)
    if count <= 2:
        return [tuple(range(count))], name
    if find is None:
        if memory_limit is not None:
            raise OptionError(f"the {SPARSE!r} strategy takes no memory limit")
        return sparse_greedy(*_sparse_model(equation, nnz)), name
    path = _search(find, name, equation, memory_limit)
    if optimize == "auto" and nnz is not None and memory_limit is None:
        model = _sparse_model(equation, nnz)
        greedy = sparse_greedy(*model)
        if path_cost(*model, greedy) < path_cost(*model, path):
            return greedy, name
    return path, name


def _strategy(optimize: Any) -> tuple[Any, int | None]:
    """NumPy's forms of ``optimize`` as einsql's: a strategy or path, and a memory limit.

    ``True`` is NumPy's ``"greedy"``; ``False`` stays ``False`` (left to right);
    ``(strategy, limit)`` is a strategy with a memory limit in elements.

    >>> _strategy(True), _strategy(("optimal", 0)), _strategy([(0, 1)])
    (('greedy', None), ('optimal', 0), ([(0, 1)], None))
    """
    if isinstance(optimize, (bool, np.bool_)):
        return ("greedy" if optimize else False), None
    limited = (
        isinstance(optimize, (tuple, list))
        and len(optimize) == 2
        and isinstance(optimize[0], (str, PathOptimizer))
        and optimize[0] != "einsum_path"
    )
    if not limited:
        return optimize, None
    strategy, limit = optimize
    if isinstance(limit, (bool, np.bool_)) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise OptionError(
            f"optimize=({strategy!r}, {limit!r}) needs a memory limit that is a non-negative "
            "integer (the largest intermediate, in elements)"
        )
    return strategy, int(limit)


def _path_function(optimize: str | PathOptimizer) -> tuple[PathFunction | None, str]:
    """The search ``optimize`` names (None for ``"sparse"``) and its name for the plan.

    >>> _path_function("greedy")[0] is opt_einsum.paths.greedy
    True
    """
    if isinstance(optimize, PathOptimizer):
        return optimize, type(optimize).__name__
    if optimize == SPARSE:
        return None, SPARSE
    registry = opt_einsum.paths._PATH_OPTIONS
    if optimize not in registry:
        raise OptionError(
            f"unknown optimize strategy {optimize!r}; use one of {', '.join(strategies())}, "
            "an opt_einsum PathOptimizer, or an explicit path"
        )
    return registry[optimize], optimize


def _sparse_model(
    equation: Equation, nnz: list[float] | None
) -> tuple[list[str], str, dict[str, int], list[float]]:
    """The arguments of :func:`sparse_greedy` and :func:`path_cost` (dense sizes if no nnz)."""
    sizes = _path_sizes(equation)
    dense = [float(math.prod(sizes[label] for label in labels)) for labels in equation.inputs]
    output = "".join(dict.fromkeys(equation.output))
    return list(equation.inputs), output, sizes, nnz or dense


def _path_sizes(equation: Equation) -> dict[str, int]:
    """Label sizes in order of first appearance, as ``opt_einsum.contract_path`` builds them.

    A label of size 0 makes every product empty, so any order is right; the
    path search prices it as size 1 (its cost models divide by sizes).

    >>> _path_sizes(Equation(("ji", "ik"), "jk", (("i", 0), ("j", 2), ("k", 3))))
    {'j': 2, 'i': 1, 'k': 3}
    """
    size_of = equation.size_of
    sizes: dict[str, int] = {}
    for labels in equation.inputs:
        for label in labels:
            if label not in sizes:
                sizes[label] = max(1, size_of[label])
    return sizes


def _search(
    find: PathFunction, name: str, equation: Equation, memory_limit: int | None = None
) -> LinearPath:
    """Call a path search as ``opt_einsum.contract_path`` does; check its path."""
    inputs = [frozenset(labels) for labels in equation.inputs]
    try:
        path = find(inputs, frozenset(equation.output), _path_sizes(equation), memory_limit)
    except Exception as error:  # any failure of a third-party search
        raise OptionError(f"the path optimizer {name!r} failed: {error!r}") from error
    if not isinstance(path, Sequence) or isinstance(path, (str, bytes)):
        raise OptionError(
            f"the path optimizer {name!r} returned a {type(path).__name__}, not a path "
            "(a list of tuples of operand positions)"
        )
    try:
        return _explicit_path(path, len(inputs))
    except PathError as error:
        raise OptionError(f"the path optimizer {name!r} returned a bad path: {error}") from error


def _explicit_path(path: Any, num_operands: int) -> LinearPath:
    """Check a linear path (opt_einsum's convention) and return it as tuples of ints.

    >>> _explicit_path(["einsum_path", (0, 1), [1, 0]], 3)
    [(0, 1), (1, 0)]
    >>> _explicit_path([(0, 1)], 3)
    Traceback (most recent call last):
    ...
    einsql.errors.PathError: the path [(0, 1)] leaves 2 operands uncontracted; a path must
    contract every operand into one
    """
    entries = _path_entries(path)
    live = num_operands
    checked = []
    for entry in entries:
        positions = _positions(entry)
        if not positions or len(set(positions)) != len(positions):
            raise PathError(f"path entry {entry!r} must name distinct operand positions")
        if min(positions) < 0 or max(positions) >= live:
            raise PathError(
                f"path entry {entry!r} names a position outside 0..{live - 1} "
                f"(there are {live} operands at that point)"
            )
        live -= len(positions) - 1
        checked.append(positions)
    if live != 1:
        raise PathError(
            f"the path {reprlib.repr(path)} leaves {live} operands uncontracted; "
            "a path must contract every operand into one"
        )
    return checked


def _path_entries(path: Any) -> list[Any]:
    """The entries of an explicit path (without NumPy's leading ``"einsum_path"``)."""
    if callable(path):
        raise OptionError(
            f"optimize={path!r} is callable but no opt_einsum PathOptimizer; subclass "
            "opt_einsum.paths.PathOptimizer or register it with opt_einsum.paths.register_path_fn"
        )
    if not isinstance(path, Sequence) or isinstance(path, (str, bytes)):
        raise OptionError(
            f"optimize must be a strategy name ({', '.join(strategies())}), an opt_einsum "
            f"PathOptimizer, or an explicit path (a list of tuples of operand positions), "
            f"not {type(path).__name__}"
        )
    entries = list(path)
    numpy_path = entries and isinstance(entries[0], str) and entries[0] == "einsum_path"
    return entries[1:] if numpy_path else entries


def _positions(entry: Any) -> tuple[int, ...]:
    """The operand positions of one path entry: a sequence of integers."""
    try:
        if isinstance(entry, (str, bytes)):
            raise TypeError("a string")
        return tuple(map(operator.index, entry))
    except TypeError as error:
        raise PathError(
            f"path entry {entry!r} must be a tuple of operand positions (integers)"
        ) from error


class _PlanBuilder:
    """Replays a path in opt_einsum's convention, writing SSA steps."""

    def __init__(self, equation: Equation) -> None:
        self.equation = equation
        self.live: list[int] = list(range(len(equation.inputs)))
        self.holders = Counter(lb for labels in equation.inputs for lb in set(labels))
        self.labels: dict[int, str] = dict(enumerate(equation.inputs))
        self.steps: list[Step] = []
        self.unread: set[int] = set(self.live)
        self.output = set(equation.output)

    def sum_local_labels(self) -> None:
        """Sum labels that occur in one operand only before any join (as NumPy does)."""
        output = self.output
        local = {lb for lb, count in self.holders.items() if count == 1 and lb not in output}
        if not local:
            return
        for position, value in enumerate(self.live):
            labels = self.labels[value]
            if not local.isdisjoint(labels):
                kept = "".join([lb for lb in dict.fromkeys(labels) if lb not in local])
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
        """Contract the live values at ``positions``: binary steps from left to right."""
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
        inputs = tuple([self.labels[a] for a in args])
        holders = self.holders
        for read in inputs:  # the values read here no longer hold their labels
            for lb in set(read):
                holders[lb] -= 1
        output = self._output_labels(inputs, later) if output is None else output
        for lb in set(output):
            holders[lb] += 1
        size_of = self.equation.size_of.__getitem__
        labels = set("".join(inputs))
        flops = _flops(labels, not labels <= set(output), len(args), size_of)
        step = Step(args, inputs, output, flops, math.prod(map(size_of, output)))
        value = len(self.equation.inputs) + len(self.steps)
        _check_step(step, self.unread, value)
        self.steps.append(step)
        self.labels[value] = output
        return value

    def _output_labels(self, inputs: tuple[str, ...], later: Sequence[int]) -> str:
        """The labels a step keeps: the output's, and those another value still holds."""
        if not self.live and not later:
            return self.equation.output
        output, holders = self.output, self.holders
        return "".join([lb for lb in dict.fromkeys("".join(inputs)) if lb in output or holders[lb]])


def _flops(labels: set[str], summed: bool, terms: int, size_of: Callable[[str], int]) -> int:
    """opt_einsum's FLOP estimate of a step (``opt_einsum.helpers.flop_count``).

    >>> _flops({"i", "j", "k"}, True, 2, {"i": 2, "j": 3, "k": 4}.__getitem__)
    48
    """
    return math.prod(map(size_of, labels)) * (max(1, terms - 1) + summed)


def _check_step(step: Step, unread: set[int], value: int) -> None:
    """Assert the invariant of a step that writes ``value``.

    As in JAX's einsum lowering, each kind of step is an explicit case and
    anything else raises: a unary step (a permutation, diagonal or sum) keeps
    a subset of its value's labels, a binary step (a join) a subset of the
    union of both, and every value is read exactly once (``unread`` holds the
    values written and not yet read).

    >>> _check_step(Step((0, 1), ("ij", "jk"), "ik", 48, 8), {0, 1}, 2)
    >>> _check_step(Step((0, 1, 2), ("i", "i", "i"), "", 9, 1), {0, 1, 2}, 3)
    Traceback (most recent call last):
    ...
    AssertionError: step i,i,i-> reads 3 values; a step is unary or binary
    """
    if len(step.args) == 1:  # unary: one value's labels, permuted, on a diagonal or summed
        (only,) = step.inputs
        assert set(step.output) <= set(only), f"step {step.equation} invents labels"
    elif len(step.args) == 2:  # binary: a join, keeping labels of either value
        left, right = step.inputs
        assert set(step.output) <= set(left) | set(right), f"step {step.equation} invents labels"
    else:
        raise AssertionError(
            f"step {step.equation} reads {len(step.args)} values; a step is unary or binary"
        )
    for arg in step.args:
        assert arg in unread, f"step {step.equation} reads value {arg}, unwritten or read before"
        unread.remove(arg)
    unread.add(value)
