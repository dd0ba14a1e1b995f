"""The one namespace of generated names, and the one check of user names.

Every name einsql generates (the CTEs of a statement, the tables of a staged
script, loaded operands, the savepoints of a driver) starts with
:data:`RESERVED`; every name a user gives (a table, its columns, an ``into=``
table, a variable read as a table) is checked by :func:`check_user_name`, which
refuses names in that namespace. So a generated name can never hide, replace or
drop a user's table, in any statement form. Databases compare some identifiers
without regard to case (DuckDB, SQLite), so the check ignores case.

>>> generated("t0")
'__einsql_t0'
>>> check_user_name("__EINSQL_t0", "table operand 2")
Traceback (most recent call last):
...
einsql.errors.OperandError: table operand 2 is named '__EINSQL_t0', but names starting with \
'__einsql' are reserved for the tables and CTEs einsql generates; rename it
"""

from __future__ import annotations

from einsql.errors import OperandError

#: The prefix of every name einsql generates.
RESERVED = "__einsql_"


def generated(name: str) -> str:
    """``name`` in the reserved namespace (what every generated CTE or table is called)."""
    return RESERVED + name


def is_reserved(name: str) -> bool:
    """Whether ``name`` lies in the reserved namespace (case ignored).

    >>> is_reserved("__Einsql_x"), is_reserved("einsql_x")
    (True, False)
    """
    return name.casefold().startswith(RESERVED.rstrip("_").casefold())


def check_user_name(name: str, what: str) -> None:
    """Raise unless ``name`` can name a user's table or column.

    Args:
        name: one identifier (a part of a dotted table name, or a column name).
        what: what the name belongs to, for the message.

    Raises:
        OperandError: the name is not a string, is empty, holds a NUL character
            (no database stores one), or is reserved.

    """
    if not isinstance(name, str):
        raise OperandError(f"{what} needs a name that is a str, not {type(name).__name__}")
    if not name:
        raise OperandError(f"{what} has an empty name")
    if "\x00" in name:
        raise OperandError(f"{what} is named {name!r}, which holds a NUL character")
    if is_reserved(name):
        raise OperandError(
            f"{what} is named {name!r}, but names starting with {RESERVED.rstrip('_')!r} are "
            "reserved for the tables and CTEs einsql generates; rename it"
        )


def check_table_name(name: str, what: str) -> None:
    """Check every dot-separated part of a table name with :func:`check_user_name`.

    >>> check_table_name("analytics.edges", "table operand 0")
    >>> check_table_name("a..b", "table operand 0")
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: table operand 0 has an empty name part in 'a..b'
    """
    if isinstance(name, str) and name and any(part == "" for part in name.split(".")):
        raise OperandError(f"{what} has an empty name part in {name!r}")
    check_user_name(name, what)  # a str, not empty
    for part in name.split("."):
        check_user_name(part, what)
