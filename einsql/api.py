"""The public entry points: ``einsum``, ``to_sql`` and ``plan``.

Each takes NumPy's two calling forms: a subscripts string followed by operands,
or the interleaved form ``(op0, sublist0, op1, sublist1, ..., [output])``.

>>> import numpy as np
>>> a = np.arange(6.0).reshape(2, 3)
>>> einsum("ij,kj->ik", a, a)
array([[ 5., 14.],
       [14., 50.]])
>>> einsum(a, [0, 1], [1])
array([3., 5., 7.])
>>> einsum("ii", np.eye(3, dtype=int), backend="numpy")
np.int64(3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from einsql.checks import TableFacts, inspect_table
from einsql.coo import Program, Relation, axis_columns, value_columns
from einsql.dialect import Dialect, load_dialect
from einsql.display import SQL
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver
from einsql.equation import from_sublists, parse
from einsql.errors import OptionError, SubscriptError
from einsql.expr import Expr, variables
from einsql.expr import einsum as expr_einsum
from einsql.expr_lower import lower_expression, named_tables
from einsql.iteration import Iteration
from einsql.iteration_run import iteration_sql
from einsql.lower import Layout, lower
from einsql.names import generated
from einsql.operands import CooArray, Operand, Table, as_operand, from_dense, value_kind
from einsql.planner import Plan, make_plan
from einsql.reference import evaluate
from einsql.results import check_dense_size, to_coo, to_dense
from einsql.semiring import SUM_PRODUCT, Semiring, get_semiring

#: The result forms of ``einsum(..., out=...)``.
OUTPUTS = ("dense", "coo")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything known about an einsum before any database is involved.

    Attributes:
        plan: the contraction plan.
        operands: the operands, as COO arrays or tables.
        dtype: the NumPy dtype of the result.
        kind: the value kind the SQL computes with.
        nonfinite: whether an array operand holds NaN or an infinity.
        semiring: the semiring it computes in.
        empty: a label has size 0, so every term of the sum is empty and the
            result is zeros (NaN and infinities in other operands meet nothing).

    """

    plan: Plan
    operands: tuple[Operand, ...]
    dtype: np.dtype[Any]
    kind: str
    nonfinite: bool
    semiring: Semiring = SUM_PRODUCT
    empty: bool = False


def prepare(args: Sequence[Any], optimize: Any = "auto", semiring: str = "sum-product") -> Prepared:
    """Parse, read operands and plan; every input error is raised here.

    >>> prepare(["ij,jk", np.ones((2, 3)), np.ones((3, 4), dtype=np.float32)]).dtype
    dtype('float64')
    """
    ring = get_semiring(semiring)
    subscripts, raw = _split_args(args)
    operands = tuple(as_operand(value, k, ring.zero) for k, value in enumerate(raw))
    equation = parse(subscripts, [op.shape for op in operands])
    automatic = isinstance(optimize, str) and optimize == "auto"
    overflow = ring is SUM_PRODUCT and automatic and _may_overflow(operands)
    if overflow:  # multiply as NumPy does, left to right, so inf * 0 happens where it does
        plan = make_plan(equation, [(0, 1)] * (len(operands) - 1), local_sums=False)
    else:
        plan = make_plan(equation, optimize, ring.name, [op.nnz for op in operands])
    if ring.kind is not None:  # the semiring fixes the values: float, or bool for or-and
        dtype = np.dtype(np.bool_ if ring.kind == "bool" else np.float64)
        for k, op in enumerate(operands):
            value_kind(np.dtype(op.dtype), f"operand {k}")
        return Prepared(plan, operands, dtype, ring.kind, False, ring)
    dtype = np.result_type(*[np.dtype(op.dtype) for op in operands])
    kind = value_kind(dtype, "the result")
    if 0 in equation.size_of.values():  # every product is empty: the result is all zeros
        return Prepared(
            plan, tuple(_emptied(op) for op in operands), dtype, kind, False, empty=True
        )
    nonfinite = overflow or any(
        isinstance(op, CooArray) and op.dtype.kind in "fc" and not np.isfinite(op.values).all()
        for op in operands
    )
    return Prepared(plan, operands, dtype, kind, nonfinite)


