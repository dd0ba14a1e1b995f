"""The Spark driver: operands go in as Arrow, through temporary views; rows come out as Arrow.

``con=`` is a ``SparkSession``, classic or Spark Connect, or a URL: ``sc://host:port``
(Spark Connect), ``spark://host:port`` (a standalone master) or ``local[N]``. A
session starts in seconds (about 10 s locally, 45 s cold), so einsql keeps the
sessions it opens from URLs for the life of the process (``open_shared``) and
never stops a session, its own or the caller's.

Each operand becomes a temporary view of a DataFrame made from an Arrow table
with an explicit schema (empty operands too), under a reserved name. A staged
step (``CACHE TABLE`` in the SQL text, see ``dialects/spark.py``) runs as a local
checkpoint viewed by name, which cuts its lineage (``run_statement``). The driver drops every
view it made when it closes, and runs its statements with ANSI mode on (integer
overflow raises rather than wraps) and constraint propagation off (see
``SETTINGS``; both put back at close). Spark has
no transactions: ``into=`` with ``if_exists="replace"`` drops the old table and
renames the new one in two statements.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql.connect.session import SparkSession as ConnectSession
from sqlglot import exp

from einsql.convention import Relation, axis_columns, value_columns
from einsql.dialect import load_dialect
from einsql.drivers.arrow import arrow_rows, arrow_table
from einsql.drivers.base import Driver, Rows, load_columns, quietly
from einsql.errors import ExactnessError, OptionError
from einsql.operands import CooArray

#: Spark's conditions for a number that does not fit its type (ANSI mode on).
OVERFLOWS = ("ARITHMETIC_OVERFLOW", "NUMERIC_VALUE_OUT_OF_RANGE", "CAST_OVERFLOW")

#: The session setting that makes overflow raise.
ANSI = "spark.sql.ansi.enabled"

#: Session settings einsql's statements run with, put back when the driver closes:
#: ANSI mode, so overflow raises instead of wrapping; and no constraint propagation,
#: which fails on a union over a checkpoint of a join ("key not found", Spark 4.1:
#: the checkpoint keeps constraints on attributes its union rewrite cannot map), and
#: whose cost grows with a plan's depth.
SETTINGS = {ANSI: "true", "spark.sql.constraintPropagation.enabled": "false"}

#: What pyspark sets, process-wide, once it opens a Spark Connect session; from then on
#: its builder makes Connect sessions only.
CONNECT_MODE = "SPARK_CONNECT_MODE_ENABLED"

_sessions: dict[str, Any] = {}
_sessions_lock = threading.Lock()


def is_session(con: Any) -> bool:
    """Whether ``con`` is a Spark session (classic or Spark Connect)."""
    return isinstance(con, (SparkSession, ConnectSession))


def connect(con: Any) -> SparkDriver:
    """A driver on the Spark session ``con`` (never stopped by einsql)."""
    if not is_session(con):
        raise OptionError(f"the spark backend needs a SparkSession, got {type(con).__name__}")
    return SparkDriver(con)


def open_shared(url: str) -> Any:
    """The session for ``url``, opened on first use and kept for the process.

    ``sc://...`` opens a Spark Connect session; anything else is a master URL
    (``local[2]``, ``spark://host:7077``) for a classic session, of which a
    process has one: a second master URL gets the session already running.
    """
    with _sessions_lock:
        session = _sessions.get(url)
        if session is None or _stopped(session):
            session = _sessions[url] = _open(url)
        return session


def open_url(url: str) -> Any:
    """A session for ``url`` (see :func:`open_shared`)."""
    return open_shared(url)


def _open(url: str) -> Any:
    builder: Any = SparkSession.builder
    if url.startswith("sc://"):
        return builder.remote(url).getOrCreate()
    if CONNECT_MODE in os.environ or "SPARK_REMOTE" in os.environ:
        raise OptionError(
            f"{url!r} needs a classic Spark session, but pyspark opens only Spark Connect "
            "sessions in a process that has opened one (or sets SPARK_REMOTE): pass con= "
            "a SparkSession or an sc:// URL"
        )
    return builder.master(url).config("spark.ui.enabled", "false").getOrCreate()


def _stopped(session: Any) -> bool:
    stopped = getattr(session, "is_stopped", False)
    return bool(stopped)


def in_transaction(con: Any) -> bool:
    """Spark SQL has no transactions: never."""
    return False


def list_tables(con: Any) -> list[str]:
    """The tables of the current database and the temporary views on ``con``."""
    return [row[1] for row in con.sql("SHOW TABLES").collect()]


class SparkDriver(Driver):
    """Runs einsql programs on one Spark session."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.dialect = load_dialect("spark")
        self.prefix = f"__einsql_{secrets.token_hex(4)}_"
        self.views: list[str] = []
        self.checkpoints: list[Any] = []  # frames whose rows staged views read
        self.errors = (PySparkException,)
        self.doing = "setting ANSI mode on and constraint propagation off"
        self.saved = {key: self._setting(key) for key in SETTINGS}
        try:
            for key, value in SETTINGS.items():
                self._set(key, value)
        except BaseException as error:
            quietly(self._restore, error)
            raise

    def _restore(self) -> None:
        """Put back the session settings einsql changed."""
        for key, value in self.saved.items():
            self._set(key, value)

    def _setting(self, key: str) -> str | None:
        value = self.con.conf.get(key, None)
        return None if value is None else str(value)

    def _set(self, key: str, value: str | None) -> None:
        if value is None:
            self.con.conf.unset(key)
        else:
            self.con.conf.set(key, value)

    def _load(self, coo: CooArray, kind: str) -> Relation:
        """Make ``coo`` a temporary view (from Arrow, with an explicit schema)."""
        name = f"{self.prefix}o{len(self.views)}"  # o: loaded operands (a: inlined ones)
        columns = load_columns(coo, kind, self.dialect)
        schema = ", ".join(f"`{c}` {sql_type}" for c, (sql_type, _) in columns.items())
        frame = self.con.createDataFrame(arrow_table(coo, kind), schema=schema)
        frame.createTempView(name)
        self.views.append(name)
        return Relation(name, axis_columns(len(coo.shape)), value_columns(kind), kind)

    def _execute(self, sql: str) -> None:
        """Run one statement (Spark runs commands as soon as they are parsed)."""
        self.con.sql(sql)

    def _query(self, sql: str) -> Rows:
        """Run one query; fetch it through Arrow."""
        return arrow_rows(self.con.sql(sql).toArrow())

    def run_statement(self, statement: exp.Expr) -> None:
        """``CACHE TABLE name AS query`` runs as a local checkpoint of the query, viewed as name.

        The SQL text's cached view is resolved by name, and its whole lineage
        analyzed, every time it is read: a loop of steps each reading the last
        slows down with every step (an iteration of 20 steps did not finish in
        10 minutes). A checkpoint is computed once and its view reads the
        rows, not their history. The frames are kept until the driver closes.
        """
        if not isinstance(statement, exp.Cache):
            super().run_statement(statement)
            return
        query = self.sql(statement.expression)
        with self.running(query):
            frame = self.con.sql(query).localCheckpoint(eager=True)
            frame.createTempView(statement.this.name)
        self.checkpoints.append(frame)

    def describe(self, sql: str) -> list[tuple[str, str]]:
        """The columns of a query and their Spark types (the query is analyzed, not run)."""
        with self.logged(sql):
            schema = self.con.sql(sql).schema
        return [(field.name, field.dataType.simpleString()) for field in schema.fields]

    def translate(self, error: BaseException) -> BaseException:
        """Spark's overflow conditions become :class:`einsql.ExactnessError`."""
        if isinstance(error, PySparkException) and error.getCondition() in OVERFLOWS:
            return ExactnessError(self._overflow_advice(_message(error)))
        return super().translate(error)

    def close(self, error: BaseException | None = None) -> None:
        """Drop the loaded operands' views and put the session's settings back (it stays)."""
        try:
            self.doing = "dropping the loaded operands"
            for name in self.views:
                self.con.catalog.dropTempView(name)
        except BaseException as failure:
            quietly(self._restore, failure)
            raise
        finally:
            self.views.clear()
            self.checkpoints.clear()
        self.doing = "putting the session's settings back"
        self._restore()

    def progress(self) -> Callable[[], float] | None:
        """Spark reports no progress einsql can read portably (classic and Connect): none."""
        return None


def _message(error: PySparkException) -> str:
    """Spark's message without its JVM stack trace."""
    return str(error.getMessage() or error).strip().splitlines()[0]
