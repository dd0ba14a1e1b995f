"""Connections users already have: URLs, SQLAlchemy, sessions, transactions, names, psql."""

from __future__ import annotations

import sqlite3
from functools import reduce

import duckdb
import numpy as np
import pytest
import sqlalchemy
from conftest import (
    Database,
    assert_matches,
    open_database,
    postgres_url,
    psql_rows,
    random_operand,
)

import einsql

A = np.arange(6.0).reshape(2, 3)
B = np.arange(12.0).reshape(3, 4) - 5


def matmul(con, **options):
    return einsql.einsum("ij,jk->ik", A, B, con=con, **options)


def pg_connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()
    assert row is not None
    return int(row[0])


# --- URLs and DSNs ---------------------------------------------------------------------


def test_file_urls_open_and_close_their_own_connections(tmp_path) -> None:
    for scheme in ("duckdb", "sqlite"):
        path = tmp_path / f"db.{scheme}"
        assert_matches(matmul(f"{scheme}:///{path}"), A @ B)
        einsql.einsum("ij->ij", A, con=f"{scheme}:///{path}", into="kept")
        con = duckdb.connect(str(path)) if scheme == "duckdb" else sqlite3.connect(path)
        assert sorted(con.execute("SELECT i0, i1 FROM kept").fetchall())[0] == (0, 1)
        con.close()  # einsql closed its own connection: the file opens again


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://", "postgresql+psycopg://"])
def test_postgres_urls_open_and_close_their_own_connections(pg_url, scheme) -> None:
    before = pg_connections(pg_url)
    assert_matches(matmul(scheme + pg_url.split("://", 1)[1]), A @ B)
    assert pg_connections(pg_url) == before


def test_a_libpq_dsn_is_postgres(pg_url) -> None:
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(pg_url)
    dsn = " ".join(f"{key}={value}" for key, value in info.items())
    assert einsql.drivers.backend_of(dsn) == "postgres"
    assert_matches(matmul(dsn), A @ B)


# --- SQLAlchemy ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "duckdb"])
def test_sqlalchemy_engines_lend_a_connection_and_get_it_back(kind, tmp_path) -> None:
    files = {"sqlite": f"sqlite:///{tmp_path / 'e.db'}", "duckdb": f"duckdb:///{tmp_path / 'e.db'}"}
    url = files.get(kind) or postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL server: set EINSQL_TEST_POSTGRES or run scripts/test")
    url = url.replace("postgresql://", "postgresql+psycopg://")
    engine = sqlalchemy.create_engine(url)
    assert_matches(matmul(engine), A @ B)
    assert engine.pool.checkedout() == 0
    with engine.connect() as connection:
        assert_matches(matmul(connection), A @ B)
        assert connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1  # still usable
    engine.dispose()


def test_duckdb_engine_connections_are_unwrapped(tmp_path) -> None:
    """duckdb_engine hands out a wrapper: einsql runs on the DuckDB connection inside."""
    engine = sqlalchemy.create_engine(f"duckdb:///{tmp_path / 'w.db'}")
    with engine.connect() as connection:
        stored = einsql.einsum("ij,jk->ik", A, B, con=connection, into="product")
        connection.commit()
    with einsql.connect(engine) as session:
        assert session.table("product").shape == stored.shape
        assert_matches(session.einsum("ik->k", session.table("product")), (A @ B).sum(0))
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_a_sqlalchemy_engine_of_another_driver_is_named() -> None:
    engine = sqlalchemy.create_engine("sqlite+pysqlcipher://", module=sqlite3)
    with pytest.raises(einsql.OptionError, match="sqlite\\+pysqlcipher"):
        matmul(engine)


# --- sessions --------------------------------------------------------------------------


