"""Shared fixtures: random sparse operands, the NumPy oracle, result comparison."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import opt_einsum
import pytest

from einsql import backends
from einsql.dialect import load_dialect
from einsql.sql import drop_table


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


#: The databases every backend-parametrized test runs on: one per backend record.
BACKENDS = list(backends.names())


def server_url(name: str) -> str | None:
    """The URL of backend ``name``'s test server (its ``test_server`` variable), if set.

    Raises:
        RuntimeError: it is not set but required (``EINSQL_REQUIRE_<NAME>``, as in CI).

    """
    record = backends.find(name)
    assert record.test_server is not None, f"{name} tests need no server"
    url = os.environ.get(record.test_server)
    if url is None and os.environ.get(record.require_variable):
        raise RuntimeError(f"{record.require_variable} is set but {record.test_server} is not")
    return url


def postgres_url() -> str | None:
    """The test PostgreSQL server's URL; None when there is none (an error where required)."""
    return server_url("postgres")


def database_url(name: str) -> str:
    """Where backend ``name``'s tests run: its test server, or a new in-memory database.

    Skips the test when a server is needed and none is set (an error in CI).
    """
    record = backends.find(name)
    if record.test_server is None:
        assert record.memory_url is not None, f"{name} has neither a test server nor memory"
        return record.memory_url
    url = server_url(name)
    if url is None:
        pytest.skip(f"no {name} server: set {record.test_server} or run scripts/test")
    return url


class Database:
    """A test database: its connection and what the tests need to look inside it.

    The connections are shared by the whole suite, so einsql must leave each as
    it found it: no tables of its own and no open transaction. What differs
    between databases comes from the backend's driver module (``in_transaction``,
    ``list_tables``).
    """

    def __init__(self, name: str, con: Any) -> None:
        self.name = name
        self.con = con
        self.driver = backends.find(name).load_driver()
        marker = backends.find(name).test_marker
        self.sampled = marker is not None and not runs_everything(name)
        """Tests here run a sample (Spark): a loop over cases may take one of them."""

    def sample(self, cases: Sequence[Any], key: str) -> Sequence[Any]:
        """``cases``, or on a sampled backend the one that ``key`` picks (stable across runs)."""
        if not self.sampled:
            return cases
        return [cases[zlib.crc32(key.encode()) % len(cases)]]

    def run(self, sql: str) -> Any:
        """Run one statement; return its cursor (a Spark session runs SQL by ``sql``)."""
        return self.con.execute(sql) if hasattr(self.con, "execute") else self.con.sql(sql)

    def execute(self, *statements: str) -> None:
        """Run statements and commit them (roll back if one fails: the connection is shared)."""
        try:
            for statement in statements:
                self.run(statement)
        except BaseException:
            self.end(commit=False)
            raise
        self.end(commit=True)

    def end(self, commit: bool) -> None:
        """Commit or roll back the open transaction, if any."""
        if self.in_transaction():
            self.con.commit() if commit else self.con.rollback()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a query (its transaction, if any, is ended)."""
        ran = self.run(sql)
        # a Spark DataFrame answers every attribute (as a column): ask the connection
        found = ran.fetchall() if hasattr(self.con, "execute") else ran.collect()
        rows = [tuple(row) for row in found]
        self.end(commit=False)
        return rows

    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return bool(self.driver.in_transaction(self.con))

    def leftovers(self) -> list[str]:
        """Tables einsql made and did not remove, and an open transaction if any (ended)."""
        found = ["<open transaction>"] if self.in_transaction() else []
        self.end(commit=False)
        return found + [name for name in self.driver.list_tables(self.con) if "einsql" in name]

    def drop(self, *names: str) -> None:
        """Drop tables the test made."""
        dialect = load_dialect(self.name)
        self.execute(*[dialect.render(drop_table(name), pretty=False) for name in names])

    def __repr__(self) -> str:
        return self.name


def run_script(db: Database, script: str) -> list[tuple[Any, ...]]:
    """Run pasted SQL statement by statement, as a shell would; return the query's rows."""
    rows: list[tuple[Any, ...]] = []
    for statement in (s for s in script.split(";\n") if s.strip()):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            rows = db.rows(statement)
        else:
            db.execute(statement)
    return rows


def open_database(name: str) -> Any:
    """A new connection to a test database of backend ``name`` (skips without its server)."""
    return backends.find(name).load_driver().open_url(database_url(name))


@pytest.fixture(scope="session")
def databases() -> Iterator[dict[str, Database]]:
    """One connection per backend, opened on first use and closed at the end."""
    opened: dict[str, Database] = {}
    yield opened
    for database in opened.values():
        if hasattr(database.con, "close"):  # Spark sessions stay: the process shares them
            database.con.close()


def runs_on(name: str, item: pytest.Item) -> bool:
    """Whether a backend test runs on backend ``name``: all do, unless the backend
    has a ``test_marker`` (Spark), which only marked tests (or parameters) carry to it;
    ``EINSQL_TEST_<NAME>_ALL=1`` runs them all there (against a real cluster, say)."""
    marker = backends.find(name).test_marker
    return marker is None or runs_everything(name) or item.get_closest_marker(marker) is not None


def runs_everything(name: str) -> bool:
    """Whether ``EINSQL_TEST_<NAME>_ALL`` asks for every backend test on ``name`` (not a sample)."""
    return bool(os.environ.get(f"EINSQL_TEST_{name.upper()}_ALL"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the backend tests that do not run on their backend (see ``runs_on``)."""
    kept, left_out = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("db") if callspec is not None else None
        (kept if name is None or runs_on(name, item) else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


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
    return database_url("postgres")


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
