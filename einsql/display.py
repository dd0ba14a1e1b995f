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
import sys
from collections.abc import Sequence
from typing import TextIO


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


class Progress:
    """A progress bar on standard error, one tick per step.

    Shown only on a terminal or in a notebook, and only for more than one step.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        interactive = getattr(self.stream, "isatty", lambda: False)() or "ipykernel" in sys.modules
        self.enabled = total > 1 and interactive

    def tick(self) -> None:
        """One more step done."""
        self.done += 1
        if self.enabled:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\reinsql [{bar}] {self.done}/{self.total} steps")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
