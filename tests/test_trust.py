"""Regression tests for the outside audit: every answer right or a clear error.

Each class of fault the audit found has a test here, on every database.
"""

from __future__ import annotations

import threading
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sparse
from conftest import Database

import einsql
from einsql.names import RESERVED

# --- internal names never shadow user tables --------------------------------------------

INTERNAL_LOOKING = [
    "t0",
    "t1",
    "t2",
    "a0",
    "a1",
    "e0",
    "e3",
    "x0",
    "x1",
    "u",
    "v",
    "p",
    "q",
    "r0",
    "state",
    "prev",
    "cur",
    "nxt",
    "last",
    "b0",
    "f0",
    "y0",
    "e2_0",
]


def _store(db: Database, name: str, array: np.ndarray) -> einsql.Table:
    db.drop(name)
    einsql.einsum("ij->ij", array, con=db.con, into=name)
    return einsql.Table(name, array.shape)


@pytest.mark.parametrize("names", [("A", "B", "t0"), ("t0", "t1", "t2"), ("x0", "a0", "e3")])
def test_generated_names_never_shadow_user_tables(db: Database, names: tuple[str, ...]) -> None:
    arrays = [
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        np.array([[0.0, 1.0], [1.0, 0.0]]),
        np.diag([2.0, 3.0]),
    ]
    tables = [_store(db, name, array) for name, array in zip(names, arrays)]
    try:
        want = np.einsum("ij,jk,kl->il", *arrays)
        for staged in (False, True):
            got = einsql.einsum("ij,jk,kl->il", *tables, con=db.con, staged=staged)
            np.testing.assert_allclose(got, want)
        x = einsql.var(names[2], (2, 2))
        gradient = einsql.grad(einsql.sum(einsql.exp(x) * x), x)
        values = dict(zip(names, tables))
        got = einsql.evaluate(gradient, {names[2]: values[names[2]]}, con=db.con)
        np.testing.assert_allclose(got, np.exp(arrays[2]) * (1 + arrays[2]))
    finally:
        db.drop(*names)


@pytest.mark.parametrize("name", INTERNAL_LOOKING)
def test_every_internal_name_pattern_is_a_user_name(db: Database, name: str) -> None:
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    table = _store(db, name, m)
    try:
        for staged in (False, True):
            got = einsql.einsum("ij,jk->ik", table, m, con=db.con, staged=staged)
            np.testing.assert_allclose(got, m @ m)
        x = einsql.var(name, (2, 2))
        gradient = einsql.grad(einsql.sum(einsql.exp(x)), x)
        np.testing.assert_allclose(einsql.evaluate(gradient, {name: table}, con=db.con), np.exp(m))
        w = einsql.var("w", (2,))
        loss = einsql.sum((einsql.einsum("ij,j->i", x, w) - 1.0) ** 2.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", einsql.LoopWarning)
            done = einsql.minimize(loss, w, {name: table}, steps=3, lr=0.01, con=db.con)
        w_np = np.zeros(2)
        for _ in range(3):
            w_np -= 0.01 * 2 * m.T @ (m @ w_np - 1.0)
        np.testing.assert_allclose(done.x, w_np, rtol=1e-9)
        assert db.leftovers() == []
    finally:
        db.drop(name)


def test_pasted_sql_reads_user_tables_named_like_steps(duck: duckdb.DuckDBPyConnection) -> None:
    con = duck
    arrays = [
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        np.array([[0.0, 1.0], [1.0, 0.0]]),
        np.diag([2.0, 3.0]),
    ]
    names = ["A", "B", "t0"]
    for name, array in zip(names, arrays):
        einsql.einsum("ij->ij", array, con=con, into=name)
    try:
        tables = [einsql.Table(n, (2, 2)) for n in names]
        for staged in (False, True):
            script = einsql.to_sql("ij,jk,kl->il", *tables, staged=staged)
            rows: list = []
            for statement in [s for s in script.split(";\n") if s.strip()]:
                result = con.execute(statement.rstrip(";"))
                if not statement.lstrip().startswith(("CREATE", "DROP")):
                    rows = result.fetchall()
            got = np.zeros((2, 2))
            for i, j, val in rows:
                got[i, j] = val
            np.testing.assert_allclose(got, np.einsum("ij,jk,kl->il", *arrays))
    finally:
        for name in names:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')


@pytest.mark.parametrize("name", [RESERVED + "t0", "__EINSQL_x", "s.__einsql_y", "a\x00b", ""])
def test_reserved_and_impossible_names_are_refused(name: str) -> None:
    with pytest.raises(einsql.OperandError):
        einsql.Table(name, (2,))
    with pytest.raises(einsql.OperandError):
        einsql.einsum("i->i", np.ones(2), con=duckdb.connect(), into=name)


def test_long_column_names_are_refused_on_postgres() -> None:
    table = einsql.Table("ok", (2,), axes=("c" * 64,))
    with pytest.raises(einsql.OperandError, match="63 bytes"):
        einsql.to_sql("i->", table, dialect="postgres")


# --- sublists keep NumPy's order ---------------------------------------------------------


def test_interleaved_implicit_output_orders_by_integer() -> None:
    a = np.arange(6.0).reshape(2, 3)
    for args in ([a, [0, 26]], [a, [26, 0]], [a, [0, 51], a, [0, 27]], [a, [Ellipsis, 30]]):
        np.testing.assert_array_equal(einsql.einsum(*args), np.einsum(*args))


# --- objects einsql does not know are refused ---------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pa.table({"i0": [0, 1], "i1": [1, 0], "val": [5.0, 10.0]}),
        "edges.csv",
        Path("edges.csv"),
        Decimal("1.5"),
        [Decimal("1.5")],
        {"a": 1},
        np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
        memoryview(b"ab"),
    ],
)
def test_unknown_objects_are_refused(value: object) -> None:
    with pytest.raises(einsql.OperandError, match="operand 0"):
        einsql.einsum("ij->" if isinstance(value, pa.Table) else "...->", value)


