"""Backend records: one per database einsql runs SQL on, declared by its adapter.

Each adapter ``dialects/NAME.py`` (imported as ``einsql.dialects.NAME``) holds its
SQL differences as ``DIALECT`` and, if einsql can run SQL there, its identity as
``BACKEND``: the driver module, URL schemes, SQLAlchemy names, native connection
modules, how to open an in-memory database, and where its tests find a server.
Everything that picks or lists backends (connections, ``DIALECTS``, the command
line, the test fixtures) reads these records, so a new database is two new files:
its adapter and its driver ``einsql/drivers/NAME.py``.

The registry is found by scanning the package with ``pkgutil``, not kept by
hand: an adapter module with a ``BACKEND`` is a backend, one without (a text-only
target) is not. Registering in ``__init_subclass__`` (as sqlglot's metaclass
does) would see only the adapters already imported, so the package would have to
be scanned anyway, and any subclass of a ``Dialect`` (a test's, a user's tweak)
would register too. Adapters import the core, so the scan runs on first use
(then cached), never at import; the order is fixed by ``priority`` and name.

>>> names()
('duckdb', 'postgres', 'sqlite', 'spark')
>>> default().name, find("postgres").memory_url
('duckdb', None)
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from einsql.errors import OptionError

if TYPE_CHECKING:
    from einsql.drivers.base import Driver

#: The package holding the adapters (the top-level ``dialects/`` folder).
ADAPTERS = "einsql.dialects"


class DriverModule(Protocol):
    """What a driver module ``einsql/drivers/NAME.py`` offers, as module-level functions."""

    def connect(self, con: Any) -> Driver:
        """A driver running einsql's work on the native connection ``con``."""

    def open_url(self, url: str) -> Any:
        """A new native connection from a URL of one of the backend's schemes (or a DSN)."""

    def in_transaction(self, con: Any) -> bool:
        """Whether a transaction is open on ``con`` (tests check none is left open)."""

    def list_tables(self, con: Any) -> list[str]:
        """The names of the tables on ``con``, temporary ones included, leaving it as it was."""

    # Optional: ``open_memory() -> native connection`` for ``con=None`` (a cursor of a
    # database shared by the process, say), closed when the call ends; without it,
    # ``con=None`` opens the backend's ``memory_url``.
    # Optional: ``open_shared(url) -> native connection`` opens URLs instead of
    # ``open_url``, with a connection the process keeps: einsql never closes it
    # (a Spark session takes seconds to start).


@dataclass(frozen=True)
class Backend:
    """What einsql knows about a database by name, declared next to its ``DIALECT``.

    >>> record = Backend("toy", "einsql.drivers.toy", schemes=("toy",), memory_url="toy://")
    >>> record.require_variable
    'EINSQL_REQUIRE_TOY'
    """

    name: str
    """einsql's name for it (``backend=``, ``dialect=``), its adapter's ``DIALECT.name``."""

    driver: str
    """Its driver module (see :class:`DriverModule`), imported when first needed."""

    schemes: tuple[str, ...]
    """URL schemes naming it, SQLAlchemy style (``postgresql+psycopg``), lower case."""

    sqlalchemy: tuple[tuple[str, str], ...] = ()
    """SQLAlchemy (dialect name, DB-API driver) pairs whose connections einsql unwraps."""

    modules: tuple[str, ...] = ()
    """Top-level modules of its native connection types (``type(con).__module__``, no ``_``)."""

    memory_url: str | None = None
    """A URL opening a new in-memory database, used for ``con=None``; None: it needs ``con=``."""

    dsn: bool = False
    """A string with ``=`` but no ``://`` is a connection string for it (libpq ``key=value``)."""

    bare: str | None = None
    """A regular expression matching whole strings without ``://`` that name it (Spark's
    ``local[2]`` masters)."""

    test_server: str | None = None
    """The environment variable naming its test server's URL; None: tests run in memory."""

    test_marker: str | None = None
    """The pytest marker of the backend tests that run on it by default (None: all of them);
    ``EINSQL_TEST_<NAME>_ALL=1`` runs all."""

    priority: int = 100
    """Listing order, lowest first; the first backend is the default (``con=None``)."""

    @property
    def require_variable(self) -> str:
        """The environment variable that makes a missing test server an error (CI)."""
        return f"EINSQL_REQUIRE_{self.name.upper()}"

    def load_driver(self) -> DriverModule:
        """The driver module, imported on first use."""
        return cast("DriverModule", importlib.import_module(self.driver))


@cache
def registry() -> tuple[Backend, ...]:
    """Every adapter's ``BACKEND``, by ``priority`` and then name.

    The adapters are imported by scanning ``einsql.dialects``; the result is cached.
    """
    package = importlib.import_module(ADAPTERS)
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        record = getattr(importlib.import_module(f"{ADAPTERS}.{info.name}"), "BACKEND", None)
        if isinstance(record, Backend):
            found.append(record)
    return tuple(sorted(found, key=lambda record: (record.priority, record.name)))


def names() -> tuple[str, ...]:
    """The backends' names, in registry order (``DIALECTS``)."""
    return tuple(record.name for record in registry())


def default() -> Backend:
    """The backend used when neither a connection nor a backend is given."""
    return registry()[0]


def find(name: str) -> Backend:
    """The backend called ``name``.

    Raises:
        OptionError: no backend has that name (the message lists those that do).

    >>> find("oracle")
    Traceback (most recent call last):
    ...
    einsql.errors.OptionError: unknown backend 'oracle'; use one of duckdb, postgres, sqlite, spark
    """
    for record in registry():
        if record.name == name:
            return record
    raise OptionError(f"unknown backend {name!r}; use one of {', '.join(names())}")


def by_scheme(scheme: str) -> Backend | None:
    """The backend a URL scheme names (any case), if any.

    >>> by_scheme("PostgreSQL+psycopg").name, by_scheme("mysql")
    ('postgres', None)
    """
    return next((r for r in registry() if scheme.lower() in r.schemes), None)


def by_module(module: str) -> Backend | None:
    """The backend whose native connections come from top-level ``module``, if any."""
    return next((record for record in registry() if module in record.modules), None)


def by_sqlalchemy(dialect: str, driver: str) -> Backend | None:
    """The backend of a SQLAlchemy dialect and DB-API driver, if einsql unwraps it."""
    return next((r for r in registry() if (dialect, driver) in r.sqlalchemy), None)


def by_bare(text: str) -> Backend | None:
    """The backend whose ``bare`` pattern matches all of ``text``, if any.

    >>> by_bare("local[2]").name, by_bare("local[two]")
    ('spark', None)
    """
    return next((r for r in registry() if r.bare and re.fullmatch(r.bare, text)), None)


def by_dsn() -> Backend | None:
    """The backend that takes connection strings without a scheme, if any."""
    return next((record for record in registry() if record.dsn), None)
