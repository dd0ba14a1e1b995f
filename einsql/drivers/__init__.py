"""Drivers: connecting, loading operands, running SQL and fetching rows.

Drivers are separate from dialects (which only write SQL text), as in SQLAlchemy.
``open_driver`` accepts every kind of connection einsql knows, picks the driver,
and makes sure the work ends cleanly.

>>> backend_of(None), backend_of("sqlite://"), backend_of("postgresql+psycopg://h/db")
('duckdb', 'sqlite', 'postgres')
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from einsql.drivers.base import Driver, quietly
from einsql.errors import DatabaseError, OptionError, first_line, redact

#: Backends that run SQL, with the module holding each driver.
DRIVERS = {
    "duckdb": "einsql.drivers.duckdb",
    "postgres": "einsql.drivers.postgres",
    "sqlite": "einsql.drivers.sqlite",
}

#: URL schemes, SQLAlchemy style, and the backend each names.
SCHEMES = {
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "postgres": "postgres",
    "postgresql+psycopg": "postgres",
}

#: The top-level module of each driver's native connection type.
_MODULES = {"duckdb": "duckdb", "psycopg": "postgres", "sqlite3": "sqlite"}


@dataclass(frozen=True)
class Resolved:
    """A resolved connection: the backend, the native connection, who closes it.

    Attributes:
        backend: the backend name (a key of ``DRIVERS``).
        native: the driver-level connection (duckdb, psycopg or sqlite3), or None
            for a new in-memory database.
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
        con: None, a duckdb / psycopg 3 / sqlite3 connection, a SQLAlchemy
            ``Engine`` or ``Connection``, or a URL (``duckdb:///path``,
            ``postgresql://...``, ``postgresql+psycopg://...``, ``sqlite:///path``)
            or a libpq key=value DSN.
        backend: the backend asked for; None takes the connection's. With
            ``con=None`` it picks the in-memory database (duckdb or sqlite).

    Raises:
        OptionError: an unknown kind of connection, URL or backend, or a
            backend that does not match the connection.

    """
    resolved: Resolved = _checked(con, backend)[1]()
    return resolved


def _classify(con: Any, backend: str | None = None) -> tuple[str, Any]:
    """The backend of ``con`` and a function opening its native connection."""
    if backend is not None and backend not in DRIVERS:
        raise OptionError(
            f"unknown backend {backend!r}; use one of {', '.join([*DRIVERS, 'numpy'])}"
        )
    if con is None:
        name = backend or "duckdb"
        if name == "postgres":
            raise OptionError("the postgres backend needs con= (a connection or a URL)")
        return name, lambda: Resolved(name, None)
    if isinstance(con, str):
        return _classify_url(con)
    module = type(con).__module__.split(".")[0].lstrip("_")
    if module in _MODULES:
        return _MODULES[module], lambda: Resolved(_MODULES[module], con)
    if module == "sqlalchemy":
        return _classify_sqlalchemy(con)
    kind = f"{type(con).__module__}.{type(con).__qualname__}"
    raise OptionError(
        f"einsql has no driver for connections of type {kind}; pass a duckdb, psycopg 3 "
        "or sqlite3 connection, a SQLAlchemy Engine or Connection, or a URL"
    )


def _classify_url(url: str) -> tuple[str, Any]:
    scheme, separator, rest = url.partition("://")
    if not separator and "=" in url:  # a libpq DSN such as "host=... dbname=..."
        scheme, rest = "postgresql", url
    backend = SCHEMES.get(scheme.lower())
    if backend is None:
        raise OptionError(
            f"cannot open {redact(url)!r}: use a URL starting with one of "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    if backend == "postgres":
        target = url if not separator else "postgresql://" + rest
        return backend, lambda: _opened(backend, _connecting(url, _open_postgres, target))
    path = rest[1:] if rest.startswith("/") else rest  # SQLAlchemy style: ///relative, ////abs
    return backend, lambda: _opened(
        backend, _connecting(url, lambda p: _open_file(backend, p), path or ":memory:")
    )


def _connecting(url: str, opener: Any, target: str) -> Any:
    """``opener(target)``; a failure is a :class:`einsql.DatabaseError` without credentials."""
    try:
        return opener(target)
    except Exception as error:
        raise DatabaseError(f"connecting to {redact(url)!r} failed: {first_line(error)}") from error


def _opened(backend: str, native: Any) -> Resolved:
    return Resolved(backend, native, release=native)


def _open_postgres(target: str) -> Any:
    import psycopg

    return psycopg.connect(target)


def _open_file(backend: str, path: str) -> Any:
    if backend == "duckdb":
        import duckdb

        return duckdb.connect(path)
    import sqlite3

    return sqlite3.connect(path)


#: SQLAlchemy (dialect name, DB-API driver) pairs einsql can unwrap.
_SQLALCHEMY = {
    ("duckdb", "duckdb_engine"): "duckdb",
    ("postgresql", "psycopg"): "postgres",
    ("sqlite", "pysqlite"): "sqlite",
}


def _classify_sqlalchemy(con: Any) -> tuple[str, Any]:
    """An Engine lends a pooled connection (returned when done); a Connection is used."""
    key = (con.dialect.name, con.dialect.driver)
    backend = _SQLALCHEMY.get(key)
    if backend is None:
        raise OptionError(
            f"the SQLAlchemy engine uses {key[0]}+{key[1]}, which einsql has no driver for; "
            "use postgresql+psycopg://, sqlite:// or duckdb:// (duckdb_engine)"
        )

    def open_native() -> Resolved:
        if hasattr(con, "raw_connection"):  # an Engine
            pooled = con.raw_connection()
            return Resolved(backend, pooled.driver_connection, release=pooled)
        return Resolved(backend, con.connection.driver_connection)

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
    connection = resolve(con, backend)
    try:
        module = importlib.import_module(DRIVERS[connection.backend])
        driver: Driver = module.connect(connection.native)
    except BaseException:
        if connection.release is not None:
            connection.release.close()
        raise
    if connection.native is None:
        connection = Resolved(connection.backend, driver.con)  # the driver owns it
    try:
        yield driver
    except BaseException as error:
        doing = driver.doing  # what failed, before cleanup runs statements of its own
        quietly(partial(_finish, driver, connection, error), error)
        driver.doing = doing
        _raise_translated(driver, error)
    try:
        _finish(driver, connection, None)
    except BaseException as error:
        _raise_translated(driver, error)


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
