"""Summing in the client (``aggregate=``): the last step's products fetched and summed in NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import assert_matches
from hypothesis import given, settings
from hypothesis import strategies as st

import einsql
from einsql.api import prepare, sums_in_client
from einsql.convention import Relation
from einsql.dialect import load_dialect
from einsql.duplicates import combine_duplicates
from einsql.equation import parse
from einsql.lower import Layout, lower
from einsql.planner import make_plan
from einsql.semiring import SEMIRINGS

RINGS = sorted(SEMIRINGS)
PLUS = {name: ring.client_plus for name, ring in SEMIRINGS.items()}


def brute_sums(rows: dict[str, np.ndarray], rank: int, plus: np.ufunc) -> dict[tuple, list]:
    """Each index tuple's values summed one at a time, in a dictionary."""
    names = list(rows)
    sums: dict[tuple, list] = {}
    for r in range(len(rows[names[-1]])):
        key = tuple(int(rows[n][r]) for n in names[:rank])
        values = [rows[n][r] for n in names[rank:]]
        sums[key] = values if key not in sums else [plus(a, b) for a, b in zip(sums[key], values)]
    return sums


@st.composite
def fetched_rows(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], tuple[int, ...], str]:
    """Rows as a join yields them: index tuples that repeat, values of a semiring."""
    ring = draw(st.sampled_from(RINGS))
    if draw(st.integers(0, 4)) == 0:  # keys and positions past 63 bits: the argsort path
        shape: tuple[int, ...] = (2**31, 3**19)[: draw(st.integers(1, 2))]
    else:
        shape = tuple(draw(st.sampled_from([1, 2, 3, 5])) for _ in range(draw(st.integers(0, 3))))
    count = draw(st.integers(0, 40))
    distinct = draw(st.integers(1, 6))
    keys = [tuple(draw(st.integers(0, s - 1)) for s in shape) for _ in range(distinct)]
    picked = [keys[draw(st.integers(0, distinct - 1))] for _ in range(count)]
    rows = {
        f"i{k}": np.array([key[k] for key in picked], dtype=np.int64) for k in range(len(shape))
    }
    if ring == "or-and":
        rows["val"] = np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)), bool)
    else:
        floats = st.floats(-8, 8, allow_nan=False).map(lambda x: round(x, 2))
        rows["val"] = np.array(draw(st.lists(floats, min_size=count, max_size=count)), float)
    return rows, shape, ring


@settings(max_examples=300, deadline=None)
@given(fetched_rows())
def test_combined_rows_are_each_index_tuples_sum(case) -> None:
    rows, shape, ring = case
    plus = PLUS[ring]
    combined = combine_duplicates(rows, shape, plus)
    rank = len(shape)
    want = brute_sums(rows, rank, plus)
    names = list(rows)
    got_keys = [
        tuple(int(combined[n][r]) for n in names[:rank]) for r in range(len(combined["val"]))
    ]
    assert got_keys == sorted(got_keys) and set(got_keys) <= set(want), "once each, row-major"
    left_out = set(want) - set(got_keys)  # a float sum scattered densely may drop an exact 0
    assert all(plus is np.add and want[key][0] == 0 for key in left_out)
    for r, key in enumerate(got_keys):
        np.testing.assert_allclose(combined["val"][r], want[key][0], rtol=1e-12, atol=1e-12)


def test_complex_and_exact_integer_values_are_summed_column_by_column() -> None:
    rows = {
        "i0": np.array([1, 0, 1, 1]),
        "val_re": np.array([1.0, 2.0, 3.0, 4.0]),
        "val_im": np.array([-1.0, 0.5, 0.25, 2.0]),
    }
    combined = combine_duplicates(rows, (2,), np.add)
    assert combined["i0"].tolist() == [0, 1]
    assert combined["val_re"].tolist() == [2.0, 8.0] and combined["val_im"].tolist() == [0.5, 1.25]
    big = {"i0": np.array([0, 0]), "val": np.array([2**62, 2**62 - 1], dtype=object)}
    assert combine_duplicates(big, (1,), np.add)["val"].tolist() == [2**63 - 1]


def random_operands(ring: str, shapes, density: float, rng: np.random.Generator):
    arrays = []
    for shape in shapes:
        mask = rng.random(shape) < density
        if ring == "or-and":
            arrays.append(mask)
            continue
        values = rng.integers(1, 9, size=shape).astype(float)  # exact sums in any order
        arrays.append(np.where(mask, values, SEMIRINGS[ring].zero))
    return arrays


CASES = [
    ("ij,jk->ik", [(6, 7), (7, 5)]),
    ("ijk,jl,kl->il", [(4, 3, 5), (3, 6), (5, 6)]),
    ("ij,ij->", [(5, 4), (5, 4)]),
    ("iij,jk->ki", [(4, 4, 3), (3, 6)]),
    ("i,j,ij->j", [(3,), (5,), (3, 5)]),
]


