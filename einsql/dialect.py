"""Dialect adapters: what differs between databases in the SQL text einsql writes.

An adapter is data first: capability flags as class attributes, each with a
one-line docstring, plus small overrides. Adapters live in ``einsql.dialects``
(the top-level ``dialects/`` folder) and are loaded by name, so the core never
imports them statically.

>>> load_dialect("duckdb").name
'duckdb'
"""

from __future__ import annotations

import importlib
from functools import cache

from sqlglot import exp

from einsql.errors import OptionError

#: Adapters shipped in ``einsql.dialects``.
DIALECTS = ("duckdb",)


class Dialect:
    """The defaults every adapter starts from (ANSI SQL with common extensions)."""

    name: str = "ansi"
    """einsql's name for the dialect."""

    sqlglot_dialect: str = ""
    """The sqlglot dialect that renders the text."""

    materialize_steps: bool = True
    """Emit each step ``AS MATERIALIZED`` so the planner keeps the contraction order."""

    max_statement_steps: int = 64
    """Plans with more steps run as staged statements (a temporary table per step)."""

    index_type: str = "INT"
    """SQL type of axis columns for axes shorter than 2**31."""

    wide_index_type: str = "BIGINT"
    """SQL type of axis columns for longer axes."""

    value_types: dict[str, str] = {  # noqa: RUF012 - read-only data
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "float": "DOUBLE",
        "complex": "DOUBLE",
    }
    """SQL type of the value column(s) for each value kind."""

    float_specials: dict[str, str] = {  # noqa: RUF012 - read-only data
        "nan": "NaN",
        "inf": "Infinity",
        "-inf": "-Infinity",
    }
    """How NaN and the infinities are spelled inside ``CAST('...' AS DOUBLE)``."""

    def render(self, tree: exp.Expr, pretty: bool = True) -> str:
        """Render a sqlglot tree as SQL text in this dialect, identifiers quoted."""
        return str(tree.sql(dialect=self.sqlglot_dialect, pretty=pretty, identify=True))

    def parse_type(self, name: str) -> exp.DataType:
        """A SQL type name as a sqlglot type (a fresh copy of a cached parse)."""
        return _parse_type(name, self.sqlglot_dialect).copy()

    def index_range(self, size: int, alias: str) -> exp.Expression:
        """A table ``alias(v)`` of the integers ``0 .. size - 1``."""
        series = exp.Anonymous(
            this="generate_series",
            expressions=[exp.Literal.number(0), exp.Literal.number(size - 1)],
        )
        columns = [exp.to_identifier("v")]
        return exp.Table(
            this=series, alias=exp.TableAlias(this=exp.to_identifier(alias), columns=columns)
        )

    def is_finite(self, value: exp.Expression) -> exp.Expr:
        """True where ``value`` is neither NaN nor infinite (``x - x = 0`` only then)."""
        difference = exp.Sub(this=value.copy(), expression=value.copy())
        return exp.EQ(this=exp.paren(difference), expression=exp.Literal.number(0))

    def __repr__(self) -> str:
        return f"<einsql dialect {self.name}>"


@cache
def _parse_type(name: str, dialect: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect)


@cache
def load_dialect(name: str) -> Dialect:
    """The adapter called ``name``.

    Raises:
        OptionError: no adapter has that name.

    """
    if name not in DIALECTS:
        raise OptionError(f"unknown dialect {name!r}; use one of {', '.join(DIALECTS)}")
    module = importlib.import_module(f"einsql.dialects.{name}")
    dialect: Dialect = module.DIALECT
    return dialect
