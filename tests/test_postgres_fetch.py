"""PostgreSQL reads results packed into arrays, and runs under its own settings.

The packed read (``PostgresDriver.result``) is checked against NumPy on every
kind of value, on results spanning many chunks (``PACKED_ROWS`` lowered), and
on the results it leaves to the ordinary read: empty ones, NULLs, exact
``numeric`` sums. The settings (``Postgres.settings``) must last only as long
as einsql's transaction block, and leave a caller's open transaction as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import einsql
from einsql.drivers import postgres

RNG = np.random.default_rng(17)


def sparse(shape: tuple[int, ...], density: float = 0.3) -> np.ndarray:
    """A random float array with about ``density`` of its entries nonzero."""
    return RNG.standard_normal(shape) * (RNG.random(shape) < density)


@pytest.fixture()
def con(pg_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(pg_url) as connection:
        yield connection


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 rows, should a result of a test be read in chunks."""
    monkeypatch.setattr(postgres, "PACKED_ROWS", 7)


def packed_reads(caplog: pytest.LogCaptureFixture) -> int:
    """How many logged statements read a result packed."""
    return sum('ARRAY_AGG("q".' in str(getattr(r, "sql", "")) for r in caplog.records)


@pytest.fixture()
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="einsql")
    return caplog


def test_a_float_result_is_read_packed(con, small_chunks, logged) -> None:
    a, b = sparse((20, 30)), sparse((30, 25))
    result = einsql.einsum("ij,jk->ik", a, b, con=con)
    np.testing.assert_allclose(result, a @ b, rtol=1e-12, atol=1e-12)
    assert packed_reads(logged) == 1
    assert np.count_nonzero(a @ b) > 10 * 7


def test_coo_results_keep_their_coordinates(con, small_chunks) -> None:
    a = sparse((9, 8, 7))
    coo = einsql.einsum("ijk->kij", a, con=con, out="coo")
    dense = np.zeros(coo.shape)
    dense[tuple(coo.coords.T)] = coo.values
    np.testing.assert_array_equal(dense, np.einsum("ijk->kij", a))
    assert coo.coords.dtype == np.int64 and coo.values.dtype == np.float64


def test_an_empty_result(con, logged) -> None:
    coo = einsql.einsum("ij,jk->ik", np.zeros((3, 4)), np.ones((4, 5)), con=con, out="coo")
    assert coo.nnz == 0 and coo.shape == (3, 5)
    dense = einsql.einsum("ij,jk->ik", np.zeros((3, 4)), np.ones((4, 5)), con=con)
    np.testing.assert_array_equal(dense, np.zeros((3, 5)))
    assert packed_reads(logged) == 2


def test_a_scalar_sum_over_nothing_is_a_null_read_the_ordinary_way(con, logged) -> None:
    total = einsql.einsum("i,i->", np.array([1.0, 0.0]), np.array([0.0, 2.0]), con=con)
    assert total == 0.0 and np.ndim(total) == 0
    assert einsql.einsum("ij->", sparse((6, 5)), con=con) == pytest.approx(0.0, abs=np.inf)
    assert packed_reads(logged) == 2  # tried, then read again for the NULL


def test_a_table_holding_a_null_is_refused_or_read_as_nan(con, small_chunks) -> None:
    con.execute("CREATE TEMPORARY TABLE holes (i0 INT, i1 INT, val DOUBLE PRECISION)")
    con.execute("INSERT INTO holes VALUES (0, 0, 1.5), (1, 2, NULL), (2, 1, -2)")
    with pytest.raises(einsql.OperandError, match="holds 1 NULL"):
        einsql.einsum("ij->ij", einsql.Table("holes", (3, 3)), con=con)
    trusted = einsql.Table("holes", (3, 3), trusted=True)
    expected = np.array([[1.5, 0, 0], [0, 0, np.nan], [0, -2, 0]])
    for backend in ("postgres", "numpy"):  # numpy reads the table with Driver.fetch
        result = einsql.einsum("ij->ij", trusted, con=con, backend=backend)
        np.testing.assert_array_equal(result, expected)


def test_integer_values_stay_exact(con, small_chunks, logged) -> None:
    a = RNG.integers(-(2**62), 2**62, size=(12, 9)) * (RNG.random((12, 9)) < 0.5)
    copied = einsql.einsum("ij->ji", a, con=con)  # bigint values, no sum: read packed
    assert copied.dtype == np.int64
    np.testing.assert_array_equal(copied, a.T)
    assert packed_reads(logged) == 1
    small = RNG.integers(-9, 9, size=(12, 9))
    product = einsql.einsum("ij,kj->ik", small, small, con=con)  # numeric sums
    assert product.dtype == np.int64
    np.testing.assert_array_equal(product, small @ small.T)
    assert packed_reads(logged) == 2


def test_overflowing_integer_sums_of_many_chunks_come_back_exact(con, small_chunks) -> None:
    a = RNG.integers(2**61, 2**62, size=(30, 4))
    total = einsql.einsum("ij->i", a, con=con)
    assert total.dtype == object
    assert total.tolist() == [sum(int(v) for v in row) for row in a]


def test_an_overflowing_integer_sum_comes_back_exact(con) -> None:
    a = np.array([[2**62, 2**62, 5]])
    assert einsql.einsum("ij->i", a, con=con).tolist() == [2**63 + 5]


def test_booleans(con, small_chunks, logged) -> None:
    a, b = RNG.random((10, 6)) < 0.3, RNG.random((6, 12)) < 0.3
    result = einsql.einsum("ij,jk->ik", a, b, con=con)
    assert result.dtype == np.bool_
    np.testing.assert_array_equal(result, np.einsum("ij,jk->ik", a, b))
    assert packed_reads(logged) == 1


