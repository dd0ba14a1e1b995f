"""Errors raised for bad input, before anything reaches a database.

Every error is an :class:`EinsqlError`, which is also a :class:`ValueError`, so
code written against ``numpy.einsum`` that catches ``ValueError`` keeps working.

>>> import einsql
>>> issubclass(einsql.SubscriptError, ValueError)
True
"""

from __future__ import annotations


class EinsqlError(ValueError):
    """Base class of every error einsql raises for bad input."""


class SubscriptError(EinsqlError):
    """The subscripts string or the sublists are malformed."""


class ShapeError(EinsqlError):
    """Operand shapes disagree with the subscripts or with each other."""


class OperandError(EinsqlError):
    """An operand is not something einsql can read (ragged, non-numeric, ...)."""


class OptionError(EinsqlError):
    """An option (backend, dialect, optimize, output form, ...) is not valid."""


class ExactnessError(EinsqlError):
    """An integer result cannot be held exactly by the database's integer types."""


class ResultSizeError(EinsqlError):
    """A dense result would be larger than :data:`einsql.results.MAX_DENSE_BYTES`."""