def test_a_session_reuses_one_connection(tmp_path) -> None:
    with einsql.connect(f"sqlite:///{tmp_path / 's.db'}") as session:
        assert session.backend == "sqlite" and isinstance(session.con, sqlite3.Connection)
        table = session.einsum("ij,jk->ik", A, B, into="product")
        assert table == session.table("product", (2, 4))
        read = session.table("product")  # its layout read from the database, nnz counted
        assert (read.name, read.shape, read.dtype) == (table.name, table.shape, table.dtype)
        assert read.nnz == np.count_nonzero(A @ B)
        assert_matches(session.einsum("ik->k", table), (A @ B).sum(0))
        assert "SUM" in session.to_sql("ik->k", table)
    with pytest.raises(sqlite3.ProgrammingError):
        session.con.execute("SELECT 1")  # the session opened it, so it closed it


def test_a_session_on_a_given_connection_leaves_it_open(db) -> None:
    session = einsql.connect(db.con)
    assert session.backend == db.name
    assert_matches(session.einsum("ij,jk->ik", A, B), A @ B)
    session.close()
    assert db.rows("SELECT 1") == [(1,)]
    assert db.leftovers() == []


def test_a_session_without_a_connection_is_in_memory() -> None:
    for backend in ("duckdb", "sqlite"):
        with einsql.connect(backend=backend) as session:
            assert session.backend == backend
            assert_matches(session.einsum("ij,jk->ik", A, B), A @ B)


# --- connections are never closed, transactions never left open ------------------------


def test_connections_passed_in_stay_open_after_success_and_failure(db) -> None:
    assert_matches(matmul(db.con), A @ B)
    with pytest.raises(Exception, match="no_such_table"):
        einsql.einsum("i,i->", np.ones(3), einsql.Table("no_such_table", (3,)), con=db.con)
    assert db.rows("SELECT 1") == [(1,)]
    assert db.leftovers() == []


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_the_callers_open_transaction_survives_success_and_failure(backend) -> None:
    database = Database(backend, open_database(backend))
    try:
        database.execute("CREATE TABLE mine (x INTEGER)")
        database.con.execute("INSERT INTO mine VALUES (1)")  # uncommitted
        assert database.in_transaction()
        assert_matches(matmul(database.con), A @ B)
        assert database.in_transaction()
        with pytest.raises(Exception, match="no_such_table"):
            einsql.einsum(
                "i,i->", np.ones(3), einsql.Table("no_such_table", (3,)), con=database.con
            )
        assert database.in_transaction()  # still open, and not aborted:
        assert database.con.execute("SELECT count(*) FROM mine").fetchone() == (1,)
        database.con.rollback()
        assert database.rows("SELECT count(*) FROM mine") == [(0,)]
    finally:
        database.drop("mine")
        database.con.close()


def test_postgres_autocommit_connections_work(pg_url) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as con:
        assert_matches(matmul(con), A @ B)
        assert Database("postgres", con).leftovers() == []


def test_a_failed_postgres_transaction_is_refused(pg_url) -> None:
    import psycopg

    with psycopg.connect(pg_url) as con:
        with pytest.raises(psycopg.Error):
            con.execute("SELECT * FROM no_such_table")
        with pytest.raises(einsql.OptionError, match="roll it back"):
            matmul(con)
        con.rollback()
        assert_matches(matmul(con), A @ B)


def test_a_result_table_is_committed_on_postgres(pg_url) -> None:
    import psycopg

    with psycopg.connect(pg_url) as con:
        einsql.einsum("ij,jk->ik", A, B, con=con, into="committed_product")
    with psycopg.connect(pg_url) as other:
        rows = other.execute("SELECT count(*) FROM committed_product").fetchone()
        other.execute("DROP TABLE committed_product")
        other.commit()
    assert rows == (np.count_nonzero(A @ B),)


# --- table names -----------------------------------------------------------------------

