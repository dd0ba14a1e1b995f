"""Errors: bad input (raised before anything reaches a database) and database failures.

Every error is an :class:`EinsqlError`, which is also a :class:`ValueError`, so
code written against ``numpy.einsum`` that catches ``ValueError`` keeps working.
Where ``numpy.einsum`` raises another built-in exception for the same mistake,
einsql's error is that exception too: an argument of the wrong type or a cast
the casting rule forbids is a :class:`TypeError` (:class:`ArgumentError`), an
explicit path that does not fit a :class:`RuntimeError` (:class:`PathError`).

>>> import einsql
>>> issubclass(einsql.SubscriptError, ValueError)
True
>>> issubclass(einsql.ArgumentError, TypeError), issubclass(einsql.PathError, RuntimeError)
(True, True)
"""

from __future__ import annotations

import re


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


class ArgumentError(EinsqlError, TypeError):
    """An argument of the wrong type, or a cast the ``casting`` rule forbids.

    ``numpy.einsum`` raises :class:`TypeError` in these cases, so this error is one too.
    """


class PathError(OptionError, RuntimeError):
    """An explicit contraction path does not fit the operands.

    ``numpy.einsum`` raises :class:`RuntimeError` for an invalid ``einsum_path``,
    so this error is one too.
    """


class ExactnessError(EinsqlError):
    """An integer result cannot be held exactly by the database's integer types."""


class ResultSizeError(EinsqlError):
    """A dense result would be larger than :data:`einsql.results.MAX_DENSE_BYTES`."""


class DatabaseError(EinsqlError):
    """A statement failed in the database; the message says which one and why.

    The database's own exception is kept as ``__cause__``.
    """


#: A URL's ``scheme://user:`` before a password, which runs to the last ``@`` of the URL.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*:)[^\s'\"]*@(?=[^\s@'\"]*(?:[\s'\"]|$))"
)

#: A ``password=`` parameter: in a URL's query or a libpq key=value DSN (quoted or not).
_KEY_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&'\"]*)", re.I)


def first_line(error: BaseException) -> str:
    r"""The first line of an error's message (its repr if it has none), credentials redacted.

    >>> first_line(ValueError("postgresql://bob:pw@h/x failed\nDETAIL: ..."))
    'postgresql://bob:***@h/x failed'
    """
    text = str(error).strip()
    return redact(text.splitlines()[0] if text else repr(error))


def redact(text: str) -> str:
    """``text`` with the password of every connection URL (or DSN) in it shown as ``***``.

    A password holding ``@`` or ``/`` unencoded runs to the URL's last ``@``, so
    a message may hide more than the password but never shows it.

    >>> redact("cannot open 'postgresql://bob:s3cret@db.example:5432/prod'")
    "cannot open 'postgresql://bob:***@db.example:5432/prod'"
    >>> redact("postgresql://bob@host/db?password=s3cret&sslmode=require")
    'postgresql://bob@host/db?password=***&sslmode=require'
    >>> redact("host=db user=bob password='s 3' dbname=prod")
    'host=db user=bob password=*** dbname=prod'
    >>> redact("duckdb:///data.db and postgresql://host:5432/db")
    'duckdb:///data.db and postgresql://host:5432/db'
    """
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _KEY_PASSWORD.sub(r"\g<head>***", text)