def _may_overflow(operands: Sequence[Operand]) -> bool:
    """Whether a product of finite float array entries could pass the largest double.

    Then a term's partial product may overflow to inf before it meets a
    missing zero, which NumPy's dense product turns into NaN. (NaN and
    infinities already in the operands are handled by the NaN terms alone.)
    """
    magnitude = 0.0  # log10 of the largest possible product of finite magnitudes
    for op in operands:
        if isinstance(op, CooArray) and op.dtype.kind in "fc" and op.nnz:
            finite = np.abs(op.values[np.isfinite(op.values)])
            largest = float(finite.max()) if finite.size else 0.0
            magnitude += math.log10(largest) if largest > 1 else 0.0
    return magnitude > math.log10(np.finfo(np.float64).max)


def _emptied(operand: Operand) -> Operand:
    """An array operand without its entries (a table of a size-0 axis has none to drop)."""
    if isinstance(operand, Table):
        return operand
    return CooArray(operand.coords[:0], operand.values[:0], operand.shape)


def einsum(
    *operands: Any,
    backend: str | None = None,
    con: Any = None,
    optimize: Any = "auto",
    out: str = "dense",
    into: str | None = None,
    staged: bool | None = None,
    nonfinite: bool | None = None,
    semiring: str = "sum-product",
) -> Any:
    """Evaluate an einsum in a database (or with the NumPy reference).

    Args:
        *operands: ``subscripts, op0, op1, ...`` or the interleaved form. An
            operand is a NumPy array (or array-like), a scipy.sparse matrix, a
            pydata ``sparse`` array, or an :class:`einsql.Table`.
        backend: ``"duckdb"``, ``"postgres"``, ``"sqlite"`` or ``"numpy"`` (the
            reference). None takes the backend of ``con`` (DuckDB without one).
        con: where to run: None (a new in-memory database), a duckdb, psycopg 3
            or sqlite3 connection, a SQLAlchemy ``Engine`` or ``Connection``, or
            a URL (``duckdb:///path``, ``postgresql://...``, ``sqlite:///path``).
            einsql never closes a connection it did not open, and leaves no
            transaction it started open.
        optimize: the contraction-path strategy or an explicit path.
        out: ``"dense"`` for what ``numpy.einsum`` returns, ``"coo"`` for a
            :class:`einsql.CooArray` of the nonzeros.
        into: store the result as a new table of this name (in ``con``) and
            return an :class:`einsql.Table` naming it.
        staged: force staged (True) or single-statement (False) execution.
        nonfinite: whether values may be NaN or infinite, so that ``inf * 0``
            gives NaN as in NumPy. By default True when an array operand holds
            NaN or an infinity; table operands are taken to be finite unless
            this is True.
        semiring: ``"sum-product"`` (the ordinary einsum), ``"min-plus"``,
            ``"max-plus"``, ``"max-product"``, ``"or-and"`` or ``"log-sum-exp"``
            (see :mod:`einsql.semiring`). Missing entries, and entries equal to
            the semiring's zero, are that zero; a dense result has it filled in.

    Returns:
        The result in the requested form; with a symbolic operand (an
        :func:`einsql.var` or any expression), an expression instead.

    >>> import scipy.sparse as sp
    >>> m = sp.random(50, 50, density=0.1, random_state=0, format="csr")
    >>> bool(np.allclose(einsum("ij,jk->ik", m, m), (m @ m).toarray()))
    True

    """
    if any(isinstance(op, Expr) for op in operands):
        return _symbolic_einsum(operands)
    prepared = prepare(operands, optimize, semiring)
    if out not in OUTPUTS:
        raise OptionError(f"unknown out={out!r}; use one of {', '.join(OUTPUTS)}")
    if into is not None and con is None:
        raise OptionError("into= stores a table in a database; pass that database as con=")
    if out == "dense" and into is None:
        check_dense_size(prepared.plan.equation.shape, prepared.dtype)
    coo: CooArray | None
    if backend == "numpy":
        if into is not None:
            raise OptionError("into= needs a database backend, not the NumPy reference")
        coo = _run_reference(prepared, con)
    else:
        check_names(prepared, into, load_dialect(backend_of(con, backend)))
        with open_driver(con, backend) as driver:
            coo = _run_sql(prepared, driver, into, staged, nonfinite)
        if into is not None:
            return Table(into, prepared.plan.equation.shape, prepared.dtype.name)
        assert coo is not None  # rows come back whenever they are not stored
    return to_dense(coo, prepared.semiring.zero) if out == "dense" else coo