def test_data_frames_are_refused_with_what_to_pass() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"i0": [0, 1], "i1": [1, 0], "val": [5.0, 10.0]})
    with pytest.raises(einsql.OperandError, match=r"einsql\.coo\(frame, axes="):
        einsql.einsum("ij->", frame)


def test_cooarray_operands_are_checked() -> None:
    with pytest.raises(einsql.OperandError, match="outside"):
        einsql.einsum("i->", einsql.CooArray(np.array([[3]]), np.array([1.0]), (3,)))
    with pytest.raises(einsql.OperandError, match="repeated"):
        einsql.einsum("i->", einsql.CooArray(np.array([[1], [1]]), np.array([1.0, 2.0]), (3,)))


def test_zero_dimensional_pydata_sparse() -> None:
    value = sparse.COO.from_numpy(np.array(2.5))
    assert einsql.einsum("->", value) == 2.5
    assert einsql.einsum("i,->i", np.ones(2), value).tolist() == [2.5, 2.5]


# --- table contents are checked ----------------------------------------------------------

FAULTS = {
    "out of range": ("(0, 1.0), (5, 2.0)", "outside 0..2"),
    "negative": ("(-1, 1.0)", "outside 0..2"),
    "null index": ("(NULL, 1.0)", "NULL"),
    "duplicate": ("(1, 1.0), (1, 2.0)", "more than one row"),
    "null value": ("(1, NULL)", "NULL"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faulty_table_contents_are_refused(db: Database, fault: str) -> None:
    rows, message = FAULTS[fault]
    db.execute(
        'DROP TABLE IF EXISTS "faulty"',
        'CREATE TABLE "faulty" (i0 BIGINT, val DOUBLE PRECISION)',
        f'INSERT INTO "faulty" VALUES {rows}',
    )
    try:
        table = einsql.Table("faulty", (3,))
        if fault == "null value" and db.name == "sqlite":  # SQLite stores NaN as NULL
            assert np.isnan(einsql.einsum("i->", table, con=db.con))
            return
        with pytest.raises(einsql.OperandError, match=message) as info:
            einsql.einsum("i->", table, con=db.con)
        assert "'faulty'" in str(info.value)
        with pytest.raises(einsql.OperandError, match=message):
            einsql.einsum("i->", table, con=db.con, backend="numpy")
        assert db.leftovers() == []
    finally:
        db.drop("faulty")


def test_float_index_columns_are_refused(db: Database) -> None:
    db.execute(
        'DROP TABLE IF EXISTS "fidx"',
        'CREATE TABLE "fidx" (i0 DOUBLE PRECISION, val DOUBLE PRECISION)',
        'INSERT INTO "fidx" VALUES (0.7, 1.0)',
    )
    try:
        with pytest.raises(einsql.OperandError, match="i0"):
            einsql.einsum("i->", einsql.Table("fidx", (2,)), con=db.con)
    finally:
        db.drop("fidx")


def test_trusted_skips_the_scan(db: Database) -> None:
    db.execute(
        'DROP TABLE IF EXISTS "dup"',
        'CREATE TABLE "dup" (i0 BIGINT, val DOUBLE PRECISION)',
        'INSERT INTO "dup" VALUES (1, 1.0), (1, 2.0)',
    )
    try:
        trusted = einsql.Table("dup", (3,), trusted=True)
        assert einsql.einsum("i->", trusted, con=db.con) == 3.0  # read as it is
    finally:
        db.drop("dup")


@pytest.mark.notimpl(["sqlite"], raises=AssertionError, reason="SQLite has no DECIMAL type")
def test_decimal_values_are_not_truncated(db: Database) -> None:
    db.execute(
        'DROP TABLE IF EXISTS "dec"',
        'CREATE TABLE "dec" (i0 BIGINT, val DECIMAL(10, 2))',
        'INSERT INTO "dec" VALUES (0, 1.25), (1, 2.50)',
    )
    try:
        table = einsql.Table("dec", (2,))
        assert einsql.einsum("i->", table, con=db.con) == 3.75
        assert einsql.einsum("i,i->", table, table, con=db.con) == 1.25**2 + 2.5**2
        assert einsql.einsum("i->", table, con=db.con, backend="numpy") == 3.75
        types = db.rows("SELECT typeof(val) FROM dec LIMIT 1") if db.name == "sqlite" else []
        assert types != [("real",)] or db.name != "sqlite"
    finally:
        db.drop("dec")


def test_integer_dtype_over_float_values_is_refused(db: Database) -> None:
    db.execute(
        'DROP TABLE IF EXISTS "fl"',
        'CREATE TABLE "fl" (i0 BIGINT, val DOUBLE PRECISION)',
        'INSERT INTO "fl" VALUES (0, 1.5), (1, 2.5)',
    )
    try:
        with pytest.raises(einsql.OperandError, match="dtype int64"):
            einsql.einsum("i->", einsql.Table("fl", (2,), dtype="int64"), con=db.con)
    finally:
        db.drop("fl")


def test_boolean_tables_with_numeric_operands(db: Database) -> None:
    kind = "INTEGER" if db.name == "sqlite" else "BOOLEAN"
    true = "1" if db.name == "sqlite" else "TRUE"
    db.execute(
        'DROP TABLE IF EXISTS "flags"',
        f'CREATE TABLE "flags" (i0 BIGINT, val {kind})',
        f'INSERT INTO "flags" VALUES (0, {true}), (2, {true})',
    )
    try:
        flags = einsql.Table("flags", (3,), dtype="bool")
        x = np.array([1.0, np.inf, 3.0])
        got = einsql.einsum("i,i->i", flags, x, con=db.con)
        np.testing.assert_array_equal(got, np.einsum("i,i->i", [True, False, True], x))
        got = einsql.einsum("i,i->", flags, np.array([1, 2, 3]), con=db.con)
        assert got == 4
    finally:
        db.drop("flags")


def test_bogus_dtype_and_huge_reference() -> None:
    with pytest.raises(einsql.OperandError, match="dtype"):
        einsql.Table("x", (2,), dtype="bogus")
    huge = einsql.Table("x", (10**6, 10**6))
    with pytest.raises(einsql.ResultSizeError):
        einsql.einsum("ij->ij", huge, backend="numpy", con=duckdb.connect())


# --- complex values, NaN and infinities ---------------------------------------------------


def test_complex_non_finite_parts(db: Database) -> None:
    z = np.array([complex(0, np.inf), complex(np.inf, 0), complex(1, 2)])
    got = einsql.einsum("i->i", z, con=db.con)
    assert got[0].real == 0 and got[0].imag == np.inf and got[1].imag == 0


def test_expressions_refuse_complex_values() -> None:
    x = einsql.var("x", (2,))
    with pytest.raises(einsql.OperandError, match="complex"):
        einsql.evaluate(einsql.sum(x), {"x": np.array([1 + 2j, 3 + 4j])})
    with pytest.raises(einsql.OperandError, match="complex"):
        einsql.evaluate(einsql.sum(x), {"x": np.array([1 + 2j, 3 + 4j])}, backend="numpy")


@pytest.mark.parametrize(
    "equation, arrays",
    [
        ("y,wc->w", [np.ones(0), np.array([[np.inf]])]),
        ("i,i,i->", [np.array([1e200]), np.array([1e200]), np.array([0.0])]),
        ("i,i,i->", [np.array([1e200]), np.array([0.0]), np.array([1e200])]),
        ("i,i,i->", [np.ones(0)] * 3),
    ],
)
def test_nonfinite_corner_cases_match_numpy(db: Database, equation: str, arrays: list) -> None:
    with np.errstate(all="ignore"):
        want = np.einsum(equation, *arrays)
    overflows = equation == "i,i,i->" and arrays[1].size and arrays[1][0] == 1e200
    if overflows and db.name == "postgres":  # it raises where IEEE gives inf
        with pytest.raises(einsql.DatabaseError, match="float value overflowed"):
            einsql.einsum(equation, *arrays, con=db.con)
        return
    got = einsql.einsum(equation, *arrays, con=db.con)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))


