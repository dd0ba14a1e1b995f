"""Kept plans: a repeated einsum is not planned again, and no plan serves another input."""

from __future__ import annotations

import numpy as np
import opt_einsum
import pytest
from conftest import assert_matches
from opt_einsum.paths import DynamicProgramming

import einsql
from einsql import planner
from einsql.equation import parse
from einsql.planner import PLAN_CACHE_SIZE, clear_plans, make_plan


def test_the_same_input_gets_the_same_plan_object() -> None:
    clear_plans()
    shapes = [(2, 3), (3, 4), (4, 5)]
    first = make_plan(parse("ij,jk,kl->il", shapes), "auto", nnz=[6, 12, 20])
    assert make_plan(parse("ij,jk,kl->il", shapes), "auto", nnz=[6, 12, 20]) is first


@pytest.mark.parametrize(
    "change",
    [
        {"shapes": [(2, 3), (3, 4), (4, 6)]},
        {"subscripts": "ij,jk,kl->li"},
        {"nnz": [6, 12, 19]},
        {"optimize": "greedy"},
        {"semiring": "min-plus"},
        {"local_sums": False},
    ],
)
def test_a_different_input_is_planned_again(change) -> None:
    base = {
        "subscripts": "ij,jk,kl->il",
        "shapes": [(2, 3), (3, 4), (4, 5)],
        "nnz": [6, 12, 20],
        "optimize": "auto",
        "semiring": "sum-product",
        "local_sums": True,
    }

    def planned(args):
        equation = parse(args["subscripts"], args["shapes"])
        return make_plan(
            equation, args["optimize"], args["semiring"], args["nnz"], args["local_sums"]
        )

    changed = planned({**base, **change})
    assert changed is not planned(base)
    assert changed == planned({**base, **change})
    uncached = planner._make_plan(  # what the cache returned is what planning gives
        parse(base["subscripts"], base["shapes"]), "auto", "sum-product", [6, 12, 20], True
    )
    assert planned(base) == uncached


@pytest.mark.parametrize(
    "optimize", ["random-greedy", "auto-hq", DynamicProgramming(), [(0, 1), (0, 1)]]
)
def test_sampling_strategies_optimizer_objects_and_paths_are_not_kept(optimize) -> None:
    equation = parse("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)])
    assert make_plan(equation, optimize) is not make_plan(equation, optimize)


def test_a_name_given_another_function_is_planned_with_it() -> None:
    equation = parse("ab,bc,cd->ad", [(2, 2), (2, 2), (2, 2)])
    saved = opt_einsum.paths._PATH_OPTIONS["greedy"]
    calls = []

    def right_first(inputs, output, sizes, memory_limit=None):
        calls.append(len(inputs))
        return [(1, 2), (0, 1)]

    try:
        before = make_plan(equation, "greedy")
        opt_einsum.paths._PATH_OPTIONS["greedy"] = right_first  # the registry, changed in place
        after = make_plan(equation, "greedy")
        assert calls == [3] and after.path == ((1, 2), (0, 1)) and after is not before
    finally:
        opt_einsum.paths._PATH_OPTIONS["greedy"] = saved
    assert make_plan(equation, "greedy") is before


def test_the_least_recently_used_plan_goes_first() -> None:
    clear_plans()
    kept = make_plan(parse("i->", [(1,)]), "greedy")
    for n in range(2, PLAN_CACHE_SIZE + 1):
        make_plan(parse("i->", [(n,)]), "greedy")
        assert make_plan(parse("i->", [(1,)]), "greedy") is kept  # used: kept
    make_plan(parse("i->", [(PLAN_CACHE_SIZE + 1,)]), "greedy")
    assert len(planner._PLANS) == PLAN_CACHE_SIZE
    assert make_plan(parse("i->", [(2,)]), "greedy") is not None  # planned again
    assert make_plan(parse("i->", [(1,)]), "greedy") is kept


DTYPES = ["float64", "int64", "complex128", "float32", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_calls_with_new_shapes_dtypes_and_values_match_numpy(dtype, db) -> None:
    rng = np.random.default_rng(11)
    subscripts = "ab,bc,cd->ad"
    for shapes in [[(2, 3), (3, 4), (4, 2)]] * 3 + [[(3, 2), (2, 2), (2, 5)], [(1, 1)] * 3]:
        arrays = [(rng.normal(size=s) * (rng.random(s) < 0.7) * 4).astype(dtype) for s in shapes]
        expected = np.einsum(subscripts, *arrays)
        for optimize in ("auto", "greedy", True):
            result = einsql.einsum(subscripts, *arrays, con=db.con, optimize=optimize)
            assert result.dtype == expected.dtype
            assert_matches(result, expected)
    assert db.leftovers() == []