def to_sql(
    *operands: Any,
    dialect: str = "duckdb",
    optimize: Any = "auto",
    staged: bool | None = None,
    nonfinite: bool | None = None,
    tables: dict[str, Table] | None = None,
    semiring: str = "sum-product",
    trace: bool = False,
) -> str:
    """The SQL text of an einsum, to paste into a database.

    Array operands are inlined as typed ``VALUES`` lists, so the text runs as it
    is; :class:`einsql.Table` operands are referenced by name. The query returns
    the result's nonzeros as ``i0, i1, ..., val`` rows.

    ``dialect`` is one of ``duckdb``, ``postgres`` and ``sqlite``, which the
    test suite runs, or one of sqlglot's ``trino``, ``spark``, ``bigquery`` and
    ``snowflake``, written as text only and not executed by the test suite.

    ``to_sql(expr)`` writes one statement for an expression (a derivative too):
    each variable reads the table named after it in the COO convention, or the
    :class:`einsql.Table` that ``tables`` maps its name to.

    ``to_sql(program)`` writes an :class:`einsql.Iteration` (from
    :func:`einsql.descent` or :func:`einsql.power_method`) as one ``WITH
    RECURSIVE`` statement returning the last iterate as ``step, variable, i0,
    ..., val`` rows, data variables read as for an expression; with
    ``trace=True`` it returns ``step, loss`` rows instead.

    >>> print(to_sql("i,i->", Table("x", (3,)), Table("y", (3,))))
    WITH "__einsql_t0" AS MATERIALIZED (
      SELECT
        SUM("x0"."val" * "x1"."val") AS "val"
      FROM "x" AS "x0"
      JOIN "y" AS "x1"
        ON "x0"."i0" = "x1"."i0"
      HAVING
        COUNT(*) > 0
    )
    SELECT
      "__einsql_t0"."val" AS "val"
    FROM "__einsql_t0" AS "__einsql_t0";
    """
    if operands and isinstance(operands[0], Iteration):
        return iteration_sql(operands[0], dialect, tables, trace)
    if operands and isinstance(operands[0], Expr):
        return _expression_sql(operands, dialect, optimize, tables)
    program = compile_program(operands, dialect, optimize, staged, nonfinite, semiring)
    return SQL(program.render(load_dialect(dialect)))


def compile_program(
    args: Sequence[Any],
    dialect: str = "duckdb",
    optimize: Any = "auto",
    staged: bool | None = None,
    nonfinite: bool | None = None,
    semiring: str = "sum-product",
) -> Program:
    """The SQL program of an einsum as sqlglot trees, arrays inlined (see ``to_sql``)."""
    prepared = prepare(args, optimize, semiring)
    target = load_dialect(dialect)
    check_names(prepared, None, target)
    relations = [_inline_relation(op, k, prepared.kind) for k, op in enumerate(prepared.operands)]
    return lower(
        prepared.plan,
        relations,
        prepared.kind,
        target,
        layout=Layout(staged=staged),
        nonfinite=_nonfinite(prepared, prepared.nonfinite, nonfinite),
    )


def plan(*operands: Any, optimize: Any = "auto", semiring: str = "sum-product") -> Plan:
    """The contraction plan of an einsum; ``print`` it to see each step.

    >>> print(plan("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))))
    einsum ij,jk,kl->il (auto, 128 flops)
    step  equation   inputs  flops  size
    t0    ij,jk->ik  a0 a1   48     8
    t1    kl,ik->il  a2 t0   80     10
    """
    return prepare(operands, optimize, semiring).plan


def _expression_sql(
    args: Sequence[Any], dialect: str, optimize: Any, tables: dict[str, Table] | None
) -> str:
    if len(args) != 1:
        raise OptionError("to_sql takes one expression; put arrays in it with einsql.const")
    expr, target = args[0], load_dialect(dialect)
    relations = named_tables(variables(expr), tables, target)
    return SQL(lower_expression(expr, relations, target, optimize).render(target))


def _symbolic_einsum(args: Sequence[Any]) -> Expr:
    """An einsum over expressions is an expression (evaluated later, anywhere)."""
    subscripts, operands = _split_args(args)
    return expr_einsum(subscripts, *operands)


def _split_args(args: Sequence[Any]) -> tuple[str, list[Any]]:
    if not args:
        raise SubscriptError("einsum needs subscripts and at least one operand")
    if isinstance(args[0], str):
        return args[0], list(args[1:])
    return from_sublists(args)


def _nonfinite(prepared: Prepared, found: bool, nonfinite: bool | None) -> bool:
    """Whether steps add NaN terms: as asked, else as found; never when a label has size 0."""
    return (found if nonfinite is None else nonfinite) and not prepared.empty


