"""The SQL toolkit every lowering builds with: sqlglot nodes, made directly.

Identifiers and columns are built as nodes, never as strings sqlglot would
tokenize, and nothing here copies a tree it is given, except the guards that
read a value several times (``guarded_exp``, ``by_class``), which copy it: a
lowering owns the nodes it builds and puts each in exactly one place (build a
node again rather than reuse it). The shapes einsql writes again and again live here once: a
``SELECT`` with joins, ``UNION ALL`` summed by group, CTE chains, guarded
arithmetic, typed literals and ``VALUES`` lists.

>>> from einsql.dialect import load_dialect
>>> duck = load_dialect("duckdb")
>>> query = select([named(column("i0", "a"), "i0")], aliased(table_ref("s.t"), "a"))
>>> duck.render(where(query, [column("i0", "a").eq(number(1))]), pretty=False)
'SELECT "a"."i0" AS "i0" FROM "s"."t" AS "a" WHERE "a"."i0" = 1'
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeVar

from sqlglot import exp

from einsql.convention import VALUE, stored_values

if TYPE_CHECKING:
    from einsql.convention import Relation
    from einsql.dialect import Dialect

#: A query kind kept through a change (``with_ctes`` returns what it was given).
QueryT = TypeVar("QueryT", bound=exp.Query)


@contextmanager
def building() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while large plans and trees are built.

    Every sqlglot node points to its parent, so each tree is a web of cycles,
    and the collector's full passes while thousands of nodes are allocated
    cost more than building them (a 1,000-step plan: about half the time).
    Nothing is lost: the cycles are collected once the collector runs again.
    Calls nest and may come from several threads; the collector is restored
    to its state before the first of them once the last ends. Third-party code
    (a path optimizer's search) runs outside it.
    """
    entered = False
    try:
        with _PAUSE:
            if _PAUSED[0] == 0:
                _PAUSED[1] = int(gc.isenabled())
                gc.disable()
            _PAUSED[0] += 1
            entered = True
        yield
    finally:
        if entered:
            with _PAUSE:
                _PAUSED[0] -= 1
                if _PAUSED[0] == 0 and _PAUSED[1]:
                    gc.enable()


#: Guards ``_PAUSED``: how many ``building`` blocks are open, and whether gc was enabled.
_PAUSE = threading.Lock()
_PAUSED = [0, 0]


