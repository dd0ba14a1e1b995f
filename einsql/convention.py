"""The COO convention: how a tensor is a table, and what a lowering hands to a driver.

A tensor is a table with one integer column per axis, named ``i0, i1, ...``,
and a value column ``val`` (complex values: ``val_re`` and ``val_im``), one
row per nonzero. Every result einsql writes follows it, so a result can be fed
back as an operand. Every column name of the convention comes from here.

>>> axis_columns(2), value_columns("float")
(('i0', 'i1'), ('val',))
>>> Relation("A", axis_columns(2), value_columns("int"), "int").ndim
2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sqlglot import exp

    from einsql.dialect import Dialect
    from einsql.operands import CooArray

#: The value column of a real tensor.
VALUE = "val"

#: The value columns of a complex tensor: the real part, then the imaginary part.
COMPLEX_VALUES = ("val_re", "val_im")


def axis_column(k: int) -> str:
    """The column of axis ``k``.

    >>> axis_column(3)
    'i3'
    """
    return f"i{k}"


def axis_columns(rank: int) -> tuple[str, ...]:
    """The axis columns of a tensor with ``rank`` axes.

    >>> axis_columns(3)
    ('i0', 'i1', 'i2')
    """
    return tuple(axis_column(k) for k in range(rank))


def value_columns(kind: str) -> tuple[str, ...]:
    """The value columns for a value kind.

    >>> value_columns("complex")
    ('val_re', 'val_im')
    """
    return COMPLEX_VALUES if kind == "complex" else (VALUE,)


@dataclass(frozen=True)
class Relation:
    """Where an operand's rows come from.

    Attributes:
        name: a table name (``schema.table`` allowed), or the CTE name for inline rows.
        axes: the column of each axis.
        values: the value column(s).
        kind: the value kind stored (``bool``, ``int``, ``float``, ``complex``).
        rows: inline rows, rendered as a typed ``VALUES`` list (for pasteable SQL).
        bound: the largest magnitude of an integer value, if known (it picks exact
            integer types: products that could pass 2**63 are computed wider).
        stored: the kind the table's columns really hold when it differs from
            ``kind`` (``decimal``, ``bool``, ...); values are converted on read.

    """

    name: str
    axes: tuple[str, ...]
    values: tuple[str, ...]
    kind: str
    rows: CooArray | None = field(default=None, compare=False)
    bound: int | None = None
    stored: str | None = None

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.axes)

    def renamed(self, name: str) -> Relation:
        """The same columns read from the table ``name`` (inline rows dropped).

        >>> Relation("t", ("i0",), ("val",), "float").renamed("u").name
        'u'
        """
        return Relation(
            name, self.axes, self.values, self.kind, bound=self.bound, stored=self.stored
        )


def coo_relation(name: str, ndim: int, kind: str = "float", bound: int | None = None) -> Relation:
    """A table or CTE ``name`` in the convention, with ``ndim`` axes.

    >>> coo_relation("t", 2, "complex").values
    ('val_re', 'val_im')
    """
    return Relation(name, axis_columns(ndim), value_columns(kind), kind, bound=bound)


@dataclass(frozen=True)
class Program:
    """SQL computing one result: statements to run, then a query returning it.

    Attributes:
        setup: statements run first, in order (staged steps and their drops).
        query: the ``SELECT`` returning ``i0, i1, ..., val`` rows of the result.
        teardown: statements run after the query (dropping what it read).
        temporaries: every temporary table the program creates, for cleanup on error.
        duplicates: the query returns one row per product of the last step,
            whose repeated index tuples the client sums (``Layout.client_sum``).

    """

    setup: tuple[exp.Expr, ...]
    query: exp.Query
    teardown: tuple[exp.Expr, ...] = ()
    temporaries: tuple[str, ...] = ()
    duplicates: bool = False

    @property
    def statements(self) -> tuple[exp.Expr, ...]:
        """Every statement in order: the setup, the query, the teardown."""
        return (*self.setup, self.query, *self.teardown)

    def render(self, dialect: Dialect) -> str:
        """The whole program as SQL text, statements ending in ``;``."""
        return "\n".join(dialect.render(s, copy=False) + ";" for s in self.statements)


def stored_values(values: np.ndarray, kind: str) -> np.ndarray:
    """Values computed as ``kind`` as a database holds them: ``uint64`` integers in int64.

    A ``uint64`` value of 2**63 or more fits no signed 64-bit column, but its
    two's complement (the value minus 2**64) does, and sums and products of
    those are the same modulo 2**64: the result, taken modulo 2**64, is what
    NumPy's ``uint64`` arithmetic gives.

    >>> stored_values(np.array([1, 2**64 - 2], dtype=np.uint64), "int").tolist()
    [1, -2]
    """
    return values.view(np.int64) if values.dtype == np.uint64 and kind == "int" else values
