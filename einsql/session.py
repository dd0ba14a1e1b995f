"""Sessions: repeated work on one database through one connection.

>>> import numpy as np
>>> with connect("sqlite://") as session:
...     session.einsum("ij,jk->ik", np.eye(2), np.ones((2, 2))).tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from einsql.api import einsum, to_sql
from einsql.catalog import table
from einsql.drivers import Resolved, resolve
from einsql.operands import Table


class Session:
    """A database einsql works in: ``einsum`` and ``to_sql`` bound to its connection.

    Made by :func:`einsql.connect`. Closing the session closes the connection
    only if the session opened it (from a URL or None).

    Attributes:
        backend: the backend's name (one of ``einsql.backends.names()``).
        con: the native connection einsql runs on.
        echo: whether its calls print their SQL and timings on standard error.

    """

    def __init__(self, resolved: Resolved, echo: bool = False) -> None:
        self.backend = resolved.backend
        self.con = resolved.native
        self.echo = echo
        self._owned = resolved.release

    def einsum(self, *operands: Any, **options: Any) -> Any:
        """:func:`einsql.einsum` on this session's database (echoed if the session echoes)."""
        options.setdefault("echo", self.echo)
        return einsum(*operands, con=self.con, **options)

    def to_sql(self, *operands: Any, **options: Any) -> str:
        """:func:`einsql.to_sql` in this session's dialect."""
        return to_sql(*operands, dialect=self.backend, **options)

    def table(self, name: str, shape: Any = None, **layout: Any) -> Table:
        """A table of this database, read by :func:`einsql.table` where something is not given.

        With a whole shape, the :class:`einsql.Table` is made as given (no query).
        """
        if shape is not None and None not in tuple(shape):
            return Table(name, shape, **layout)
        return table(name, self.con, shape, **layout)

    def close(self) -> None:
        """Close the connection if the session opened it."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<einsql session on {self.backend}>"


def connect(con: Any = None, backend: str | None = None, echo: bool = False) -> Session:
    """A session on ``con``: a URL, a connection, a SQLAlchemy engine, or None.

    ``None`` opens a new in-memory database (the default backend's, DuckDB, or
    ``backend``'s). A SQLAlchemy ``Engine`` lends one pooled connection for the
    session's life. With ``echo=True`` every call of the session prints its SQL
    statements and timings on standard error, as SQLAlchemy's ``echo`` does
    (see :mod:`einsql.logger`).

    Raises:
        OptionError: an unknown kind of connection or URL.

    """
    return Session(resolve(con, backend), echo)