def identifier(name: str) -> exp.Identifier:
    """A name as an identifier node, quoted (so rendering never asks whether it must be)."""
    return exp.Identifier(this=name, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    """The column ``name``, of the table or alias ``table`` if given."""
    if table is None:
        return exp.Column(this=identifier(name))
    return exp.Column(this=identifier(name), table=identifier(table))


def number(value: int | float | str) -> exp.Expr:
    """A numeric literal."""
    return exp.Literal.number(value)


def table_ref(name: str) -> exp.Table:
    """A table reference; dots separate schema (and catalog) from the table name.

    >>> table_ref("c.s.t").sql()
    '"c"."s"."t"'
    """
    *prefix, last = name.split(".")
    parts: dict[str, Any] = {"this": identifier(last)}
    if prefix:
        parts["db"] = identifier(prefix[-1])
    if len(prefix) > 1:
        parts["catalog"] = identifier(prefix[-2])
    return exp.Table(**parts)


def aliased(item: exp.Expr, alias: str, columns: Sequence[str] = ()) -> exp.Expr:
    """``item AS alias[(columns)]``: a table, a query (as a subquery) or a table function."""
    table_alias = exp.TableAlias(this=identifier(alias))
    if columns:
        table_alias.set("columns", [identifier(c) for c in columns])
    if isinstance(item, exp.Query):
        return exp.Subquery(this=item, alias=table_alias)
    item.set("alias", table_alias)
    return item


def named(value: exp.Expr, name: str) -> exp.Alias:
    """``value AS name`` in a select list."""
    return exp.Alias(this=value, alias=identifier(name))


def select(columns: Sequence[exp.Expr], source: exp.Expr | None = None) -> exp.Select:
    """``SELECT columns [FROM source]``."""
    query = exp.Select(expressions=list(columns))
    if source is not None:
        query.set("from_", exp.From(this=source))
    return query


def joined(query: exp.Select, item: exp.Expr, on: Sequence[exp.Expr] = ()) -> exp.Select:
    """``query`` joined with ``item``: on the conditions, or a cross join without any."""
    join = exp.Join(this=item, on=all_of(on)) if on else exp.Join(this=item, kind="CROSS")
    query.append("joins", join)
    return query


def where(query: exp.Select, conditions: Sequence[exp.Expr]) -> exp.Select:
    """``query WHERE`` all ``conditions`` (``query`` unchanged without any).

    The clause is set, not added to: call it once per query, with every condition.
    """
    if conditions:
        query.set("where", exp.Where(this=all_of(conditions)))
    return query


def grouped(query: exp.Select, keys: Sequence[exp.Expr]) -> exp.Select:
    """``query GROUP BY keys``; without keys, a one-row aggregate of at least one row.

    An aggregate without ``GROUP BY`` returns a row even over no rows; ``HAVING
    COUNT(*) > 0`` keeps an empty input empty, as a sparse result must. The
    clause is set, not added to.
    """
    if keys:
        query.set("group", exp.Group(expressions=list(keys)))
    else:
        query.set("having", exp.Having(this=nonempty()))
    return query


def nonempty() -> exp.Expr:
    """``COUNT(*) > 0``."""
    return exp.GT(this=exp.Count(this=exp.Star()), expression=number(0))


def all_of(conditions: Sequence[exp.Expr]) -> exp.Expr:
    """The conjunction of ``conditions`` (at least one); an ``OR`` among them in parentheses."""
    wrapped = [exp.Paren(this=c) if isinstance(c, exp.Or) else c for c in conditions]
    return reduce(lambda a, b: exp.And(this=a, expression=b), wrapped)


def equal(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """``a = b``."""
    return exp.EQ(this=a, expression=b)


def union_all(parts: Sequence[exp.Query]) -> exp.Query:
    """``parts[0] UNION ALL parts[1] ...``."""
    return reduce(lambda a, b: exp.Union(this=a, expression=b, distinct=False), parts)


def summed_union(
    parts: Sequence[exp.Query],
    axes: Sequence[str],
    values: Sequence[str],
    total: Callable[[exp.Expr], exp.Expr],
) -> exp.Select:
    """The rows of ``parts`` (each with columns ``axes, values``), summed per index.

    ``SELECT axes, total(values) FROM (parts UNION ALL ...) AS u GROUP BY axes``.
    """
    keys = [named(column(c, "u"), c) for c in axes]
    sums = [named(total(column(c, "u")), c) for c in values]
    query = select([*keys, *sums], aliased(union_all(parts), "u"))
    return grouped(query, [column(c, "u") for c in axes])


def with_ctes(
    query: QueryT,
    ctes: Sequence[tuple[str, exp.Query]],
    materialized: bool = False,
    recursive: bool = False,
) -> QueryT:
    """``WITH name AS [MATERIALIZED] (body), ... query`` (``query`` itself, changed).

    ``materialized=False`` leaves the choice to the database (no keyword).
    """
    if not ctes:
        return query
    mark = True if materialized else None
    nodes = [
        exp.CTE(this=body, alias=exp.TableAlias(this=identifier(name)), materialized=mark)
        for name, body in ctes
    ]
    existing = query.args.get("with_")
    if existing is not None:
        nodes = [*existing.expressions, *nodes]
        recursive = recursive or bool(existing.args.get("recursive"))
    query.set("with_", exp.With(expressions=nodes, recursive=recursive or None))
    return query


def parenthesized(value: exp.Expr) -> exp.Expr:
    """``value``, in parentheses if it is an operation (sqlglot does not add them).

    Columns, literals and function calls (``CAST`` and ``CASE`` among them) stand alone.
    """
    if isinstance(value, (exp.Column, exp.Literal, exp.Paren, exp.Func)):
        return value
    return exp.Paren(this=value)


def binary(kind: type[exp.Binary], a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """``a op b`` with both sides parenthesized as needed."""
    return kind(this=parenthesized(a), expression=parenthesized(b))


def case(pairs: Sequence[tuple[exp.Expr, exp.Expr]], default: exp.Expr) -> exp.Expr:
    """``CASE WHEN c THEN v ... ELSE default END``."""
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in pairs], default=default)


def float_literal(x: float, dialect: Dialect) -> exp.Expr:
    """A double literal: ``2.5e0``, or the dialect's spelling of NaN and the infinities."""
    if math.isfinite(x):
        text = repr(x)
        return number(text if "e" in text else text + "e0")
    key = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return dialect.float_special(key, dialect.parse_type(dialect.value_types["float"]))


def guarded_exp(x: exp.Expr, dialect: Dialect) -> exp.Expr:
    """``EXP(x)`` that saturates to inf or 0 as IEEE does (PostgreSQL raises instead).

    NaN stays NaN. ``x`` is copied into each branch.
    """
    overflow = exp.GT(this=x.copy(), expression=float_literal(709.782712893384, dialect))
    underflow = exp.LT(this=x.copy(), expression=float_literal(-745.0, dialect))
    finite = case(
        [
            (overflow, float_literal(math.inf, dialect)),
            (underflow, float_literal(0.0, dialect)),
        ],
        exp.Exp(this=x.copy()),
    )
    return by_class(x, dialect, finite, math.inf, 0.0)


def by_class(
    x: exp.Expr,
    dialect: Dialect,
    finite: exp.Expr,
    at_inf: float,
    at_minus_inf: float,
    at_nan: float = math.nan,
) -> exp.Expr:
    """``finite`` for finite ``x``; the given values at the infinities and at NaN.

    Comparisons alone cannot tell NaN apart: PostgreSQL and DuckDB rank NaN
    above every number (``NaN > 0`` is true) and SQLite stores it as NULL.
    """
    return case(
        [
            (dialect.is_finite(x.copy()), finite),
            (
                exp.EQ(this=x.copy(), expression=float_literal(math.inf, dialect)),
                float_literal(at_inf, dialect),
            ),
            (
                exp.EQ(this=x.copy(), expression=float_literal(-math.inf, dialect)),
                float_literal(at_minus_inf, dialect),
            ),
        ],
        float_literal(at_nan, dialect),
    )


def read_value(column: exp.Expr, stored: str | None, kind: str, dialect: Dialect) -> exp.Expr:
    """A value stored as ``stored`` read as ``kind`` (complex: each part as a float).

    Booleans become numbers through ``CASE`` (PostgreSQL casts no boolean to a
    number); other kinds through ``CAST``; a value already of ``kind`` (or of a
    database without column types) is read as it is.
    """
    target = "float" if kind == "complex" else kind
    if stored in (None, "dynamic", target):
        return column
    to = dialect.parse_type(dialect.value_types[target])
    if stored == "bool":
        one, zero = (exp.Cast(this=number(n), to=to.copy()) for n in (1, 0))
        return case([(column, one)], zero)
    return exp.Cast(this=column, to=to)


def values_query(rel: Relation, dialect: Dialect) -> exp.Select:
    """``rel.rows`` as a typed ``VALUES`` list with the relation's column names."""
    assert rel.rows is not None
    coo = rel.rows
    types = [dialect.parse_type(dialect.axis_type(n)) for n in coo.shape]
    types += [dialect.parse_type(dialect.value_types[rel.kind]) for _ in rel.values]
    names = [*rel.axes, *rel.values]
    if coo.nnz == 0:
        nulls = [named(exp.Cast(this=exp.null(), to=t), c) for t, c in zip(types, names)]
        return where(select(nulls), [exp.false()])
    rows = [
        exp.Tuple(
            expressions=[
                *[number(int(i)) for i in index],
                *_value_literals(value, rel.kind, dialect),
            ]
        )
        for index, value in zip(coo.coords.tolist(), stored_values(coo.values, rel.kind).tolist())
    ]
    named_columns = dialect.values_column_aliases
    sources = names if named_columns else [f"column{k + 1}" for k in range(len(names))]
    values = exp.Values(expressions=rows)
    source = aliased(values, "v", names if named_columns else ())
    casts = [
        named(exp.Cast(this=column(s, "v"), to=t), c) for t, s, c in zip(types, sources, names)
    ]
    return select(casts, source)


def _value_literals(value: Any, kind: str, dialect: Dialect) -> list[exp.Expr]:
    if kind == "bool":
        return [exp.true() if value else exp.false()]
    if kind == "int":
        return [number(int(value))]
    if kind == "complex":
        z = complex(value)
        return [float_literal(z.real, dialect), float_literal(z.imag, dialect)]
    return [float_literal(float(value), dialect)]


def create_table_as(name: str, query: exp.Query, temporary: bool = True) -> exp.Create:
    """``CREATE [TEMPORARY] TABLE name AS query``."""
    properties = exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None
    return exp.Create(this=table_ref(name), kind="TABLE", expression=query, properties=properties)


def int64_values(query: exp.Query, dialect: Dialect) -> exp.Select:
    """``query``'s rows with the value column cast to the dialect's 64-bit integer.

    An exact sum (DuckDB's ``HUGEINT``, PostgreSQL's ``numeric``) that does not
    fit makes the database raise, never wrap.
    """
    rows = query.subquery("r", copy=False)
    names = [c.alias_or_name for c in query.selects]
    columns: list[exp.Expr] = [exp.column(c, table="r") for c in names if c != VALUE]
    integer = dialect.parse_type(dialect.value_types["int"])
    columns.append(exp.Cast(this=exp.column(VALUE, table="r"), to=integer).as_(VALUE))
    return exp.select(*columns).from_(rows, copy=False)


def rename_table(name: str, to: str) -> exp.Alter:
    """``ALTER TABLE name RENAME TO to`` (``to``'s schema is ``name``'s: the last part counts).

    >>> rename_table("s.new", "s.old").sql()
    'ALTER TABLE "s"."new" RENAME TO "old"'
    """
    target = exp.Table(this=identifier(to.split(".")[-1]))
    return exp.Alter(this=table_ref(name), kind="TABLE", actions=[exp.AlterRename(this=target)])


def drop_table(name: str) -> exp.Drop:
    """``DROP TABLE IF EXISTS name``."""
    return exp.Drop(tables=[table_ref(name)], kind="TABLE", exists=True)