def check_names(prepared: Prepared, into: str | None, dialect: Dialect) -> None:
    """Raise if a table or column name cannot be used as it is in ``dialect``.

    Raises:
        OperandError: a name is reserved, empty, holds a NUL or is too long for
            the database.

    """
    for k, op in enumerate(prepared.operands):
        if isinstance(op, Table):
            dialect.check_table(op, f"table operand {k}")
    if into is not None:
        dialect.check_table_name(into, "the into= table")


def _run_sql(
    prepared: Prepared,
    driver: Driver,
    into: str | None,
    staged: bool | None,
    nonfinite: bool | None,
) -> CooArray | None:
    loaded = load_relations(driver, prepared)
    program = lower(
        prepared.plan,
        loaded.relations,
        prepared.kind,
        driver.dialect,
        layout=Layout(staged=staged, prefix=driver.prefix),
        nonfinite=_nonfinite(prepared, loaded.nonfinite, nonfinite),
    )
    rows = driver.run(program, into)
    if rows is None:
        return None
    return to_coo(rows, prepared.plan.equation.shape, prepared.dtype, prepared.semiring.zero)


@dataclass(frozen=True)
class Loaded:
    """The operands of an einsum where SQL reads them.

    Attributes:
        relations: one relation per operand.
        nonfinite: whether some value may be NaN or infinite (an array holds
            one, or a table's check found one).

    """

    relations: list[Relation]
    nonfinite: bool


def load_relations(driver: Driver, prepared: Prepared) -> Loaded:
    """Load every array operand through ``driver``; check each table where it is."""
    relations, nonfinite = [], prepared.nonfinite
    for k, operand in enumerate(prepared.operands):
        if isinstance(operand, Table):
            facts = inspect_table(driver, operand, f"table operand {k}")
            relations.append(table_relation(operand, facts))
            nonfinite |= facts.nonfinite and not prepared.empty
        else:
            driver.doing = f"loading operand {k}"
            relations.append(replace(driver.load(operand, prepared.kind), bound=_bound(operand)))
    return Loaded(relations, nonfinite)


def table_relation(table: Table, facts: TableFacts | None = None) -> Relation:
    """Where SQL reads ``table``: its columns, declared kind and (checked) stored kind."""
    kind = value_kind(np.dtype(table.dtype), f"table {table.name!r}")
    bound = 1 if kind == "bool" else None  # integer tables may hold anything
    stored = _stored(facts.kinds) if facts is not None else None
    return Relation(table.name, table.axes, table.values, kind, bound=bound, stored=stored)


def _stored(kinds: tuple[str, ...]) -> str | None:
    """One stored kind for the value columns: the widest (a complex table's may differ)."""
    order = ("dynamic", "bool", "int", "decimal", "float")
    return max(kinds, key=order.index) if kinds else None


def _inline_relation(operand: Operand, k: int, kind: str) -> Relation:
    if isinstance(operand, Table):
        return table_relation(operand)
    axes = axis_columns(len(operand.shape))
    name = generated(f"a{k}")
    return Relation(name, axes, value_columns(kind), kind, rows=operand, bound=_bound(operand))


def _bound(coo: CooArray) -> int | None:
    """The largest magnitude of an integer or boolean array's values."""
    if coo.dtype.kind not in "biu":
        return None
    if coo.nnz == 0:
        return 0
    return max(abs(int(coo.values.min())), abs(int(coo.values.max())))


def _run_reference(prepared: Prepared, con: Any) -> CooArray:
    tables = [op for op in prepared.operands if isinstance(op, Table)]
    fetched: dict[int, CooArray] = {}
    if tables:
        if con is None:
            raise OptionError("the NumPy reference reads table operands through con=")
        for table in tables:
            check_dense_size(table.shape, prepared.dtype)
        with open_driver(con) as driver:
            fetched = {
                id(t): _fetched(driver, t, k)
                for k, t in enumerate(prepared.operands)
                if isinstance(t, Table)
            }
    coos = [fetched[id(op)] if isinstance(op, Table) else op for op in prepared.operands]
    zero = prepared.semiring.zero
    arrays = [coo.todense(zero).astype(prepared.dtype) for coo in coos]
    return from_dense(np.asarray(evaluate(prepared.plan, arrays)), 0, zero)


def _fetched(driver: Driver, table: Table, k: int) -> CooArray:
    """The rows of table operand ``k``, checked first as for the databases."""
    facts = inspect_table(driver, table, f"table operand {k}")
    driver.doing = f"reading table {table.name!r}"
    rows = driver.fetch(table, table_relation(table, facts))
    return to_coo(rows, table.shape, np.dtype(table.dtype))
