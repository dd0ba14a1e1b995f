"""Backend records: one per database, declared by its adapter, consistent with its driver."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import textwrap
from collections import Counter

import einsql.dialects
import numpy as np
import pytest
from conftest import BACKENDS

import einsql
import einsql.dialect
from einsql import backends
from einsql.drivers import backend_of

RECORDS = backends.registry()


def adapters() -> list[str]:
    return [info.name for info in pkgutil.iter_modules(einsql.dialects.__path__)]


def test_every_adapter_with_a_backend_is_registered_in_order() -> None:
    declared = [
        name
        for name in adapters()
        if hasattr(importlib.import_module(f"einsql.dialects.{name}"), "BACKEND")
    ]
    assert sorted(backends.names()) == sorted(declared)
    assert backends.default().name == "duckdb" == backends.names()[0]
    assert list(backends.names()) == BACKENDS
    assert backends.names() == einsql.dialect.DIALECTS


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_a_record_matches_its_adapter_and_driver(record: backends.Backend) -> None:
    adapter = importlib.import_module(f"einsql.dialects.{record.name}")
    assert adapter.BACKEND is record
    assert adapter.DIALECT.name == record.name
    driver = record.load_driver()
    for function in ("connect", "open_url", "in_transaction", "list_tables"):
        assert callable(getattr(driver, function)), f"{record.driver} has no {function}()"
    assert record.schemes and all(scheme == scheme.lower() for scheme in record.schemes)
    assert record.memory_url is not None or record.test_server is not None
    if record.memory_url is not None:
        assert backend_of(record.memory_url) == record.name


def test_no_two_backends_claim_the_same_name_scheme_or_connection() -> None:
    claims = Counter(
        [("name", record.name) for record in RECORDS]
        + [("scheme", scheme) for record in RECORDS for scheme in record.schemes]
        + [("sqlalchemy", pair) for record in RECORDS for pair in record.sqlalchemy]
        + [("module", module) for record in RECORDS for module in record.modules]
    )
    assert [claim for claim, count in claims.items() if count > 1] == []


def test_at_most_one_backend_takes_connection_strings() -> None:
    assert sum(record.dsn for record in RECORDS) <= 1


def test_messages_list_every_backend() -> None:
    with pytest.raises(einsql.OptionError) as unknown:
        einsql.einsum("i->", np.ones(2), backend="oracle")
    with pytest.raises(einsql.OptionError) as url:
        einsql.einsum("i->", np.ones(2), con="oracle://host/db")
    for record in RECORDS:
        assert record.name in str(unknown.value)
        assert all(f"{scheme}://" in str(url.value) for scheme in record.schemes)


def test_each_driver_lists_tables_and_transactions(db) -> None:
    assert db.driver.in_transaction(db.con) is False
    db.execute("CREATE TABLE listed_by_einsql (x INTEGER)")
    try:
        assert "listed_by_einsql" in db.driver.list_tables(db.con)
        assert db.driver.in_transaction(db.con) is False  # listing leaves no transaction
    finally:
        db.drop("listed_by_einsql")


# --- a new database is two new files -----------------------------------------------------

ADAPTER = '''
"""A toy database: SQLite's SQL and driver under another name."""

from einsql.backends import Backend
from einsql.dialects.sqlite import SQLite


class Toy(SQLite):
    """Toy adapter."""

    name = "toydb"


DIALECT = Toy()

BACKEND = Backend(
    name="toydb",
    driver="toydb_driver",
    schemes=("toydb",),
    memory_url="toydb://",
)
'''

DRIVER = '''
"""The toy driver: SQLite's."""

from einsql.drivers.sqlite import connect, in_transaction, list_tables, open_url
'''


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """An adapter file in the adapters' folder, a driver module on the path: nothing else."""
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "toydb.py").write_text(textwrap.dedent(ADAPTER))
    (tmp_path / "toydb_driver.py").write_text(textwrap.dedent(DRIVER))
    monkeypatch.setattr(
        einsql.dialects, "__path__", [*einsql.dialects.__path__, str(tmp_path / "adapters")]
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backends.registry.cache_clear()
    yield
    backends.registry.cache_clear()
    for module in ("einsql.dialects.toydb", "toydb_driver"):
        sys.modules.pop(module, None)


def test_a_new_adapter_and_driver_are_all_a_database_needs(toy) -> None:
    assert "toydb" in backends.names() and "toydb" in einsql.dialect.DIALECTS
    assert backend_of("toydb:///x.db") == "toydb"
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(einsql.einsum("ij,kj->ik", a, a, con="toydb://"), a @ a.T)
    with einsql.connect(backend="toydb") as session:
        assert session.backend == "toydb"
        np.testing.assert_allclose(session.einsum("ij->j", a), a.sum(0))
    with pytest.raises(einsql.OptionError, match="toydb://"):
        backend_of("oracle://host/db")
