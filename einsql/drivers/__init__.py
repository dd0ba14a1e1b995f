"""Drivers: connecting, loading operands, running SQL and fetching rows.

Drivers are separate from dialects (which only write SQL text), as in SQLAlchemy.
``open_driver`` picks the driver for a backend name and a connection.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from einsql.drivers.base import Driver
from einsql.errors import OptionError

#: Backends that run SQL, with the module holding each driver.
DRIVERS = {"duckdb": "einsql.drivers.duckdb"}


def backend_of(con: Any) -> str:
    """The backend that runs SQL on connection ``con``.

    Raises:
        OptionError: einsql has no driver for this kind of connection.
    """
    module = type(con).__module__.split(".")[0].lstrip("_")
    if module == "duckdb":
        return "duckdb"
    kind = f"{type(con).__module__}.{type(con).__qualname__}"
    raise OptionError(
        f"einsql has no driver for connections of type {kind}; "
        f"pass a connection of one of: {', '.join(DRIVERS)}"
    )


@contextmanager
def open_driver(backend: str, con: Any = None) -> Iterator[Driver]:
    """Yield a driver for ``backend`` on ``con`` (opened and closed here if None)."""
    if backend not in DRIVERS:
        raise OptionError(
            f"unknown backend {backend!r}; use one of {', '.join([*DRIVERS, 'numpy'])}"
        )
    module = importlib.import_module(DRIVERS[backend])
    driver: Driver = module.connect(con)
    try:
        yield driver
    finally:
        driver.close()
