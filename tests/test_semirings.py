"""Semirings on every backend: the core equation list, paths, sparse inputs, identities."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import assert_matches
from equations import EQUATIONS

import einsql
from einsql.equation import parse
from einsql.planner import Step
from einsql.reference import semiring_step
from einsql.semiring import SEMIRINGS

RINGS = [name for name in SEMIRINGS if name != "sum-product"]


def random_entries(shape, ring: str, density: float, rng: np.random.Generator) -> np.ndarray:
    """Values that make sense in ``ring``, its zero where an entry is missing."""
    mask = rng.random(shape) < density
    if ring == "or-and":
        return mask
    if ring == "max-product":
        values = rng.random(shape)  # probabilities: MAX distributes over * only for x >= 0
    elif ring in ("min-plus", "max-plus"):
        values = rng.integers(0, 9, size=shape).astype(float)  # exact sums
    else:
        values = rng.standard_normal(shape)
    return np.where(mask, values, SEMIRINGS[ring].zero)


def single_step(equation: str, arrays: list[np.ndarray], ring: str) -> np.ndarray:
    """The whole einsum as one step: every label at once, no contraction order."""
    eq = parse(equation, [a.shape for a in arrays])
    step = Step(tuple(range(len(arrays))), eq.inputs, eq.output, 0, 0)
    return semiring_step(step, arrays, SEMIRINGS[ring])


def check(result, expected, ring: str) -> None:
    result, expected = np.asarray(result), np.asarray(expected)
    assert result.shape == expected.shape and result.dtype == expected.dtype
    if ring in ("log-sum-exp", "max-product"):  # rounding depends on the order of products
        np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-12)
    else:  # integer-valued distances and booleans: exact
        np.testing.assert_array_equal(result, expected)


#: The equation list, every fourth equation also on Spark (in every semiring).
CASES = [
    pytest.param(e, s, id=e, marks=[pytest.mark.spark] if k % 4 == 0 else [])
    for k, (e, s) in enumerate(EQUATIONS)
]


@pytest.mark.parametrize("ring", RINGS)
@pytest.mark.parametrize(("equation", "shapes"), CASES)
def test_core_equations_in_every_semiring(equation, shapes, ring, db) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{equation}{shapes}{ring}".encode()))
    arrays = [random_entries(s, ring, 0.6, rng) for s in shapes]
    expected = single_step(equation, arrays, ring)
    check(einsql.einsum(equation, *arrays, semiring=ring, con=db.con), expected, ring)
    check(einsql.einsum(equation, *arrays, semiring=ring, backend="numpy"), expected, ring)
    assert db.leftovers() == []


def test_the_reference_agrees_with_numpy_where_numpy_can_say() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    logs = einsql.einsum("ij,jk->ik", a, b, semiring="log-sum-exp", backend="numpy")
    np.testing.assert_allclose(logs, np.log(np.exp(a) @ np.exp(b)))
    x, y = a > 0, b > 0
    reach = einsql.einsum("ij,jk->ik", x, y, semiring="or-and", backend="numpy")
    assert_matches(reach, np.einsum("ij,jk->ik", x, y))
    brute = np.array(
        [[min(a[i, j] + b[j, k] for j in range(4)) for k in range(5)] for i in range(3)]
    )
    assert_matches(einsql.einsum("ij,jk->ik", a, b, semiring="min-plus", backend="numpy"), brute)


@pytest.mark.parametrize("ring", RINGS)
@pytest.mark.parametrize("optimize", ["greedy", "dp", "optimal", "branch-2"])
def test_every_path_gives_the_single_step_answer(ring, optimize, db) -> None:
    letters = "abcdefgh"
    equation = ",".join(letters[k : k + 2] for k in range(6)) + ",ac,bd->ag"
    rng = np.random.default_rng(zlib.crc32(f"{ring}{optimize}".encode()))
    arrays = [random_entries((3, 3), ring, 0.7, rng) for _ in range(8)]
    result = einsql.einsum(equation, *arrays, semiring=ring, optimize=optimize, con=db.con)
    check(result, single_step(equation, arrays, ring), ring)


def test_sparse_matrices_miss_the_semirings_zero(db) -> None:
    weights = sp.random(30, 30, density=0.1, random_state=3, format="csr")
    weights.data = np.round(weights.data * 10)  # stored zeros are zero-length edges
    stored = weights.tocoo()
    assert (stored.data == 0).any()
    dense = np.full((30, 30), np.inf)
    dense[stored.row, stored.col] = stored.data
    result = einsql.einsum("ij,jk->ik", weights, weights, semiring="min-plus", con=db.con)
    check(result, single_step("ij,jk->ik", [dense, dense], "min-plus"), "min-plus")


def test_results_come_back_with_the_zero_filled_in(db) -> None:
    d = np.array([[0.0, 1.0], [np.inf, 0.0]])
    coo = einsql.einsum("ij,jk->ik", d, d, semiring="min-plus", con=db.con, out="coo")
    assert np.inf not in coo.values and 0.0 in coo.values  # 0 is a distance, inf is missing
    assert np.isinf(einsql.einsum("ij,jk->ik", d, d, semiring="min-plus", con=db.con)[1, 0])


def test_plan_and_sql_name_the_semiring() -> None:
    t = [einsql.Table("a", (3, 3)), einsql.Table("b", (3, 3))]
    assert "min-plus" in einsql.plan("ij,jk->ik", *t, semiring="min-plus").title
    assert "MIN(" in einsql.to_sql("ij,jk->ik", *t, semiring="min-plus")
    assert "OVER (" in einsql.to_sql("ij,jk->ik", *t, semiring="log-sum-exp")
    with pytest.raises(einsql.OptionError, match="unknown semiring 'max-min'; use one of"):
        einsql.einsum("ij->", np.ones((2, 2)), semiring="max-min")


def test_shortest_paths_up_to_k_hops_match_floyd_warshall(db) -> None:
    """All-pairs shortest paths on a road-like grid graph, by repeated min-plus squaring."""
    side = 5
    n = side * side
    rng = np.random.default_rng(4)
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    for r in range(side):
        for c in range(side):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < side and c + dc < side:
                    u, v = r * side + c, (r + dr) * side + c + dc
                    dist[u, v] = dist[v, u] = float(rng.integers(1, 10))
    hops = dist
    for _ in range(4):  # 2**4 = 16 hops >= the grid's diameter of 8
        hops = einsql.einsum("ij,jk->ik", hops, hops, semiring="min-plus", con=db.con)
    floyd = dist.copy()
    for k in range(n):
        floyd = np.minimum(floyd, floyd[:, [k]] + floyd[[k], :])
    np.testing.assert_array_equal(hops, floyd)


def test_a_new_semiring_is_one_record(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """min-times over positive numbers (cheapest product path), added as one record only."""
    from sqlglot import exp

    from einsql.semiring import Semiring, _min

    ring = Semiring("min-times", np.inf, "float", np.multiply, _min, exp.Mul, exp.Min, np.minimum)
    monkeypatch.setitem(SEMIRINGS, ring.name, ring)
    rng = np.random.default_rng(3)
    a, b, c = (np.where(rng.random((4, 4)) < 0.5, rng.uniform(1, 9, (4, 4)), np.inf) for _ in "abc")
    result = einsql.einsum("ij,jk,kl->il", a, b, c, semiring="min-times", con=db.con)
    expected = np.min(a[:, :, None, None] * b[None, :, :, None] * c[None, None, :, :], axis=(1, 2))
    np.testing.assert_allclose(result, expected)
    assert "MIN(" in einsql.to_sql("ij,jk->ik", a, b, semiring="min-times", dialect=db.name)


def test_log_sum_exp_keeps_infinities_and_nan(db) -> None:
    a = np.array([[0.0, np.inf], [1.0, np.nan], [2.0, 3.0], [-np.inf, -np.inf]])
    b = np.array([[0.0, 1.0], [0.5, -2.0]])  # no -inf (the zero) against a +inf
    result = einsql.einsum("ij,jk->ik", a, b, semiring="log-sum-exp", con=db.con)
    with np.errstate(invalid="ignore"):
        expected = np.logaddexp.reduce(a[:, :, None] + b[None, :, :], axis=1)
    np.testing.assert_allclose(result, expected, equal_nan=True)


def test_stored_infinities_in_a_min_plus_table_add_no_nan(db) -> None:
    d = np.array([[0.5, np.inf, 2.0], [1.0, 0.5, np.inf], [np.inf, 4.0, 0.5]])  # no 0: all stored
    table = einsql.einsum("ij->ij", d, con=db.con, into="distances")  # inf rows are stored
    try:
        result = einsql.einsum("ij,jk->ik", table, d, semiring="min-plus", con=db.con)
        np.testing.assert_allclose(result, np.min(d[:, :, None] + d[None, :, :], axis=1))
    finally:
        db.drop("distances")
