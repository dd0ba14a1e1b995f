"""Shared fixtures: random sparse operands, the NumPy oracle, result comparison."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import opt_einsum
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        help="examples per database for tests/test_fuzz.py (or EINSQL_FUZZ_EXAMPLES)",
    )


DTYPES = ["float64", "float32", "int64", "bool", "complex128"]
DENSITIES = [0.0, 0.3, 1.0]


def random_operand(
    shape: Sequence[int], dtype: str, density: float, rng: np.random.Generator
) -> np.ndarray:
    """A random array with about ``density`` of its entries nonzero."""
    mask = rng.random(shape) < density
    if dtype == "bool":
        return mask
    if dtype.startswith("int"):
        values = rng.integers(1, 4, size=shape) * rng.choice([-1, 1], size=shape)
    elif dtype.startswith("complex"):
        values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape)
    return np.where(mask, values, 0).astype(dtype)


def oracle(equation: str, arrays: Sequence[np.ndarray]) -> Any:
    """What NumPy says (opt_einsum where NumPy rejects the labels).

    A label repeated in the output, einsql's extension, is computed once and
    then placed on the diagonal.
    """
    if "->" in equation:
        head, output = equation.split("->")
        output = "".join(output.split())
        distinct = "".join(dict.fromkeys(output))
        if distinct != output and "..." not in output:
            inner = np.asarray(oracle(f"{head}->{distinct}", arrays))
            sizes = dict(zip(distinct, inner.shape))
            full = np.zeros([sizes[c] for c in output], dtype=inner.dtype)
            np.einsum(f"{output}->{distinct}", full)[...] = inner
            return full
    try:
        return np.einsum(equation, *arrays)
    except ValueError:
        return opt_einsum.contract(equation, *arrays)


def assert_matches(result: Any, expected: Any) -> None:
    """Equal shape and dtype; exact for integers and bools, close for floats."""
    result, expected = np.asarray(result), np.asarray(expected)
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(result, expected)
    else:
        rtol = 1e-9 if expected.dtype in (np.float64, np.complex128) else 1e-4
        scale = float(np.nanmax(np.abs(expected), initial=1.0))
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * scale)


#: The databases every backend-parametrized test runs on.
BACKENDS = ["duckdb", "postgres", "sqlite"]


def postgres_url() -> str | None:
    """The test server's URL; None when there is none (an error where one is required)."""
    url = os.environ.get("EINSQL_TEST_POSTGRES")
    if url is None and os.environ.get("EINSQL_REQUIRE_POSTGRES"):
        raise RuntimeError("EINSQL_REQUIRE_POSTGRES is set but EINSQL_TEST_POSTGRES is not")
    return url


class Database:
    """A test database: its connection and what the tests need to look inside it.

    The connections are shared by the whole suite, so einsql must leave each as
    it found it: no tables of its own and no open transaction.
    """

    def __init__(self, name: str, con: Any) -> None:
        self.name = name
        self.con = con

    def execute(self, *statements: str) -> None:
        """Run statements and commit them (roll back if one fails: the connection is shared)."""
        try:
            for statement in statements:
                self.con.execute(statement)
        except BaseException:
            if self.name != "duckdb":
                self.con.rollback()
            raise
        if self.name != "duckdb":
            self.con.commit()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a query (its transaction, if any, is ended)."""
        if self.name == "duckdb":
            return self.con.sql(sql).fetchall()
        rows = list(self.con.execute(sql).fetchall())
        self.con.rollback()
        return rows

    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        if self.name == "postgres":
            from psycopg.pq import TransactionStatus

            return self.con.info.transaction_status != TransactionStatus.IDLE
        if self.name == "sqlite":
            return bool(self.con.in_transaction)
        return False

    def leftovers(self) -> list[str]:
        """Tables einsql made and did not remove, and an open transaction if any."""
        found = ["<open transaction>"] if self.in_transaction() else []
        query = {
            "duckdb": "SELECT table_name FROM information_schema.tables",
            "postgres": "SELECT relname FROM pg_class",
            "sqlite": "SELECT name FROM sqlite_schema UNION ALL "
            "SELECT name FROM temp.sqlite_schema",
        }[self.name]
        return found + [r[0] for r in self.rows(query) if "einsql" in r[0]]

    def drop(self, *names: str) -> None:
        """Drop tables the test made."""
        self.execute(*['DROP TABLE IF EXISTS "' + n.replace('"', '""') + '"' for n in names])

    def __repr__(self) -> str:
        return self.name


def open_database(name: str) -> Any:
    """A new connection to a test database of backend ``name`` (skips without PostgreSQL)."""
    if name == "duckdb":
        return duckdb.connect()
    if name == "sqlite":
        return sqlite3.connect(":memory:")
    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL server: set EINSQL_TEST_POSTGRES or run scripts/test")
    import psycopg

    return psycopg.connect(url)


@pytest.fixture(scope="session")
def databases() -> Iterator[dict[str, Database]]:
    """One connection per backend, opened on first use and closed at the end."""
    opened: dict[str, Database] = {}
    yield opened
    for database in opened.values():
        database.con.close()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, databases: dict[str, Database]) -> Database:
    """Each test database in turn; ``notimpl`` markers name a backend's real limits.

    ``@pytest.mark.notimpl(["sqlite"], raises=SomeError, reason=...)`` makes the
    test a strict xfail there, so a limit that goes away is noticed.
    """
    name = request.param
    marker = request.node.get_closest_marker("notimpl")
    if marker is not None and name in marker.args[0]:
        reason = marker.kwargs.get("reason", "")
        raises = marker.kwargs.get("raises")
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason, raises=raises))
    if name not in databases:
        databases[name] = Database(name, open_database(name))
    return databases[name]


@pytest.fixture()
def duck(databases: dict[str, Database]) -> duckdb.DuckDBPyConnection:
    """The shared DuckDB connection (for tests about DuckDB itself)."""
    if "duckdb" not in databases:
        databases["duckdb"] = Database("duckdb", duckdb.connect())
    con: duckdb.DuckDBPyConnection = databases["duckdb"].con
    return con


def leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names einsql created in a DuckDB connection and did not remove."""
    return Database("duckdb", con).leftovers()


@pytest.fixture()
def pg_url() -> str:
    """The test PostgreSQL server's URL (the test skips without one, outside CI)."""
    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL server: set EINSQL_TEST_POSTGRES or run scripts/test")
    return url


def psql_rows(url: str, script: str) -> list[list[str]]:
    psql = shutil.which("psql")
    assert psql is not None, "psql is needed to check pasted SQL"
    done = subprocess.run(
        [psql, "-X", "-q", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", url],
        input=script,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(",") for line in done.stdout.splitlines() if line]
