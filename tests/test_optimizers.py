"""Path optimizers: every name in opt_einsum's registry, any ``PathOptimizer``, bad options.

``optimize=`` takes a name from opt_einsum's registry (read when used, so the
names cotengra registers on import count too), einsql's ``"sparse"``, any
opt_einsum ``PathOptimizer`` (cotengra's ``HyperOptimizer`` among them) or an
explicit path. Named strategies must choose exactly the path
``opt_einsum.contract_path`` chooses (golden SQL depends on it), and every
plan must keep its invariant: unary or binary steps, each value read once.

The generated-equation tests run ``EINSQL_OPTIMIZER_EXAMPLES`` examples per
strategy and database (default 25).
"""

from __future__ import annotations

import csv
import doctest
import functools
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import cotengra
import numpy as np
import opt_einsum
import pytest
from conftest import assert_matches, random_operand
from equations import EQUATIONS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opt_einsum.paths import PathOptimizer

import einsql
from einsql.equation import parse
from einsql.planner import Plan, Step, _check_step, make_plan, strategies

#: Every registered name, cotengra's included (importing cotengra registers them).
REGISTRY = sorted(opt_einsum.paths._PATH_OPTIONS)

#: Names whose path depends on nothing but the equation (no random search).
DETERMINISTIC = [
    "auto",
    "auto-hq",
    "optimal",
    "branch-all",
    "branch-2",
    "branch-1",
    "greedy",
    "eager",
    "opportunistic",
    "dp",
    "dynamic-programming",
]

#: A network with a hyperedge (``a``), enough operands for every search to run.
NETWORK = ("ab,ac,ad,bcd,de->e", [(2, 3), (2, 4), (2, 2), (3, 4, 2), (2, 5)])

EXAMPLES = int(os.environ.get("EINSQL_OPTIMIZER_EXAMPLES", 25))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def hyper_optimizer() -> Any:
    """A small cotengra search (no kahypar needed, no progress bar)."""
    return cotengra.HyperOptimizer(max_repeats=4, methods=["greedy", "labels"], progbar=False)


def arrays_for(shapes: list[tuple[int, ...]], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [random_operand(shape, "float64", 0.7, rng) for shape in shapes]


@functools.cache
def opt_einsum_accepts(name: str) -> bool:
    """Whether opt_einsum itself finds a path for :data:`NETWORK` with ``name``."""
    equation, shapes = NETWORK
    try:
        opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=name)
    except Exception:
        return False
    return True


# --- any PathOptimizer, cotengra's first --------------------------------------------------


def test_cotengra_hyper_optimizer_matches_numpy(duck) -> None:
    equation, shapes = NETWORK
    arrays = arrays_for(shapes)
    result = einsql.einsum(equation, *arrays, con=duck, optimize=hyper_optimizer())
    assert_matches(result, np.einsum(equation, *arrays))


def test_cotengra_hyper_optimizer_on_every_database(db) -> None:
    equation, shapes = "ij,jk,kl,lm,mi->", [(2, 3), (3, 4), (4, 2), (2, 3), (3, 2)]
    arrays = arrays_for(shapes, 1)
    result = einsql.einsum(equation, *arrays, con=db.con, optimize=hyper_optimizer())
    assert_matches(result, np.einsum(equation, *arrays))
    assert db.leftovers() == []


def test_the_plan_names_the_optimizer_class() -> None:
    equation, shapes = NETWORK
    assert einsql.plan(equation, *arrays_for(shapes), optimize=hyper_optimizer()).optimize == (
        "HyperOptimizer"
    )
    assert einsql.plan(equation, *arrays_for(shapes), optimize="branch-1").optimize == "branch-1"
    assert einsql.plan(equation, *arrays_for(shapes), optimize=[(0, 1)] * 4).optimize == "explicit"


