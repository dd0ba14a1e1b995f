"""NaN and Inf, operand types, result forms, staged plans, connections and cleanup."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
import scipy.sparse as sp
import sparse
from conftest import assert_matches, leftovers, oracle, random_operand, run_script
from equations import EQUATIONS

import einsql

NONFINITE = [(e, s) for e, s in EQUATIONS if "..." not in e and "->" in e and s and all(s)][::4]


def sprinkle(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = array.astype(float)
    if out.size:
        flat = out.reshape(-1)
        for value in (np.nan, np.inf, -np.inf):
            flat[rng.integers(flat.size)] = value
    return out


@pytest.mark.parametrize(("equation", "shapes"), NONFINITE, ids=[e for e, _ in NONFINITE])
def test_nan_and_inf_propagate_as_in_numpy(equation, shapes, db) -> None:
    rng = np.random.default_rng(3)
    arrays = [sprinkle(random_operand(s, "float64", 0.4, rng), rng) for s in shapes]
    result = einsql.einsum(equation, *arrays, con=db.con)
    reference = einsql.einsum(equation, *arrays, backend="numpy")
    np.testing.assert_allclose(result, reference, rtol=1e-9, equal_nan=True)
    with np.errstate(invalid="ignore"):
        expected = oracle(equation, arrays)
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))


def test_inf_times_a_missing_zero_is_nan(db) -> None:
    a = np.array([[np.inf, 0.0], [0.0, 1.0]])
    b = np.array([[0.0, 0.0], [0.0, 2.0]])
    result = einsql.einsum("ij,jk->ik", a, b, con=db.con)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(result, np.einsum("ij,jk->ik", a, b))
    assert np.isnan(result[0]).all()


def test_nonfinite_tables_are_found_by_the_check(db) -> None:
    einsql.einsum("i->i", np.array([np.inf, 0.0]), con=db.con, into="nf_a")
    einsql.einsum("i->i", np.array([0.0, 1.0]), con=db.con, into="nf_b")
    try:
        a, b = einsql.Table("nf_a", (2,)), einsql.Table("nf_b", (2,))
        assert np.isnan(einsql.einsum("i,i->", a, b, con=db.con))  # inf * 0, as NumPy
        trusted = einsql.Table("nf_a", (2,), trusted=True)  # not scanned: taken as finite
        assert einsql.einsum("i,i->", trusted, b, con=db.con) == 0.0
        assert np.isnan(einsql.einsum("i,i->", trusted, b, con=db.con, nonfinite=True))
        assert einsql.einsum("i,i->", a, b, con=db.con, nonfinite=False) == 0.0
    finally:
        db.drop("nf_a", "nf_b")


def test_empty_result_is_zeros_not_nulls(db) -> None:
    a = np.zeros((3, 4))
    result = einsql.einsum("ij,jk->ik", a, a.T, con=db.con)
    assert result.shape == (3, 3) and not np.isnan(result).any() and (result == 0).all()
    assert einsql.einsum("i,i->", np.zeros(3), np.ones(3), con=db.con) == 0.0


# --- operand types -----------------------------------------------------------------


def test_interleaved_form_matches_numpy(db) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    result = einsql.einsum(a, [0, 1], b, [1, 2], [0, 2], con=db.con)
    assert_matches(result, np.einsum(a, [0, 1], b, [1, 2], [0, 2]))
    assert_matches(einsql.einsum(a, [Ellipsis, 1], con=db.con), np.einsum(a, [Ellipsis, 1]))


def test_scipy_sparse_operands(db) -> None:
    a = sp.random(40, 30, density=0.1, random_state=1, format="csr")
    b = sp.random(30, 20, density=0.1, random_state=2, format="csc")
    assert_matches(einsql.einsum("ij,jk->ik", a, b, con=db.con), (a @ b).toarray())


def test_scipy_duplicates_are_summed_and_explicit_zeros_dropped(db) -> None:
    m = sp.coo_matrix(([1.0, 2.0, 0.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    coo = einsql.einsum("ij->ij", m, con=db.con, out="coo").sorted()
    assert coo.coords.tolist() == [[0, 1]] and coo.values.tolist() == [3.0]


def test_pydata_sparse_operands(db) -> None:
    a = sparse.random((4, 5, 6), density=0.2, random_state=3)
    b = sparse.random((6, 3), density=0.5, random_state=4)
    assert_matches(
        einsql.einsum("ijk,kl->ijl", a, b, con=db.con),
        np.einsum("ijk,kl->ijl", a.todense(), b.todense()),
    )


def test_table_operands_with_column_mapping(db) -> None:
    db.execute(
        "CREATE TABLE edges (src INTEGER, dst INTEGER, w DOUBLE PRECISION)",
        "INSERT INTO edges VALUES (0, 1, 2.0), (1, 2, 3.0), (2, 0, 4.0)",
    )
    try:
        g = einsql.Table("edges", (3, 3), axes=("src", "dst"), values=("w",))
        dense = np.zeros((3, 3))
        dense[[0, 1, 2], [1, 2, 0]] = [2.0, 3.0, 4.0]
        assert_matches(einsql.einsum("ij,jk->ik", g, g, con=db.con), dense @ dense)
        reference = einsql.einsum("ij,jk->ik", g, g, backend="numpy", con=db.con)
        assert_matches(reference, dense @ dense)
    finally:
        db.drop("edges")


def test_result_table_feeds_the_next_einsum(db) -> None:
    rng = np.random.default_rng(5)
    a = random_operand((5, 6), "float64", 0.5, rng)
    table = einsql.einsum("ij,kj->ik", a, a, con=db.con, into="gram")
    try:
        assert table == einsql.Table("gram", (5, 5))
        assert_matches(einsql.einsum("ii->", table, con=db.con), np.trace(a @ a.T))
    finally:
        db.drop("gram")


def test_coo_result_has_no_zeros_and_sorts_on_request(db) -> None:
    a = np.array([[0.0, 2.0], [3.0, 0.0]])
    coo = einsql.einsum("ij->ji", a, con=db.con, out="coo").sorted()
    assert coo.coords.tolist() == [[0, 1], [1, 0]]
    assert coo.values.tolist() == [3.0, 2.0]
    np.testing.assert_array_equal(coo.todense(), a.T)


@pytest.mark.notimpl(
    ["sqlite"], raises=einsql.ExactnessError, reason="SQLite integers are 64-bit at most"
)
def test_integer_sums_stay_exact_beyond_int64(db) -> None:
    big = np.full(4, 2**62, dtype=np.int64)
    result = einsql.einsum("i->", big, con=db.con)
    assert result == 2**64 and isinstance(result, int)
    assert_matches(einsql.einsum("i,i->", np.arange(5), np.arange(5), con=db.con), np.int64(30))


# --- staged plans and long equations ------------------------------------------------


@pytest.mark.parametrize(
    ("equation", "shapes"), EQUATIONS[::10], ids=[e for e, _ in EQUATIONS[::10]]
)
def test_staged_execution_matches(equation, shapes, db) -> None:
    rng = np.random.default_rng(11)
    arrays = [random_operand(s, "float64", 0.5, rng) for s in shapes]
    assert_matches(
        einsql.einsum(equation, *arrays, con=db.con, staged=True), oracle(equation, arrays)
    )
    assert db.leftovers() == []


def test_staged_sql_text_runs_pasted(db) -> None:
    rng = np.random.default_rng(12)
    arrays = [random_operand((3, 3), "float64", 0.6, rng) for _ in range(3)]
    script = einsql.to_sql("ij,jk,kl->il", *arrays, staged=True, dialect=db.name)
    dense = np.zeros((3, 3))
    for i, j, v in run_script(db, script):
        dense[i, j] = v
    np.testing.assert_allclose(dense, arrays[0] @ arrays[1] @ arrays[2], rtol=1e-9)
    assert db.leftovers() == []


# --- connections and cleanup ---------------------------------------------------------


def test_a_connection_passed_in_stays_open_and_clean() -> None:
    con = duckdb.connect()
    einsql.einsum("ij,jk->ik", np.ones((2, 2)), np.ones((2, 2)), con=con)
    assert con.sql("SELECT 42").fetchall() == [(42,)]
    assert leftovers(con) == []
    con.close()


def test_a_failing_query_leaves_nothing_behind(db) -> None:
    missing = einsql.Table("no_such_table", (3,))
    with pytest.raises(einsql.DatabaseError, match="no_such_table") as info:
        einsql.einsum("i,i->i", np.ones(3), missing, con=db.con, staged=True)
    assert "table 'no_such_table'" in str(info.value)  # the statement that failed
    assert info.value.__cause__ is not None  # the database's own error
    assert db.leftovers() == []
    if db.name == "duckdb":
        views = db.rows("SELECT view_name FROM duckdb_views() WHERE view_name LIKE '%einsql%'")
        assert views == []


def test_into_needs_a_connection() -> None:
    with pytest.raises(einsql.OptionError, match="con="):
        einsql.einsum("i->i", np.ones(2), into="t")