def test_complex_values(con, small_chunks, logged) -> None:
    a = sparse((8, 9)) + 1j * sparse((8, 9))
    b = sparse((9, 7)) - 2j * sparse((9, 7))
    np.testing.assert_allclose(einsql.einsum("ij,jk->ik", a, b, con=con), a @ b, atol=1e-12)
    assert packed_reads(logged) == 1


def test_an_expression_is_read_packed(con, small_chunks, logged) -> None:
    x = sparse((15, 4))
    X = einsql.var("X", x.shape)
    result = einsql.evaluate(einsql.exp(X) * X, {"X": x}, con=con)
    np.testing.assert_allclose(result, np.exp(x) * x, rtol=1e-12)
    assert packed_reads(logged) == 1


def test_a_table_of_other_types_is_read_as_the_ordinary_way_reads_it(con, small_chunks) -> None:
    con.execute("CREATE TEMPORARY TABLE kinds (i0 SMALLINT, i1 INT, val REAL, n NUMERIC(12, 2))")
    con.execute("INSERT INTO kinds VALUES (0, 1, 0.1, 2.50), (1, 0, 2.5, NULL), (2, 2, 'NaN', 7)")
    floats = einsql.Table("kinds", (3, 3), trusted=True)
    np.testing.assert_array_equal(
        einsql.einsum("ij->ji", floats, con=con), [[0, 2.5, 0], [0.1, 0, 0], [0, 0, np.nan]]
    )
    con.execute("CREATE TEMPORARY TABLE reals AS SELECT i0, val FROM kinds WHERE i0 < 2")
    assert einsql.einsum("i->", einsql.Table("reals", (2,)), con=con) == 2.6  # as text: 2.6
    decimals = einsql.Table("kinds", (3, 3), values=("n",), trusted=True)
    np.testing.assert_array_equal(einsql.einsum("ij->i", decimals, con=con), [2.5, np.nan, 7.0])


def test_a_result_read_in_chunks(con) -> None:
    """A result too large for one array per column is read a chunk at a time."""
    from sqlglot import exp

    from einsql.drivers import open_driver

    con.execute("CREATE TEMPORARY TABLE parts (i0 INT, i1 BIGINT, val DOUBLE PRECISION)")
    a = sparse((9, 8), 0.6)
    with con.cursor() as cursor:
        rows = [(int(i), int(j), float(a[i, j])) for i, j in np.argwhere(a)]
        cursor.executemany("INSERT INTO parts VALUES (%s, %s, %s)", [*rows, (9, 0, None)])
    names = ["i0", "i1", "val", "exact", "flag"]
    columns = [exp.column(c) for c in names[:3]]
    exact = exp.cast(exp.column("i1"), "NUMERIC").as_("exact")
    columns += [exact, exp.column("val").is_(exp.null()).as_("flag")]
    query = exp.select(*columns).from_("parts")
    with open_driver(con) as driver:
        read = driver.packed(query, names, 7)
    assert read["i0"].dtype == read["i1"].dtype == np.int64 and read["flag"].dtype == np.bool_
    last = read["i0"] == 9  # the NULL row: its array read as Python values
    assert np.isnan(read["val"][last]).all() and read["flag"][last].all()
    dense = np.zeros_like(a)
    dense[read["i0"][~last], read["i1"][~last]] = read["val"][~last]
    np.testing.assert_array_equal(dense, a)
    assert [int(v) for v in read["exact"]] == read["i1"].tolist()
    assert len(read["i0"]) == len(rows) + 1 > 3 * 7


def test_unpacked_reads_an_array_holding_a_null_through_load() -> None:
    count = np.array([1], ">i8").tobytes()
    header = np.array([1, 1, 20, 1, 1], ">i4").tobytes()  # the NULL flag is set
    data = header + b"\xff\xff\xff\xff"
    rows = postgres.unpacked(["val"], [1016], [(count, data)], lambda oid, raw: [None])
    np.testing.assert_array_equal(rows["val"], [np.nan])


def settings(con: Any) -> tuple[str, str]:
    row = con.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone()
    return row[0], row[1]


def test_settings_are_set_in_einsqls_own_transaction_only(con, logged) -> None:
    con.autocommit = True
    before = settings(con)
    einsql.einsum("ij->i", sparse((4, 3)), con=con)
    assert settings(con) == before
    assert any(
        "SET_CONFIG('jit', 'off', TRUE)" in str(getattr(r, "sql", "")) for r in logged.records
    )


def test_settings_in_a_callers_transaction_are_restored(con) -> None:
    with con.transaction():
        con.execute("SET LOCAL work_mem = '5MB'")
        con.execute("SET LOCAL jit = on")
        a = sparse((5, 6))
        np.testing.assert_allclose(einsql.einsum("ij->j", a, con=con), a.sum(0))
        assert settings(con) == ("on", "5MB")
        with pytest.raises(einsql.DatabaseError):
            einsql.einsum("ij->j", einsql.Table("no_such_table", (5, 6)), con=con)
        assert settings(con) == ("on", "5MB")  # the failed block's changes rolled back


def test_a_larger_work_mem_is_kept(con, logged) -> None:
    """einsql only raises work_mem: a session or role set higher keeps its value."""
    con.autocommit = True
    con.execute("SET work_mem = '2GB'")
    try:
        a = sparse((5, 6))
        np.testing.assert_allclose(einsql.einsum("ij->j", a, con=con), a.sum(0))
        sql = [str(getattr(r, "sql", "")) for r in logged.records]
        assert not any("SET_CONFIG('work_mem'" in s for s in sql)
        assert any("SET_CONFIG('jit', 'off', TRUE)" in s for s in sql)
        assert settings(con)[1] == "2GB"
    finally:
        con.execute("RESET work_mem")