class LastTwo(PathOptimizer):
    """Always contracts the last two operands; records how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(
        self,
        inputs: list[frozenset[str]],
        output: frozenset[str],
        size_dict: dict[str, int],
        memory_limit: int | None = None,
    ) -> list[tuple[int, int]]:
        self.calls.append((inputs, output, size_dict, memory_limit))
        return [(len(inputs) - 2 - k, len(inputs) - 1 - k) for k in range(len(inputs) - 1)]


def test_a_custom_path_optimizer_is_followed(db) -> None:
    equation, shapes = NETWORK
    arrays = arrays_for(shapes, 2)
    optimizer = LastTwo()
    assert_matches(
        einsql.einsum(equation, *arrays, con=db.con, optimize=optimizer),
        np.einsum(equation, *arrays),
    )
    plan = einsql.plan(equation, *arrays, optimize=optimizer)
    assert plan.optimize == "LastTwo"
    assert plan.steps[0].args == (3, 4)  # the last two operands first


def test_an_optimizer_is_called_as_contract_path_calls_it() -> None:
    equation, shapes = NETWORK
    ours, theirs = LastTwo(), LastTwo()
    einsql.plan(equation, *[einsql.Table(f"t{k}", s) for k, s in enumerate(shapes)], optimize=ours)
    opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=theirs)
    assert ours.calls == theirs.calls
    assert list(ours.calls[0][2]) == list(theirs.calls[0][2])  # sizes in the same order


# --- every registered name -----------------------------------------------------------------


def test_strategies_are_opt_einsums_registry_and_sparse() -> None:
    assert set(strategies()) == {*REGISTRY, "sparse"}
    assert {"auto-hq", "branch-1", "dynamic-programming", "random-greedy-128"} <= set(REGISTRY)


@pytest.mark.filterwarnings("ignore:Couldn't import `kahypar`:UserWarning")
@pytest.mark.parametrize("name", REGISTRY)
def test_every_registered_name_matches_numpy_or_fails_as_in_opt_einsum(name, db) -> None:
    equation, shapes = NETWORK
    arrays = arrays_for(shapes, 3)
    if not opt_einsum_accepts(name):  # some names cotengra registers need kahypar or binaries
        with pytest.raises(einsql.OptionError, match=f"path optimizer '{name}' failed"):
            einsql.einsum(equation, *arrays, con=db.con, optimize=name)
        assert db.leftovers() == []
        return
    result = einsql.einsum(equation, *arrays, con=db.con, optimize=name)
    assert_matches(result, np.einsum(equation, *arrays))


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize(
    ("equation", "shapes"), [e for e in EQUATIONS if e[0].count(",") >= 2], ids=str
)
def test_a_name_chooses_the_path_contract_path_chooses(name, equation, shapes) -> None:
    parsed = parse(equation, shapes)
    subscripts = ",".join(parsed.inputs) + "->" + "".join(dict.fromkeys(parsed.output))
    sizes = [tuple(max(1, parsed.size_of[c]) for c in labels) for labels in parsed.inputs]
    path, _ = opt_einsum.contract_path(subscripts, *sizes, shapes=True, optimize=name)
    ours = make_plan(parsed, name, local_sums=False)
    assert ours.steps == make_plan(parsed, list(path), local_sums=False).steps
    assert ours.optimize == name


def test_the_thousand_operand_chain_plans_as_contract_path_does() -> None:
    symbols = [opt_einsum.get_symbol(k) for k in range(1001)]
    equation = ",".join(symbols[k] + symbols[k + 1] for k in range(1000))
    equation += f"->{symbols[0]}{symbols[-1]}"
    shapes = [(3, 3)] * 1000
    path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True)
    parsed = parse(equation, shapes)
    assert make_plan(parsed).steps == make_plan(parsed, list(path)).steps


# --- generated equations, a few strategies ---------------------------------------------------


@st.composite
def networks(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    """Three to six operands over six labels: hyperedges, diagonals, outer products."""
    labels = "abcdef"
    sizes = {c: draw(st.integers(1, 3)) for c in labels}
    terms = draw(st.lists(st.text(labels, min_size=0, max_size=3), min_size=3, max_size=6))
    used = sorted(set("".join(terms)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, min(3, len(used))))])
    dtype = draw(st.sampled_from(["float64", "int64"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    arrays = [
        random_operand(tuple(sizes[c] for c in term), dtype, draw(st.sampled_from([0.3, 1.0])), rng)
        for term in terms
    ]
    return ",".join(terms) + "->" + output, arrays


@pytest.mark.parametrize("name", ["auto-hq", "branch-1", "dynamic-programming", "cotengra"])
def test_generated_networks_match_numpy(name, db) -> None:
    @SETTINGS
    @given(networks())
    def run(case: tuple[str, list[np.ndarray]]) -> None:
        equation, arrays = case
        optimize = hyper_optimizer() if name == "cotengra" else name
        result = einsql.einsum(equation, *arrays, con=db.con, optimize=optimize)
        assert_matches(result, np.einsum(equation, *arrays))

    run()


# --- plan invariants ----------------------------------------------------------------------


def assert_ssa(plan: Plan) -> None:
    """Unary or binary steps; every value but the result read exactly once."""
    reads = Counter(arg for step in plan.steps for arg in step.args)
    assert all(len(step.args) in (1, 2) for step in plan.steps)
    assert reads == Counter(range(plan.result))
    for step in plan.steps:
        assert set(step.output) <= set("".join(step.inputs))


@pytest.mark.parametrize("name", ["auto", "greedy", "optimal", "sparse", "branch-1"])
def test_every_plan_keeps_the_step_invariant(name) -> None:
    for equation, shapes in EQUATIONS:
        assert_ssa(make_plan(parse(equation, shapes), name, nnz=[3] * len(shapes)))
    assert_ssa(make_plan(parse(*NETWORK), [(0, 1, 2, 3, 4)]))  # one entry, split into four joins


def test_a_step_that_breaks_the_invariant_raises() -> None:
    with pytest.raises(AssertionError, match="unary or binary"):
        _check_step(Step((0, 1, 2), ("i", "i", "i"), "", 9, 1), {0, 1, 2}, 3)
    with pytest.raises(AssertionError, match="invents labels"):
        _check_step(Step((0,), ("ij",), "ik", 6, 6), {0}, 1)
    with pytest.raises(AssertionError, match="invents labels"):
        _check_step(Step((0, 1), ("ij", "jk"), "il", 6, 6), {0, 1}, 2)
    with pytest.raises(AssertionError, match="read before"):
        _check_step(Step((0, 0), ("ij", "ij"), "ij", 6, 6), {0, 1}, 2)


# --- bad options -----------------------------------------------------------------------------


class Raises(PathOptimizer):
    def __call__(self, *args: Any) -> Any:
        raise RuntimeError("the search blew up")


class Returns(PathOptimizer):
    def __init__(self, path: Any) -> None:
        self.path = path

    def __call__(self, *args: Any) -> Any:
        return self.path


def test_an_unknown_name_lists_every_valid_one() -> None:
    with pytest.raises(einsql.OptionError, match="unknown optimize strategy 'fastest'") as info:
        einsql.plan(*NETWORK[:1], *arrays_for(NETWORK[1]), optimize="fastest")
    for name in [*REGISTRY, "sparse", "PathOptimizer", "explicit path"]:
        assert name in str(info.value)


def test_names_are_exact() -> None:
    with pytest.raises(einsql.OptionError, match="unknown optimize strategy 'Greedy'"):
        einsql.plan("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4)), optimize="Greedy")


@pytest.mark.parametrize(
    ("optimize", "words"),
    [
        (3, "not int"),
        (("greedy", 1.5), "memory limit that is a non-negative integer"),
        ({"greedy": 1}, "not dict"),
        (object(), "not object"),
        (b"greedy", "not bytes"),
        (opt_einsum.paths.greedy, "callable but no opt_einsum PathOptimizer"),
        ([(0, "1")], "must be a tuple of operand positions"),
        ([(0, 1.0)], "must be a tuple of operand positions"),
        (["01"], "must be a tuple of operand positions"),
        ([3], "must be a tuple of operand positions"),
    ],
    ids=repr,
)
def test_an_object_of_a_wrong_type_is_refused(optimize, words, duck) -> None:
    arrays = arrays_for(NETWORK[1])
    with pytest.raises(einsql.OptionError, match=words):
        einsql.einsum(NETWORK[0], *arrays, con=duck, optimize=optimize)


@pytest.mark.parametrize(
    ("optimizer", "words"),
    [
        (Raises(), "path optimizer 'Raises' failed: RuntimeError"),
        (Returns(None), "'Returns' returned a NoneType, not a path"),
        (Returns("greedy"), "'Returns' returned a str, not a path"),
        (Returns([(0, 7)]), "'Returns' returned a bad path: path entry \\(0, 7\\)"),
        (Returns([(0, 1)]), "'Returns' returned a bad path: the path \\[\\(0, 1\\)\\] leaves 4"),
        (Returns([(0, 0)] * 4), "'Returns' returned a bad path: .* distinct"),
        (Returns([("a", "b")] * 4), "'Returns' returned a bad path: .* operand positions"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_a_broken_optimizer_is_named(optimizer, words, db) -> None:
    arrays = arrays_for(NETWORK[1])
    with pytest.raises(einsql.OptionError, match=words):
        einsql.einsum(NETWORK[0], *arrays, con=db.con, optimize=optimizer)
    assert db.leftovers() == []


# --- the compile-speed benchmark -------------------------------------------------------------


def test_the_compile_benchmark_runs_alone(tmp_path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import compile_speed
    import runner

    assert doctest.testmod(compile_speed).failed == 0
    runner.main(["--only", "compile", "--quick", "--repeat", "1", "--out", str(tmp_path)])
    with open(tmp_path / "compile.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["measured"] for r in rows] == list(compile_speed.systems(2))
    assert all(float(r["seconds"]) > 0 and r["peer"] == compile_speed.PEER for r in rows)
    assert not (tmp_path / "runner.csv").exists()  # no workload ran
