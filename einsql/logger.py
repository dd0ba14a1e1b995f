"""Logging: the SQL einsql runs, each public call's phases and timings, and ``echo``.

Everything goes to the standard :mod:`logging` logger ``einsql``, which has a
:class:`logging.NullHandler` as libraries should, so nothing shows until the
application configures logging:

- DEBUG: each SQL statement, before it runs, with what it is for (the failing
  statement's purpose that errors name, such as ``loading operand 0``), then
  its duration (or that it failed) after it ran. Records carry ``doing`` and
  ``sql`` (or ``seconds``) as attributes. Credentials are redacted.
- INFO: each phase of a public call (``prepare``, ``connect``, ``load``,
  ``run``, ``convert``, ``cleanup``) as it ends, and the call's total. Records
  carry ``call``, ``phase`` and ``seconds``.

``echo=True`` (SQLAlchemy's name) prints these records on standard error for
one call: the logger is set to DEBUG for the call, and a handler writing to
standard error is added unless one already is reachable (so an application that
configured logging sees each line once, in its own format).

>>> import logging
>>> logger.name, [type(h).__name__ for h in logger.handlers]
('einsql', ['NullHandler'])
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from einsql.errors import redact

logger = logging.getLogger("einsql")
logger.addHandler(logging.NullHandler())

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def statement(doing: str, sql: str) -> Iterator[None]:
    """Log one statement at DEBUG: its purpose and SQL before it runs, its duration after.

    >>> with statement("the query of the result", "SELECT 1"):
    ...     pass
    """
    if not logger.isEnabledFor(logging.DEBUG):
        yield
        return
    doing = redact(doing)
    logger.debug("%s: %s", doing, redact(sql), extra={"doing": doing, "sql": redact(sql)})
    start = time.perf_counter()
    try:
        yield
    except BaseException as error:
        seconds = time.perf_counter() - start
        note = f"failed after {seconds:.3f} s ({type(error).__name__})"
        logger.debug("%s: %s", doing, note, extra={"doing": doing, "seconds": seconds})
        raise
    seconds = time.perf_counter() - start
    logger.debug("%s: done in %.3f s", doing, seconds, extra={"doing": doing, "seconds": seconds})


@dataclass
class Timeline:
    """The phases of one public call, each logged at INFO when it ends.

    Attributes:
        call: the public function's name.
        backend: where it runs (set when a database is opened).
        phase: the phase going on.
        totals: the seconds spent in each phase so far.

    >>> timeline = Timeline("einsum")
    >>> timeline.mark("run")
    >>> timeline.phase, list(timeline.totals)
    ('run', ['prepare'])
    """

    call: str
    backend: str = "numpy"
    phase: str = "prepare"
    totals: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    since: float = field(default_factory=time.perf_counter)

    def mark(self, phase: str) -> None:
        """End the phase going on (logging it) and start ``phase``."""
        if phase == self.phase:
            return
        now = time.perf_counter()
        seconds = now - self.since
        self.totals[self.phase] = self.totals.get(self.phase, 0.0) + seconds
        extra = {"call": self.call, "phase": self.phase, "seconds": seconds}
        logger.info("%s: %s took %.3f s", self.call, self.phase, seconds, extra=extra)
        self.phase, self.since = phase, now

    def finish(self, error: BaseException | None) -> None:
        """End the last phase and log the call's total (and how it failed, if it did)."""
        self.mark("")
        seconds = time.perf_counter() - self.started
        if not logger.isEnabledFor(logging.INFO):
            return
        parts = ", ".join(f"{name} {s:.3f} s" for name, s in self.totals.items())
        outcome = "done" if error is None else f"failed ({type(error).__name__})"
        extra = {"call": self.call, "phase": "total", "seconds": seconds}
        message = "%s on %s: %s in %.3f s (%s)"
        logger.info(message, self.call, self.backend, outcome, seconds, parts, extra=extra)


_timeline: ContextVar[Timeline | None] = ContextVar("einsql_timeline", default=None)


def mark(phase: str) -> None:
    """Start ``phase`` of the public call going on, if any (see :class:`Timeline`)."""
    timeline = _timeline.get()
    if timeline is not None:
        timeline.mark(phase)


def ran_on(backend: str) -> None:
    """Record that the public call going on runs on ``backend``."""
    timeline = _timeline.get()
    if timeline is not None:
        timeline.backend = backend


def public(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a public call: its phases are timed, and ``echo=True`` echoes it.

    A public call made by another (``minimize`` calling ``iterate``) is part
    of the outer call's timeline.

    >>> @public("double")
    ... def double(x: int, echo: bool = False) -> int:
    ...     return 2 * x
    >>> double(2, echo=True)
    4
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with echoing(bool(kwargs.get("echo", False))), timed(name):
                return function(*args, **kwargs)

        return call

    return decorate


@contextmanager
def timed(name: str) -> Iterator[None]:
    """A :class:`Timeline` for the call ``name``, unless one is going on already."""
    if _timeline.get() is not None:
        yield
        return
    timeline = Timeline(name)
    token = _timeline.set(timeline)
    try:
        yield
    except BaseException as error:
        timeline.finish(error)
        raise
    finally:
        _timeline.reset(token)
    timeline.finish(None)


class Echo(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes an echoing call's records to standard error (as it is when made).

    A record the application's own handlers already write to standard error
    is left to them, so each line shows once.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        """Only the echoing call's records, and only those no handler of yours shows."""
        return _echo_context.get() and not _shown_on_stderr(record) and bool(super().filter(record))


#: Whether the running call (this thread's context) echoes.
_echo_context: ContextVar[bool] = ContextVar("einsql_echo", default=False)

_echo_lock = threading.Lock()
_echoes = [0, logging.NOTSET, logging.NOTSET]  # calls echoing, the logger's level and floor before


class _Gate(logging.Filter):
    """While a call echoes, the logger is at DEBUG: others' records keep the level they had."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _echo_context.get() or record.levelno >= _echoes[2]


logger.addFilter(_Gate())


@contextmanager
def echoing(enabled: bool) -> Iterator[None]:
    """Print einsql's records on standard error while the block runs, if ``enabled``.

    Only the calling thread's call is echoed: other threads' records keep the
    level the logger had (a filter on the logger drops the rest).

    >>> with echoing(True):
    ...     logger.getEffectiveLevel() == logging.DEBUG
    True
    """
    if not enabled or _echo_context.get():  # an outer call of this thread echoes already
        yield
        return
    token = _echo_context.set(True)
    handler = Echo()
    _lower_level()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        _restore_level()
        _echo_context.reset(token)


def _lower_level() -> None:
    with _echo_lock:
        if _echoes[0] == 0:
            _echoes[1], _echoes[2] = logger.level, logger.getEffectiveLevel()
            logger.setLevel(logging.DEBUG)
        _echoes[0] += 1


def _restore_level() -> None:
    with _echo_lock:
        _echoes[0] -= 1
        if _echoes[0] == 0:
            logger.setLevel(_echoes[1])
            _echoes[2] = logging.NOTSET


def _shown_on_stderr(record: logging.LogRecord) -> bool:
    """Whether a handler of the application writing to standard error shows ``record``.

    Such a handler is the application's (``logging.basicConfig()``); echo's own are not.
    """
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if _writes_stderr(handler) and record.levelno >= handler.level:
                return True
        current = current.parent if current.propagate else None
    return False


def _writes_stderr(handler: logging.Handler) -> bool:
    if isinstance(handler, Echo):
        return False
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and stream in (sys.stderr, sys.__stderr__)
