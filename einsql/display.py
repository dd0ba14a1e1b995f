"""Tables and SQL as text, Markdown and HTML, for terminals and notebooks.

>>> print(text_table([("step", "rows"), ("t0", "12")]))
step  rows
t0    12
>>> print(markdown_table([("step", "rows"), ("t0", "12")]))
| step | rows |
| --- | --- |
| t0 | 12 |
"""

from __future__ import annotations

import html
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TextIO

from einsql.errors import OptionError


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) as aligned columns."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows
    )


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) as a Markdown table."""
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join("---" for _ in rows[0]) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def html_table(rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """Rows (the first is the header) as an HTML table, text escaped."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class SQL(str):
    r"""SQL text (a ``str``) that a notebook shows highlighted.

    >>> SQL("SELECT 1;")._repr_markdown_()
    '```sql\nSELECT 1;\n```'
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return f"```sql\n{self}\n```"

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import SqlLexer
        except ImportError:  # pragma: no cover - pygments comes with IPython
            return f"<pre>{html.escape(self)}</pre>"
        return str(highlight(str(self), SqlLexer(), HtmlFormatter(noclasses=True)))


#: How progress bars show: ``auto`` (on a terminal or in a notebook), ``on`` or ``off``.
PROGRESS_VARIABLE = "EINSQL_PROGRESS"

#: Seconds a statement runs before its progress bar shows (2 by default).
DELAY_VARIABLE = "EINSQL_PROGRESS_DELAY"

_SWITCH = {"auto": None, "on": True, "1": True, "off": False, "0": False}


def progress_wanted(stream: TextIO) -> bool:
    """Whether progress bars show on ``stream``, as ``EINSQL_PROGRESS`` says.

    ``auto`` (the default) shows them on a terminal or in a notebook only; ``on``
    (or ``1``) shows them on any stream, ``off`` (or ``0``) never.

    >>> import io
    >>> progress_wanted(io.StringIO())
    False

    Raises:
        OptionError: the variable holds another value.

    """
    value = os.environ.get(PROGRESS_VARIABLE, "auto").strip().lower()
    if value not in _SWITCH:
        raise OptionError(f"{PROGRESS_VARIABLE}={value!r}: use auto, on or off")
    forced = _SWITCH[value]
    if forced is not None:
        return forced
    return bool(getattr(stream, "isatty", lambda: False)()) or _in_notebook()


def _in_notebook() -> bool:
    """Whether this is a Jupyter kernel (not merely a process that imported one)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_delay() -> float:
    """Seconds a statement runs before its bar shows: ``EINSQL_PROGRESS_DELAY``, else 2.

    >>> progress_delay()
    2.0

    Raises:
        OptionError: the variable is not a number of seconds.

    """
    value = os.environ.get(DELAY_VARIABLE, "2")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise OptionError(f"{DELAY_VARIABLE}={value!r}: use a number of seconds, 0 or more")
    return seconds


class Progress:
    """A progress bar on standard error, one tick per step.

    Shown only on a terminal or in a notebook (see :func:`progress_wanted`),
    and only for more than one step.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = total > 1 and progress_wanted(self.stream)
        self.width = 0

    def tick(self) -> None:
        """One more step done."""
        self.done += 1
        if self.enabled:
            self.draw(self.done / self.total, f"{self.done}/{self.total} steps")

    def draw(self, fraction: float, note: str) -> None:
        """Show the bar ``fraction`` full, ``note`` after it, over the line drawn last."""
        filled = int(30 * min(max(fraction, 0.0), 1.0))
        line = f"einsql [{'#' * filled}{'.' * (30 - filled)}] {note}"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def clear(self) -> None:
        """Blank the line drawn last (so a bar drawn next starts clean)."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()


class StatementProgress:
    r"""A bar for one long statement, showing the percentage ``poll`` reports.

    ``poll`` (DuckDB's ``query_progress``) is called from a background thread
    every ``interval`` seconds once the statement has run ``delay`` seconds; a
    negative percentage (not known yet) draws nothing. The thread is stopped
    and the line blanked when the block ends, however it ends.

    >>> import io, time
    >>> stream = io.StringIO()
    >>> with StatementProgress(lambda: 42.0, "the query", 0.0, stream, interval=0.01):
    ...     time.sleep(0.1)
    >>> "] 42% the query" in stream.getvalue(), stream.getvalue().endswith("\r")
    (True, True)
    """

    def __init__(
        self,
        poll: Callable[[], float],
        label: str,
        delay: float,
        stream: TextIO | None = None,
        interval: float = 0.2,
    ) -> None:
        self.poll = poll
        self.label = label
        self.delay = delay
        self.interval = interval
        self.bar = Progress(100, stream)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="einsql-progress", daemon=True)

    def __enter__(self) -> StatementProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.bar.clear()

    def _watch(self) -> None:
        """Draw the bar until stopped; a failing ``poll`` ends the bar, never the statement."""
        if self.stopped.wait(self.delay):
            return
        while True:
            try:
                percent = float(self.poll())
            except Exception:  # the database could not say: show nothing more
                return
            if percent >= 0:
                self.bar.draw(percent / 100, f"{percent:.0f}% {self.label}")
            if self.stopped.wait(self.interval):
                return