@pytest.mark.parametrize("optimize", ["auto", "sparse", "dp", "greedy", "optimal"])
def test_size_zero_labels_under_every_strategy(optimize: str) -> None:
    assert einsql.einsum("i,i,i->", *[np.ones(0)] * 3, optimize=optimize) == 0.0


def test_postgres_float_overflow_says_so(pg_url: str) -> None:
    with pytest.raises(einsql.DatabaseError, match="float value overflowed"):
        einsql.einsum("i,i->", [1e200], [1e200], con=pg_url)


def test_log_sum_exp_of_only_minus_infinity(db: Database) -> None:
    db.execute(
        'DROP TABLE IF EXISTS "lp"',
        'CREATE TABLE "lp" (i0 BIGINT, i1 BIGINT, val DOUBLE PRECISION)',
    )
    minus_inf = "-9e999" if db.name == "sqlite" else "'-Infinity'"
    db.execute(f'INSERT INTO "lp" VALUES (0, 0, {minus_inf}), (0, 1, {minus_inf}), (1, 0, 0.5)')
    try:
        got = einsql.einsum("ij->i", einsql.Table("lp", (2, 2)), con=db.con, semiring="log-sum-exp")
        assert got[0] == -np.inf and np.isclose(got[1], np.log(np.exp(0.5) + 0.0 * 0 + 0))
    finally:
        db.drop("lp")


