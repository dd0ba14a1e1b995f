"""Cut a long chain of CTEs into staged statements, each a temporary table.

An expression lowers to one CTE per node (several per einsum), and a derivative
of a deep expression to thousands; one statement holding them all passes
DuckDB's expression depth limit of 1,000 and SQLite's 65,535 references to one
table. :func:`staged` cuts the chain, in its order, into groups of at most
``limit`` CTEs. A CTE that a later group reads becomes a temporary table of the
same name (``CREATE TEMPORARY TABLE ... AS WITH ...``), so no query changes; so
does a CTE that two statements of its group would read, so nothing is
computed twice. Every other CTE rides in the one statement that reads it.
Each table is dropped right after the last statement reading it; the result
table by the program's teardown.

>>> from sqlglot import exp
>>> from einsql.dialect import load_dialect
>>> from einsql.sql import table_ref
>>> def plus_one(name):
...     value = exp.Add(this=exp.column("val"), expression=exp.Literal.number(1))
...     return exp.select(value.as_("val")).from_(table_ref(name))
>>> ctes = [("t0", exp.select(exp.Literal.number(0).as_("val")))]
>>> ctes += [(f"t{k}", plus_one(f"t{k - 1}")) for k in range(1, 5)]
>>> program = staged(ctes, exp.select(exp.column("val")).from_(table_ref("t4")), 2, False)
>>> for statement in program.statements:
...     print(load_dialect("duckdb").render(statement, pretty=False))
CREATE TEMPORARY TABLE "t1" AS WITH "t0" AS (SELECT 0 AS "val") SELECT "val" + 1 AS "val" FROM "t0"
CREATE TEMPORARY TABLE "t3" AS WITH "t2" AS (SELECT "val" + 1 AS "val" FROM "t1") \
SELECT "val" + 1 AS "val" FROM "t2"
DROP TABLE IF EXISTS "t1"
CREATE TEMPORARY TABLE "t4" AS SELECT "val" + 1 AS "val" FROM "t3"
DROP TABLE IF EXISTS "t3"
SELECT "val" FROM "t4"
DROP TABLE IF EXISTS "t4"
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from einsql.convention import Program
from einsql.dialect import Dialect
from einsql.sql import drop_table, with_ctes

#: Named subqueries, in the order they must be defined.
Ctes = Sequence[tuple[str, exp.Query]]


def staged(
    ctes: Ctes,
    query: exp.Query,
    limit: int,
    materialized: bool,
    dialect: Dialect | None = None,
) -> Program:
    """``query`` over ``ctes`` as statements of at most ``limit`` CTEs each.

    Args:
        ctes: the CTEs, each reading only earlier ones (and tables).
        query: the final query, reading CTEs.
        limit: the most CTEs one statement holds (at least 1).
        materialized: whether the CTEs inside a statement are ``AS MATERIALIZED``.
        dialect: the target, for how it keeps a temporary table
            (``Dialect.temporary_table``) and whether every CTE read twice must
            be a table (``Dialect.inlines_shared_ctes``); None: the defaults.

    Returns:
        The program: its setup creates the tables and drops each after its
        last reader; ``query`` reads them as it read the CTEs.

    """
    target = dialect or Dialect()
    reads = _reads(ctes, query)
    owner = _owners(reads, len(ctes), max(limit, 1), target.inlines_shared_ctes)
    tables = sorted(set(owner.values()))
    setup: list[exp.Expr] = []
    last_reader = _last_readers(reads, owner, tables)
    for table in tables:
        name, body = ctes[table]
        inner = [ctes[k] for k in range(table) if owner.get(k) == table]
        setup.append(target.temporary_table(name, _with_first(body.copy(), inner, materialized)))
        if target.drops_early:
            setup += [drop_table(ctes[t][0]) for t in tables if last_reader.get(t) == table]
    if target.drops_early:
        result = [ctes[t][0] for t in tables if last_reader.get(t) == len(ctes)]
    else:  # every table lives to the end; the last made is dropped first
        result = [ctes[t][0] for t in reversed(tables)]
    return Program(
        tuple(setup),
        query,
        tuple(drop_table(name) for name in result),
        tuple(ctes[t][0] for t in tables),
    )


def staged_query(query: exp.Query, prefix: str, limit: int, dialect: Dialect) -> Program:
    """A ``WITH`` query as :func:`staged` statements, its CTEs renamed ``prefix`` + name.

    The renamed tables keep their old names as aliases, so the queries' column
    references stand. For a statement built elsewhere (an iteration's step)
    whose CTEs a database would copy (``Dialect.inlines_shared_ctes``).

    >>> from einsql.sql import table_ref
    >>> query = exp.select("*").from_(table_ref("a")).join(table_ref("a").as_("b"))
    >>> query = query.with_("a", as_=exp.select("1"))
    >>> program = staged_query(query, "p_", 64, Dialect())
    >>> [Dialect().render(s, pretty=False) for s in program.setup]
    ['CREATE TEMPORARY TABLE "p_a" AS SELECT 1']
    >>> Dialect().render(program.query, pretty=False)
    'SELECT * FROM "p_a" AS "a", "p_a" AS "b"'
    """
    ctes, body = split_ctes(query)
    names = {name: prefix + name for name, _ in ctes}

    def rename(node: exp.Expr) -> exp.Expr:
        joined = isinstance(node, exp.Identifier) and isinstance(node.parent, (exp.Join, exp.From))
        if joined and node.name in names:  # ``FROM name``, ``JOIN name`` of a bare identifier
            alias = exp.TableAlias(this=exp.to_identifier(node.name))
            return exp.Table(this=exp.to_identifier(names[node.name]), alias=alias)
        if isinstance(node, exp.Table) and node.name in names and not node.args.get("db"):
            return exp.Table(
                this=exp.to_identifier(names[node.name]),
                alias=node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name)),
            )
        return node

    def renamed(query: exp.Query) -> exp.Query:
        result = query.transform(rename)
        assert isinstance(result, exp.Query)  # renaming tables keeps a query a query
        return result

    staged_ctes = [(names[name], renamed(cte)) for name, cte in ctes]
    return staged(staged_ctes, renamed(body), limit, dialect.materialize_steps, dialect)


def split_ctes(query: exp.Query) -> tuple[list[tuple[str, exp.Query]], exp.Query]:
    """``query``'s CTEs, in order, and a copy of ``query`` without them.

    >>> ctes, body = split_ctes(exp.select("*").from_("a").with_("a", as_=exp.select("1")))
    >>> [name for name, _ in ctes], body.sql()
    (['a'], 'SELECT * FROM a')
    """
    with_ = query.args.get("with_")
    body = query.copy()
    body.set("with_", None)
    ctes = [(cte.alias, cte.this) for cte in with_.expressions] if with_ is not None else []
    return ctes, body


def _references(body: exp.Expr, position: dict[str, int]) -> list[int]:
    """The CTEs ``body`` reads, by position, once per reference.

    A reference is a table, or a bare identifier after ``FROM`` or ``JOIN``
    (as the iteration lowering writes some joins).
    """
    found = []
    for node in body.find_all(exp.Table, exp.Identifier):
        bare = isinstance(node, exp.Identifier) and isinstance(node.parent, (exp.Join, exp.From))
        if (isinstance(node, exp.Table) or bare) and node.name in position:
            found.append(position[node.name])
    return found


def _reads(ctes: Ctes, query: exp.Query) -> list[list[int]]:
    """For each CTE, then for the query, the CTEs it reads (by position)."""
    position = {name: k for k, (name, _) in enumerate(ctes)}
    return [sorted(set(_references(body, position))) for body in [*(b for _, b in ctes), query]]


def shared(ctes: Ctes, query: exp.Query) -> bool:
    """Whether a CTE of ``ctes`` is read more than once (by other CTEs or ``query``).

    >>> from einsql.sql import table_ref
    >>> one = [("a", exp.select("1"))]
    >>> shared(one, exp.select("*").from_(table_ref("a")))
    False
    >>> twice = exp.select("*").from_(table_ref("a")).join(table_ref("a").as_("b"))
    >>> shared(one, twice)
    True
    """
    position = {name: k for k, (name, _) in enumerate(ctes)}
    counts = [0] * len(ctes)
    for body in [*(b for _, b in ctes), query]:
        for k in _references(body, position):
            counts[k] += 1
    return any(count > 1 for count in counts)


def _owners(
    reads: list[list[int]], count: int, limit: int, tables_for_shared: bool = False
) -> dict[int, int]:
    """The statement (the table it creates) each used CTE is computed in.

    A CTE is a table of its own when the query or a later group reads it, or
    when readers in two statements (or none) do, or (``tables_for_shared``)
    when two readers do; else it belongs to its readers' statement.
    """
    readers: list[list[int]] = [[] for _ in range(count)]
    for reader, read in enumerate(reads):
        for k in read:
            readers[k].append(reader)
    owner: dict[int, int] = {}
    for k in reversed(range(count)):
        exported = any(r == count or r // limit != k // limit for r in readers[k])
        exported = exported or (tables_for_shared and len(readers[k]) > 1)
        owners = {owner[r] for r in readers[k]} if not exported else set()
        owner[k] = owners.pop() if len(owners) == 1 else k
    return owner


def _last_readers(
    reads: list[list[int]], owner: dict[int, int], tables: list[int]
) -> dict[int, int]:
    """For each table, the last statement reading it (``len(owner)``: the final query).

    Statements run in the order of their tables, the query last; a table read
    by none is dropped right after it is made.
    """
    count, last = len(owner), dict[int, int]()
    for reader, read in enumerate(reads):
        statement = owner[reader] if reader < count else count
        for k in read:
            if owner[k] == k:
                last[k] = max(last.get(k, k), statement)
    return {t: last.get(t, t) for t in tables}


def _with_first(query: exp.Query, ctes: Ctes, materialized: bool) -> exp.Query:
    """``query`` with ``ctes`` defined before any CTEs it already has."""
    existing = query.args.get("with_")
    query.set("with_", None)
    with_ctes(query, ctes, materialized)
    if existing is not None:
        inner = [(cte.alias, cte.this) for cte in existing.expressions]
        with_ctes(query, inner, bool(existing.expressions[0].args.get("materialized")))
    return query