@pytest.mark.spark
@pytest.mark.parametrize("ring", RINGS)
@pytest.mark.parametrize(("equation", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_client_sums_match_the_database_in_every_semiring(db, equation, shapes, ring) -> None:
    arrays = random_operands(ring, shapes, 0.6, np.random.default_rng(len(equation)))
    want = einsql.einsum(equation, *arrays, semiring=ring, backend="numpy")
    for aggregate in ("client", "database"):
        got = einsql.einsum(equation, *arrays, con=db.con, semiring=ring, aggregate=aggregate)
        if ring == "log-sum-exp":  # rounding depends on the order of the terms
            np.testing.assert_allclose(got, want, rtol=1e-13)
        else:  # small integers: exact in any order
            np.testing.assert_array_equal(got, want)
    assert db.leftovers() == []


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint16", "complex128", "float32", "bool"])
def test_client_sums_keep_numpys_dtypes(db, dtype) -> None:
    rng = np.random.default_rng(3)
    a = (rng.integers(-3, 4, size=(5, 6)) * (rng.random((5, 6)) < 0.5)).astype(dtype)
    b = (rng.integers(-3, 4, size=(6, 4)) * (rng.random((6, 4)) < 0.5)).astype(dtype)
    if dtype == "complex128":
        a = a + 1j * a[:, ::-1]
    got = einsql.einsum("ij,jk->ik", a, b, con=db.con, aggregate="client")
    assert_matches(got, np.einsum("ij,jk->ik", a, b))


def lowered(equation: str, shapes, kind: str, nonfinite: bool = False, bound: int | None = 9):
    plan = make_plan(parse(equation, shapes))
    relations = [
        Relation(f"t{k}", tuple(f"i{a}" for a in range(len(s))), ("val",), kind, bound=bound)
        for k, s in enumerate(shapes)
    ]
    layout = Layout(client_sum=True)
    return lower(plan, relations, kind, load_dialect("duckdb"), layout=layout, nonfinite=nonfinite)


def test_the_last_step_joins_without_grouping_only_where_the_client_can_sum() -> None:
    shapes = [(3, 4), (4, 5)]
    chosen = lowered("ij,jk->ik", shapes, "float")
    assert chosen.duplicates and "GROUP BY" not in chosen.render(load_dialect("duckdb"))
    for program in (
        lowered("ij,jk->ik", shapes, "float", nonfinite=True),  # inf * 0 terms are SQL's
        lowered("ij,jk->ik", shapes, "int", bound=None),  # a table's integers: unbounded
        lowered("ij,jk->ik", shapes, "int", bound=2**40),  # 2**80 * 4 leaves int64
        lowered("ij,jk->ijk", shapes, "float"),  # nothing to sum
    ):
        assert not program.duplicates
    assert lowered("ij,jk->ik", shapes, "int").duplicates
    staged = lower(
        make_plan(parse("ij,jk,kl,lm->im", [(3, 4), (4, 5), (5, 6), (6, 2)])),
        [Relation(f"t{k}", ("i0", "i1"), ("val",), "float") for k in range(4)],
        "float",
        load_dialect("duckdb"),
        layout=Layout(client_sum=True, staged=True, max_statement_steps=1),
    )
    assert staged.duplicates
    assert "GROUP BY" not in load_dialect("duckdb").render(staged.setup[-2])


def test_unbounded_integer_tables_and_non_finite_values_are_summed_exactly(db) -> None:
    ints = np.array([[2**30, 1], [2**30, 3]], dtype=np.int64)
    table = einsql.einsum("ij->ij", ints, con=db.con, into="__client_ints")
    try:  # a table's integers are unbounded: summed exactly in the database
        got = einsql.einsum("ij,jk->ik", table, table, con=db.con, aggregate="client")
    finally:
        db.drop("__client_ints")
    assert_matches(got, np.einsum("ij,jk->ik", ints, ints))
    a = np.array([[np.inf, 0.0], [1.0, 2.0]])
    got = einsql.einsum("ij,jk->ik", a, a, con=db.con, aggregate="client")
    assert_matches(got, np.einsum("ij,jk->ik", a, a))


def test_auto_sums_large_sparse_products_in_the_client_on_duckdb_only() -> None:
    big = sp.random(5_000, 5_000, density=0.004, random_state=0, format="coo")
    tiny = sp.random(50, 50, density=0.05, random_state=0, format="coo")
    tall = sp.random(200, 20_000, density=0.1, random_state=0, format="coo")
    duckdb, postgres = load_dialect("duckdb"), load_dialect("postgres")
    assert sums_in_client(prepare(["ij,jk->ik", big, big]), duckdb)
    assert not sums_in_client(prepare(["ij,jk->ik", big, big]), postgres)
    assert not sums_in_client(prepare(["ij,jk->ik", tiny, tiny]), duckdb)  # too few products
    assert not sums_in_client(prepare(["ij,kj->ik", tall, tall]), duckdb)  # 200 products a cell
    assert not sums_in_client(prepare(["ij,jk->ik", big, big]), duckdb, "database")
    assert sums_in_client(prepare(["ij,jk->ik", tiny, tiny]), postgres, "client")
    unknown = einsql.Table("t", (5_000, 5_000))
    assert not sums_in_client(prepare(["ij,jk->ik", unknown, big]), duckdb)  # nnz unknown


def test_explain_says_where_the_last_step_sums() -> None:
    big = sp.random(5_000, 5_000, density=0.004, random_state=0, format="coo")
    assert "sums in the client: about 2e+06 products" in str(einsql.explain("ij,jk->ik", big, big))
    text = str(einsql.explain("ij,jk->ik", big, big, backend="sqlite"))
    assert "sums in the database" in text


def test_a_large_product_summed_in_the_client_matches_scipy() -> None:
    a = sp.random(3_000, 2_000, density=0.01, random_state=1, format="csr")
    b = sp.random(2_000, 3_000, density=0.01, random_state=2, format="csr")
    prepared = prepare(["ij,jk->ik", a, b])
    assert sums_in_client(prepared, load_dialect("duckdb"))
    got = einsql.einsum("ij,jk->ik", a, b, out="coo")
    want = (a @ b).tocoo()
    assert got.nnz == want.nnz and got.coords.flags.f_contiguous
    dense = np.zeros(want.shape)
    dense[want.row, want.col] = want.data
    np.testing.assert_allclose(got.todense(), dense, rtol=1e-12)


def test_aggregate_is_checked_and_into_sums_in_the_database(duck) -> None:
    with pytest.raises(einsql.OptionError, match="aggregate= is one of"):
        einsql.einsum("ij,jk->ik", np.eye(2), np.eye(2), aggregate="numpy")
    a = np.arange(6.0).reshape(2, 3)
    stored = einsql.einsum("ij,kj->ik", a, a, con=duck, into="__client_into", aggregate="client")
    try:
        got = einsql.einsum("ij->ij", stored, con=duck)
    finally:
        duck.execute('DROP TABLE "__client_into"')
    np.testing.assert_array_equal(got, a @ a.T)


def test_row_counts_are_the_models_terms() -> None:
    """The model the choice rests on: products of ij,jk->ik are nnz_a * nnz_b / n."""
    a = sp.random(400, 300, density=0.05, random_state=0, format="coo")
    prepared = prepare(["ij,jk->ik", a, a.T])
    products, nonzeros = prepared.plan.estimated_rows([a.nnz, a.nnz])[-1]
    assert products == pytest.approx(a.nnz * a.nnz / 300)
    assert nonzeros == pytest.approx(400 * 400 * -math.expm1(-products / 400**2))
    join = sp.csr_matrix(a) @ sp.csr_matrix(a.T)
    assert 0.8 < join.nnz / nonzeros < 1.2


@pytest.mark.parametrize("ring", ["min-plus", "max-plus", "max-product", "log-sum-exp"])
def test_nan_in_any_semiring_is_summed_where_the_database_sums(db, ring) -> None:
    """NumPy's ufuncs carry NaN where SQL's MIN and MAX may skip it: the database decides."""
    a, b = np.array([[np.nan, 1.0], [0.5, 2.0]]), np.array([[1.0, 3.0], [2.0, 0.25]])
    want = einsql.einsum("ij,jk->ik", a, b, con=db.con, semiring=ring, aggregate="database")
    got = einsql.einsum("ij,jk->ik", a, b, con=db.con, semiring=ring, aggregate="client")
    np.testing.assert_array_equal(got, want)


def test_explain_names_a_backend_without_connecting_to_it() -> None:
    a = np.ones((3, 3))
    assert einsql.explain("ij,jk->ik", a, a, backend="numpy").aggregation == ""
    assert (
        "sums in the database" in einsql.explain("ij,jk->ik", a, a, backend="postgres").aggregation
    )


def test_auto_fetches_no_more_products_than_a_dense_result_may_take(monkeypatch) -> None:
    a = sp.random(2_000, 2_000, density=0.02, random_state=0, format="coo")
    prepared = prepare(["ij,jk->ik", a, a])
    products, _ = prepared.plan.estimated_rows([a.nnz, a.nnz])[-1]
    assert sums_in_client(prepared, load_dialect("duckdb"))
    monkeypatch.setattr(einsql.results, "MAX_DENSE_BYTES", int(products * 24) - 1)
    assert not sums_in_client(prepared, load_dialect("duckdb"))