# --- errors, interrupts, transactions, threads ---------------------------------------------


def test_database_errors_name_the_statement(db: Database) -> None:
    with pytest.raises(einsql.DatabaseError, match="no_such") as info:
        einsql.einsum("i,i->", np.ones(2), einsql.Table("no_such", (2,)), con=db.con)
    assert "table 'no_such'" in str(info.value) and info.value.__cause__ is not None
    assert db.leftovers() == []


def test_passwords_never_appear() -> None:
    with pytest.raises(einsql.EinsqlError) as info:
        einsql.einsum("i->", np.ones(2), con="mysql://bob:secret@host/x")
    assert "secret" not in str(info.value)
    with pytest.raises(einsql.DatabaseError) as info:
        einsql.einsum("i->", np.ones(2), con="postgresql://bob:secret@127.0.0.1:1/x")
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_an_interrupt_between_statements_leaves_nothing(db: Database) -> None:
    from einsql.drivers.duckdb import DuckDBDriver
    from einsql.drivers.postgres import PostgresDriver
    from einsql.drivers.sqlite import SQLiteDriver

    driver = {"duckdb": DuckDBDriver, "postgres": PostgresDriver, "sqlite": SQLiteDriver}[db.name]
    original = driver.result

    def interrupted(self: Any, query: Any) -> Any:
        raise KeyboardInterrupt  # the result's query: after the staged tables were created

    driver.result = interrupted  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            einsql.einsum("ij,jk,kl->il", *[np.ones((2, 2))] * 3, con=db.con, staged=True)
    finally:
        driver.result = original  # type: ignore[method-assign]
    assert db.leftovers() == []
    assert db.rows("SELECT 1") == [(1,)]