ODD_NAMES = ['we"ird', "semi;colon", "two words", "näme_ß_名前", "x; DROP TABLE y; --"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_table_names_work(db, name) -> None:
    table = einsql.einsum("ij,jk->ik", A, B, con=db.con, into=name)
    try:
        assert_matches(einsql.einsum("ik->k", table, con=db.con), (A @ B).sum(0))
        assert_matches(einsql.einsum("ik->k", table, con=db.con, backend="numpy"), (A @ B).sum(0))
    finally:
        db.drop(name)


def test_a_name_too_long_for_postgres_is_an_error_not_a_truncation(db) -> None:
    name = "é" * 32  # 32 characters, 64 bytes
    if db.name == "postgres":
        with pytest.raises(einsql.OperandError, match="64 bytes long; postgres truncates"):
            einsql.einsum("ij->ij", A, con=db.con, into=name)
        with pytest.raises(einsql.OperandError, match="63 bytes"):
            einsql.to_sql("ij->ij", einsql.Table(name, (2, 3)), dialect="postgres")
        assert db.leftovers() == []
    else:
        table = einsql.einsum("ij->ij", A, con=db.con, into=name)
        assert_matches(einsql.einsum("ij->", table, con=db.con), A.sum())
        db.drop(name)


# --- exact integers --------------------------------------------------------------------


def int_chain(count: int, high: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(high // 2, high, size=(3, 3), dtype=np.int64) for _ in range(count)]


def exact_product(matrices: list[np.ndarray]) -> np.ndarray:
    return reduce(np.dot, [m.astype(object) for m in matrices])


def chain_equation(count: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ",".join(letters[k : k + 2] for k in range(count)) + f"->a{letters[count]}"


@pytest.mark.notimpl(
    ["duckdb", "sqlite"], raises=einsql.ExactnessError, reason="HUGEINT / INTEGER are too narrow"
)
def test_model_counting_sized_integers_are_exact(db) -> None:
    matrices = int_chain(10, 10**9, 1)  # entries near 1e9: the result is near 1e94
    result = einsql.einsum(chain_equation(10), *matrices, con=db.con)
    expected = exact_product(matrices)
    assert result.dtype == object and (result == expected).all()
    assert max(abs(int(v)) for v in expected.flat) > 10**85


@pytest.mark.notimpl(["sqlite"], raises=einsql.ExactnessError, reason="SQLite integers are 64-bit")
def test_integers_beyond_int64_fit_hugeint_and_numeric(db) -> None:
    matrices = int_chain(4, 10**9, 2)  # about 1e37: more than int64, less than HUGEINT
    result = einsql.einsum(chain_equation(4), *matrices, con=db.con)
    assert result.dtype == object and (result == exact_product(matrices)).all()


@pytest.mark.notimpl(["sqlite"], raises=einsql.ExactnessError, reason="SQLite integers are 64-bit")
def test_integer_tables_overflowing_int64_stay_exact(db) -> None:
    big = np.full(3, 2**62, dtype=np.int64)
    table = einsql.einsum("i->i", big, con=db.con, into="big_ints")
    try:
        result = einsql.einsum("i,i->", table, table, con=db.con)
        assert result == 3 * 2**124 and db.leftovers() == []
    finally:
        db.drop("big_ints")


def test_the_exactness_error_comes_before_the_database(db) -> None:
    matrices = int_chain(10, 10**9, 3)
    if db.name == "postgres":
        return  # numeric holds it; see test_model_counting_sized_integers_are_exact
    with pytest.raises(einsql.ExactnessError, match=f"more than {db.name}'s integers"):
        einsql.to_sql(chain_equation(10), *matrices, dialect=db.name)
    assert db.leftovers() == []


# --- SQL pasted into psql -------------------------------------------------------------


@pytest.mark.parametrize("staged", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "int64", "complex128"])
def test_sql_pasted_into_psql_gives_the_same_result(pg_url, staged, dtype) -> None:
    rng = np.random.default_rng(21)
    arrays = [random_operand(s, dtype, 0.6, rng) for s in [(3, 4), (4, 5), (5, 2)]]
    script = einsql.to_sql("ij,jk,kl->il", *arrays, dialect="postgres", staged=staged)
    dense = np.zeros((3, 2), dtype=dtype)
    for i, j, *value in psql_rows(pg_url, script):
        parsed = [float(v) for v in value]
        dense[int(i), int(j)] = complex(*parsed) if dtype == "complex128" else parsed[0]
    assert_matches(dense, arrays[0] @ arrays[1] @ arrays[2])
