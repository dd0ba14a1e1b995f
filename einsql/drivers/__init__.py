"""Drivers: connecting, loading operands, running SQL and fetching rows.

Drivers are separate from dialects (which only write SQL text), as in SQLAlchemy.
``open_driver`` accepts every kind of connection einsql knows, picks the driver,
and makes sure the work ends cleanly. Which backend a connection, URL or engine
belongs to is read from the backend records (:mod:`einsql.backends`), and each
backend's driver module opens its own URLs, so nothing here names a database.

>>> backend_of(None), backend_of("sqlite://"), backend_of("postgresql+psycopg://h/db")
('duckdb', 'sqlite', 'postgres')
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from einsql import backends
from einsql.drivers.base import Driver, quietly
from einsql.errors import DatabaseError, EinsqlError, OptionError, first_line, redact
from einsql.logger import mark, ran_on


@dataclass(frozen=True)
class Resolved:
    """A resolved connection: the backend, the native connection, who closes it.

    Attributes:
        backend: the backend's name (see :mod:`einsql.backends`).
        native: the driver-level connection (a duckdb, psycopg or sqlite3 one, ...).
        release: what einsql closes when done (a connection it opened, or a
            SQLAlchemy pool checkout), or None when the caller owns everything.

    """

    backend: str
    native: Any
    release: Any = None


def backend_of(con: Any, backend: str | None = None) -> str:
    """The backend that runs SQL on ``con`` (a connection, engine, URL or None).

    Nothing is opened. Raises as :func:`resolve` does.
    """
    return _checked(con, backend)[0]


def _checked(con: Any, backend: str | None) -> tuple[str, Any]:
    found, opener = _classify(con, backend)
    if backend is not None and backend != found:
        raise OptionError(f"backend={backend!r} does not match a {found} connection")
    return found, opener


def resolve(con: Any, backend: str | None = None) -> Resolved:
    """Turn ``con`` into a native connection, opening one for URLs and None.

    Args:
        con: None, a native connection of a backend (duckdb, psycopg 3, sqlite3),
            a SQLAlchemy ``Engine`` or ``Connection``, or a URL with one of the
            backends' schemes (``duckdb:///path``, ``postgresql://...``,
            ``postgresql+psycopg://...``, ``sqlite:///path``) or a libpq
            key=value DSN.
        backend: the backend asked for; None takes the connection's. With
            ``con=None`` it opens that backend's in-memory database (its
            ``memory_url``; the default backend's when None too).

    Raises:
        OptionError: an unknown kind of connection, URL or backend, or a
            backend that does not match the connection.

    """
    resolved: Resolved = _checked(con, backend)[1]()
    return resolved


def _classify(con: Any, backend: str | None = None) -> tuple[str, Any]:
    """The backend of ``con`` and a function opening its native connection."""
    if backend is not None and backend not in backends.names():
        raise OptionError(
            f"unknown backend {backend!r}; use one of {', '.join([*backends.names(), 'numpy'])}"
        )
    if con is None:
        return _classify_memory(backends.find(backend) if backend else backends.default())
    if isinstance(con, str):
        return _classify_url(con)
    module = type(con).__module__.split(".")[0].lstrip("_")
    record = backends.by_module(module)
    if record is not None:
        return record.name, lambda: Resolved(record.name, con)
    if module == "sqlalchemy":
        return _classify_sqlalchemy(con)
    kind = f"{type(con).__module__}.{type(con).__qualname__}"
    modules = [name for r in backends.registry() for name in r.modules]
    raise OptionError(
        f"einsql has no driver for connections of type {kind}; pass a {_or(modules)} "
        "connection, a SQLAlchemy Engine or Connection, or a URL"
    )


def _or(words: list[str]) -> str:
    """``'a, b or c'``.

    >>> _or(["duckdb"]), _or(["duckdb", "psycopg", "sqlite3"])
    ('duckdb', 'duckdb, psycopg or sqlite3')
    """
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _classify_memory(record: backends.Backend) -> tuple[str, Any]:
    """An in-memory database of ``record``'s backend, closed when the call ends.

    The driver module's ``open_memory`` gives it if there is one (DuckDB: a
    cursor of the process's in-memory database); else ``memory_url`` opens one.
    """
    url = record.memory_url
    if url is None:
        raise OptionError(f"the {record.name} backend needs con= (a connection or a URL)")
    open_memory = getattr(record.load_driver(), "open_memory", None)
    if open_memory is None:
        return _classify_url(url)
    return record.name, lambda: _opened(record.name, open_memory())


def _classify_url(url: str) -> tuple[str, Any]:
    """The backend a URL (or a DSN) names; its driver module opens the connection."""
    scheme, separator, _ = url.partition("://")
    record = backends.by_scheme(scheme) if separator else backends.by_bare(url)
    if record is None and not separator and "=" in url:  # a string such as "host=... dbname=..."
        record = backends.by_dsn()
    if record is None:
        schemes = [s for r in backends.registry() for s in r.schemes]
        raise OptionError(
            f"cannot open {redact(url)!r}: use a URL starting with one of "
            f"{', '.join(s + '://' for s in schemes)}"
        )
    return record.name, lambda: _opened_url(url, record)


def _opened_url(url: str, record: backends.Backend) -> Resolved:
    """The connection ``url`` names: closed after the call, unless the driver shares it."""
    if hasattr(record.load_driver(), "open_shared"):  # the process keeps it (Spark)
        return Resolved(record.name, _connecting(url, record, shared=True))
    return _opened(record.name, _connecting(url, record))


def _connecting(url: str, record: backends.Backend, shared: bool = False) -> Any:
    """The driver's ``open_url(url)`` (``open_shared``: one the process keeps open).

    A failure is a :class:`einsql.DatabaseError`, redacted.
    """
    driver = record.load_driver()
    try:
        opener: Any = getattr(driver, "open_shared", None) if shared else driver.open_url
        return opener(url)
    except EinsqlError:
        raise
    except Exception as error:
        raise DatabaseError(f"connecting to {redact(url)!r} failed: {first_line(error)}") from error


def _opened(backend: str, native: Any) -> Resolved:
    return Resolved(backend, native, release=native)


def _classify_sqlalchemy(con: Any) -> tuple[str, Any]:
    """An Engine lends a pooled connection (returned when done); a Connection is used."""
    key = (con.dialect.name, con.dialect.driver)
    record = backends.by_sqlalchemy(*key)
    if record is None:
        pairs = [f"{d}+{p}" for r in backends.registry() for d, p in r.sqlalchemy]
        raise OptionError(
            f"the SQLAlchemy engine uses {key[0]}+{key[1]}, which einsql has no driver for; "
            f"use one of {', '.join(pairs)}"
        )
    backend = record.name

    # The driver module's ``from_sqlalchemy`` unwraps what the SQLAlchemy dialect
    # hands out (duckdb_engine wraps its DuckDB connection); by default it is native.
    unwrap = getattr(record.load_driver(), "from_sqlalchemy", lambda native: native)

    def open_native() -> Resolved:
        if hasattr(con, "raw_connection"):  # an Engine
            pooled = con.raw_connection()
            return Resolved(backend, unwrap(pooled.driver_connection), release=pooled)
        return Resolved(backend, unwrap(con.connection.driver_connection))

    return backend, open_native


@contextmanager
def open_driver(con: Any = None, backend: str | None = None) -> Iterator[Driver]:
    """Yield a driver on ``con`` (see ``resolve``); clean up whatever happens.

    The driver's tables are dropped, its transaction ends (rolled back if the
    work failed, an interrupt included), and only connections einsql opened are
    closed. A failure while cleaning up never hides the error that stopped the
    work. The database's own errors come out as :class:`einsql.DatabaseError`
    (or :class:`einsql.ExactnessError` for an integer overflow) naming the
    statement that failed, the original kept as ``__cause__``.
    """
    mark("connect")
    connection = resolve(con, backend)
    ran_on(connection.backend)
    try:
        module = backends.find(connection.backend).load_driver()
        driver: Driver = module.connect(connection.native)
    except BaseException:
        if connection.release is not None:
            connection.release.close()
        raise
    try:
        yield driver
    except BaseException as error:
        doing = driver.doing  # what failed, before cleanup runs statements of its own
        mark("cleanup")
        quietly(partial(_finish, driver, connection, error), error)
        driver.doing = doing
        _raise_translated(driver, error)
    mark("cleanup")
    try:
        _finish(driver, connection, None)
    except BaseException as error:
        _raise_translated(driver, error)
    mark("convert")


def _raise_translated(driver: Driver, error: BaseException) -> NoReturn:
    """Raise ``error`` as einsql reports it (see ``Driver.translate``), the original as cause."""
    translated = driver.translate(error)
    if translated is error:
        raise error
    raise translated from error


def _finish(driver: Driver, connection: Resolved, error: BaseException | None) -> None:
    try:
        driver.close(error)
    finally:
        if connection.release is not None:
            connection.release.close()