def test_errors_inside_a_user_transaction_are_the_real_ones(db: Database) -> None:
    db.execute('DROP TABLE IF EXISTS "mine"', 'CREATE TABLE "mine" (x INTEGER)')
    if db.name == "duckdb":
        db.con.execute("BEGIN")
    db.con.execute('INSERT INTO "mine" VALUES (1)')  # PostgreSQL, SQLite: a transaction opens
    try:
        with pytest.raises(einsql.EinsqlError, match="no_such"):
            einsql.einsum(
                "ij,jk,kl->il",
                np.ones((2, 2)),
                np.ones((2, 2)),
                einsql.Table("no_such", (2, 2)),
                con=db.con,
                staged=True,
            )
        if db.name != "duckdb":  # the user's transaction is still open and usable
            assert db.con.execute('SELECT COUNT(*) FROM "mine"').fetchall() == [(1,)]
    finally:
        db.con.rollback() if db.name != "duckdb" else db.con.execute("ROLLBACK")
    assert db.leftovers() == []
    db.drop("mine")


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_eight_threads_at_once(backend: str, pg_url: str, tmp_path: Path) -> None:
    errors: list[BaseException] = []
    a = np.arange(12.0).reshape(3, 4)

    def work() -> None:
        try:
            if backend == "duckdb":
                con = duckdb.connect(str(tmp_path / "shared.db"))
                cursor = con.cursor()
            else:
                cursor = pg_url
            for _ in range(5):
                np.testing.assert_allclose(einsql.einsum("ij,kj->ik", a, a, con=cursor), a @ a.T)
        except BaseException as error:
            errors.append(error)

    if backend == "duckdb":
        duckdb.connect(str(tmp_path / "shared.db")).close()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_duckdb_loads_while_another_thread_opens_the_same_new_file(tmp_path: Path) -> None:
    # DuckDB adds python_arrow_scan to a new database file only after other
    # threads can connect to it; einsql's registration waits that moment out.
    from einsql.drivers import duckdb as duckdb_driver

    coo = einsql.CooArray(np.array([[0], [2]]), np.array([1.0, 2.0]), (3,))
    errors: list[BaseException] = []
    for trial in range(100):
        path = str(tmp_path / f"new{trial}.db")
        opened: list[duckdb.DuckDBPyConnection] = []

        def load(path: str = path, opened: list[duckdb.DuckDBPyConnection] = opened) -> None:
            opened.append(duckdb.connect(path))
            driver = duckdb_driver.connect(opened[-1])
            try:
                driver.load(coo, "float")
            except BaseException as error:
                errors.append(error)
            finally:
                driver.close(None)

        threads = [
            threading.Thread(target=lambda p=path, o=opened: o.append(duckdb.connect(p))),
            threading.Thread(target=load),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for con in opened:
            con.close()
    assert errors == []


def test_two_hundred_calls_leave_nothing_behind(db: Database) -> None:
    rng = np.random.default_rng(0)
    for k in range(200):
        a = rng.random((3, 3))
        staged = k % 3 == 0
        try:
            got = einsql.einsum("ij,jk->ik", a, a, con=db.con, staged=staged)
            np.testing.assert_allclose(got, a @ a)
            if k % 10 == 0:
                einsql.einsum("ij,jk->ik", a, einsql.Table("missing", (3, 3)), con=db.con)
        except einsql.DatabaseError:
            pass
    assert db.leftovers() == []


FRESH_PROCESS_THREADS = """
import sys, threading
import numpy as np, einsql
url, errors = sys.argv[1], []
a = np.arange(12.0).reshape(3, 4)

def work():
    try:
        for _ in range(3):
            assert np.allclose(einsql.einsum("ij,kj->ik", a, a, con=url), a @ a.T)
    except BaseException as error:
        errors.append(repr(error))

threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
"""


def test_threads_in_a_fresh_process_find_every_dialect_ready(pg_url: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_THREADS, pg_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_postgres_table_recreated_with_other_types_is_read_afresh(pg_url: str) -> None:
    # psycopg prepares a statement it has run five times; einsql's checks of a
    # user table then must not reuse a plan made for the table's old column types.
    import psycopg

    with psycopg.connect(pg_url) as con:
        for dtype, values in (("bigint", "1, 2"), ("double precision", "1.5, 2.5")) * 2:
            con.execute('DROP TABLE IF EXISTS "recreated"')
            con.execute(f'CREATE TABLE "recreated" (i0 int, val {dtype})')
            con.execute(f'INSERT INTO "recreated" VALUES (0, {values.split(", ")[0]})')
            con.execute(f'INSERT INTO "recreated" VALUES (1, {values.split(", ")[1]})')
            con.commit()
            table = einsql.Table(
                "recreated", (2,), dtype="int64" if dtype == "bigint" else "float64"
            )
            expected = sum(float(v) for v in values.split(", "))
            for _ in range(6):
                assert einsql.einsum("i->", table, con=con) == expected
        con.execute('DROP TABLE "recreated"')
        con.commit()
