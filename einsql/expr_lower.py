"""Lower tensor expressions to SQL: one CTE per node, einsums through their plans.

Every node of the expression DAG becomes a relation in the COO convention
(``i0, i1, ..., val``), computed once however often it is used:

* a variable is a table (loaded, or named by the caller);
* a constant is a typed ``VALUES`` list, or, when it holds one value
  everywhere, a generated range of each axis;
* an einsum is planned like any einsum and lowered step by step;
* an elementwise function keeps the result sparse where it can: a product
  joins (zero times anything is zero), a sum unions, and a function with
  f(0) = 0 maps the stored rows only. Everything else (``exp``, ``cos``,
  ``sigmoid``, adding a constant, division) is computed over the full index
  range, generated per axis, because missing rows are zeros that become f(0).

Functions are written with guards so that every database gives NumPy's answer
where NumPy gives inf or NaN (PostgreSQL raises on ``ln(0)`` or ``exp(1000)``).

>>> from einsql.expr import var, einsum, exp
>>> from einsql.dialect import load_dialect
>>> x = var("x", (3,))
>>> program = lower_expression(einsum("i->", exp(x)), {"x": coo_relation("x", 1)},
...                            load_dialect("duckdb"))
>>> "EXP" in program.render(load_dialect("duckdb"))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlglot import exp

from einsql import staging
from einsql.checks import TableFacts
from einsql.convention import VALUE, Program, Relation, axis_column, axis_columns, coo_relation
from einsql.dialect import Dialect
from einsql.equation import Equation
from einsql.errors import OperandError, OptionError
from einsql.expr import (
    Const,
    Det,
    Einsum,
    Elementwise,
    Expr,
    Solve,
    Var,
    scalar_value,
    uniform_value,
    walk,
)
from einsql.functions import FUNCTIONS, function_sql
from einsql.lower import Layout, lower_steps
from einsql.names import generated
from einsql.operands import Table, from_dense
from einsql.planner import make_plan
from einsql.sql import (
    aliased,
    binary,
    building,
    case,
    column,
    float_literal,
    joined,
    named,
    select,
    summed_union,
    table_ref,
    values_query,
    with_ctes,
)


def variable_table(
    node: Var, table: Table, dialect: Dialect, facts: TableFacts | None = None
) -> Relation:
    """The relation of a variable read from ``table``: checked shape and name, float values.

    Args:
        node: the variable.
        table: the table holding its values.
        dialect: the target dialect.
        facts: what checking the table in the database found (its value type).

    Raises:
        OperandError: the table's shape is not the variable's, its name does
            not fit the dialect, or its values are complex or booleans.

    """
    if table.shape != node.shape:
        raise OperandError(
            f"variable {node.name!r} has shape {node.shape}, table {table.name!r} {table.shape}"
        )
    if np.dtype(table.dtype).kind in "cb" or (facts is not None and "bool" in facts.kinds):
        raise OperandError(
            f"the table of variable {node.name!r} holds {table.dtype} values; expressions "
            "compute in float64 (cast the column in a view)"
        )
    dialect.check_table(table, f"the table of variable {node.name!r}")
    stored = facts.kinds[0] if facts is not None else None
    return Relation(table.name, table.axes, table.values[:1], "float", stored=stored)


def named_tables(
    nodes: dict[str, Var], tables: dict[str, Table] | None, dialect: Dialect
) -> dict[str, Relation]:
    """Each variable's relation in pasted SQL: the table named after it, or ``tables[name]``."""
    return {
        name: variable_table(node, (tables or {}).get(name, Table(name, node.shape)), dialect)
        for name, node in nodes.items()
    }


def lower_expression(
    expr: Expr,
    variables: dict[str, Relation],
    dialect: Dialect,
    optimize: Any = "auto",
    layout: Layout | None = None,
) -> Program:
    """The SQL computing ``expr`` from the variables' relations.

    Args:
        expr: the expression.
        variables: a relation for each variable, by name.
        dialect: the target dialect.
        optimize: the path strategy for every einsum node.
        layout: materialization and staging (None: the dialect's). An
            expression of more than ``layout.step_limit(dialect)`` CTEs (or
            any, with ``staged=True``) runs as staged statements (see
            :mod:`einsql.staging`), its CTEs and temporary tables named
            ``layout.prefix`` + ``e0``, ...

    Returns:
        The program; its query returns ``i0, ..., val`` rows of the result.

    """
    layout = layout or Layout()
    ctes, (result,) = lower_nodes([expr], variables, dialect, optimize, layout.prefix + "e")
    alias = "r"
    columns = [named(column(c, alias), axis_column(k)) for k, c in enumerate(result.axes)]
    columns.append(named(column(result.values[0], alias), VALUE))
    query = exp.select(*columns).from_(table_ref(result.name).as_(alias))
    materialized = layout.materialized(dialect)
    limit = _step_limit(expr, layout, dialect)
    staged = layout.staged
    if staged is None:
        staged = len(ctes) > limit
        staged = staged or (dialect.inlines_shared_ctes and staging.shared(ctes, query))
    if staged and ctes:
        return staging.staged(ctes, query, limit, materialized, dialect)
    return Program((), with_ctes(query, ctes, materialized))


def _step_limit(expr: Expr, layout: Layout, dialect: Dialect) -> int:
    """The most CTEs of one statement: the layout's, or one elimination's if that is less.

    An elimination is a chain of a CTE per pivot, and one statement holding two
    chained (``inv(inv(A))``) could pass a depth limit that one does not: SQLite's
    ``max_solve_size`` of 32 keeps one chain under its expression depth limit.
    """
    limit = layout.step_limit(dialect)
    if any(isinstance(node, (Solve, Det)) for node in walk(expr)):
        limit = min(limit, dialect.max_solve_size + 2)  # the matrix, a CTE per pivot, the result
    return limit


def check_eliminations(exprs: Sequence[Expr], dialect: Dialect) -> None:
    """Refuse an ``inv``, ``solve``, ``det`` or ``logdet`` of a matrix past the dialect's limit.

    Called before anything reaches a database (an elimination is a CTE per
    pivot; ``Dialect.max_solve_size`` keeps one statement within the
    database's limits).

    >>> from einsql.dialect import load_dialect
    >>> from einsql.expr import det, var
    >>> check_eliminations([det(var("A", (40, 40)))], load_dialect("sqlite"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    einsql.errors.OptionError: sqlite eliminates matrices of at most 32 rows ..., not 40: det(A)

    Raises:
        OptionError: an elimination's matrix has more rows than the limit.

    """
    for expr in exprs:
        for node in walk(expr):
            if isinstance(node, (Solve, Det)):
                _check_elimination(node, dialect)


def _check_elimination(node: Solve | Det, dialect: Dialect) -> int:
    """The number of rows ``node`` eliminates, if within the dialect's limit.

    Raises:
        OptionError: it is more (see :func:`check_eliminations`).

    """
    n: int = node.operands[0].shape[0]
    if n > dialect.max_solve_size:
        shown = str(node)
        raise OptionError(
            f"{dialect.name} eliminates matrices of at most {dialect.max_solve_size} rows in "
            f"one statement (a CTE per pivot), not {n}: "
            f"{shown if len(shown) <= 80 else shown[:77] + '...'}"
        )
    return n


#: Named subqueries, in the order they must be defined.
Ctes = list[tuple[str, exp.Query]]

#: The columns of an elimination's steps carrying the running determinant: the log of
#: its magnitude, and its sign.
LOG_MAGNITUDE, SIGN = "acc", "sgn"


def lower_nodes(
    exprs: Sequence[Expr],
    variables: dict[str, Relation],
    dialect: Dialect,
    optimize: Any = "auto",
    prefix: str = generated("e"),
) -> tuple[Ctes, list[Relation]]:
    """CTEs computing several expressions at once, each shared node once.

    Args:
        exprs: the expressions.
        variables: a relation for each variable, by name.
        dialect: the target dialect.
        optimize: the path strategy for every einsum node.
        prefix: the first letters of the CTE names (``__einsql_e0``, ...), reserved names.

    Returns:
        The CTEs, and the relation holding each expression's rows.

    """
    builder = _ExpressionLowering(dialect, optimize, prefix)
    with building():
        for expr in exprs:
            for node in walk(expr):
                if id(node) not in builder.relations:
                    builder.add(node, variables)
    return builder.ctes, [builder.relations[id(expr)] for expr in exprs]


class _ExpressionLowering:
    """The CTEs of an expression DAG, one or more per node, each node once."""

    def __init__(self, dialect: Dialect, optimize: Any, prefix: str) -> None:
        self.dialect = dialect
        self.optimize = optimize
        self.prefix = prefix
        self.relations: dict[int, Relation] = {}
        self.ctes: Ctes = []

    def add(self, node: Expr, variables: dict[str, Relation]) -> None:
        name = f"{self.prefix}{len(self.relations)}"
        if isinstance(node, Var):
            self.relations[id(node)] = variables[node.name]
            return
        if isinstance(node, Einsum):
            self.relations[id(node)] = self._einsum(node, name)
            return
        if isinstance(node, Solve):
            self.relations[id(node)] = self._solve(node, name)
            return
        if isinstance(node, Det):
            self.relations[id(node)] = self._det(node, name)
            return
        if isinstance(node, Const):
            body = self._constant(node)
        else:
            assert isinstance(node, Elementwise)
            body = self._elementwise(node)
        self.ctes.append((name, body))
        self.relations[id(node)] = coo_relation(name, node.ndim)

    def _einsum(self, node: Einsum, name: str) -> Relation:
        sizes: dict[str, int] = {}
        for labels, operand in zip(node.inputs, node.operands):
            sizes.update(zip(labels, operand.shape))
        equation = Equation(node.inputs, node.output, tuple(sizes.items()))
        plan = make_plan(equation, self.optimize)
        names = [f"{name}_{s}" for s in range(len(plan.steps))]
        relations = [self.relations[id(op)] for op in node.operands]
        self.ctes += lower_steps(plan, relations, "float", self.dialect, names)
        return coo_relation(names[-1], node.ndim)

    def _solve(self, node: Solve, name: str) -> Relation:
        """Gauss-Jordan elimination of ``[A | B]``, one CTE per pivot, with partial pivoting.

        ``B``'s columns follow ``A``'s (a vector is column ``n``); the result
        is what stands in their place at the end. A singular matrix (an
        exactly zero pivot) gives NaN everywhere, as the NumPy reference does:
        SQL has no portable way to raise.
        """
        matrix, rhs = node.operands
        n = _check_elimination(node, self.dialect)
        columns = rhs.shape[1] if rhs.ndim == 2 else 1
        rows = exp.union(self._matrix_rows(matrix), self._rhs_rows(rhs, n), distinct=False)
        last = self._eliminated_all(rows, (n, n + columns), name)
        i, j = column(axis_column(0)), column(axis_column(1))
        if rhs.ndim == 1:
            solution = exp.select(i, column(VALUE)).from_(table_ref(last)).where(j.eq(n))
        else:
            shifted = binary(exp.Sub, j.copy(), exp.Literal.number(n)).as_(axis_column(1))
            solution = exp.select(i, shifted, column(VALUE)).from_(table_ref(last))
            solution = solution.where(exp.GTE(this=j, expression=exp.Literal.number(n)))
        self.ctes.append((name, solution))
        return coo_relation(name, node.ndim)

    def _det(self, node: Det, name: str) -> Relation:
        """The elimination of ``A`` alone, each step carrying the running determinant.

        Every row of a step holds the same pivot, so each carries the sum of the
        logarithms of the pivots' magnitudes so far (column ``acc``) and the
        determinant's sign (``sgn``: flipped by a negative pivot and by a row
        swap); the result reads them from entry ``(0, 0)``: ``acc`` for
        ``logdet``, ``sgn * exp(acc)`` for ``det``, as NumPy computes it, so no
        running product overflows or underflows where the determinant does not.
        A zero pivot makes ``acc`` ``-inf`` (the determinant 0) for good.
        """
        (matrix,) = node.operands
        n = _check_elimination(node, self.dialect)
        last = self._eliminated_all(self._matrix_rows(matrix), (n, n), name, determinant=True)
        i, j = column(axis_column(0)), column(axis_column(1))
        magnitude = column(LOG_MAGNITUDE)
        value: exp.Expr = magnitude
        if not node.log:
            power = self._apply("exp", [magnitude.copy()])
            value = binary(exp.Mul, column(SIGN), power)
        result = exp.select(value.as_(VALUE)).from_(table_ref(last))
        self.ctes.append((name, result.where(exp.and_(i.eq(0), j.eq(0)))))
        return coo_relation(name, 0)

    def _rhs_rows(self, rhs: Expr, n: int) -> exp.Select:
        """The rows of the right-hand side as columns ``n, n + 1, ...`` of ``[A | B]``."""
        placed: exp.Expr = exp.Literal.number(n)
        if rhs.ndim == 2:
            column_k = exp.column(self.relations[id(rhs)].axes[1])
            placed = binary(exp.Add, column_k, placed)
        return self._matrix_rows(rhs, placed)

    def _matrix_rows(self, matrix: Expr, second: exp.Expr | None = None) -> exp.Select:
        """The rows of ``matrix`` as ``i0, i1, val`` (``second``: what ``i1`` is instead)."""
        relation = self.relations[id(matrix)]
        return exp.select(
            exp.column(relation.axes[0]).as_(axis_column(0)),
            (second or exp.column(relation.axes[1])).as_(axis_column(1)),
            exp.column(relation.values[0]).as_(VALUE),
        ).from_(table_ref(relation.name))

    def _eliminated_all(
        self, rows: exp.Query, shape: tuple[int, int], name: str, determinant: bool = False
    ) -> str:
        """The CTEs of the whole elimination of the matrix ``rows`` (dense): the last one's name.

        ``determinant``: each step carries the running determinant, as the log
        of its magnitude and its sign (columns ``acc`` and ``sgn``).
        """
        keys, query, value = densified(rows, coo_relation("a", 2), shape, self.dialect)
        start = [self._num(0.0).as_(LOG_MAGNITUDE), self._num(1.0).as_(SIGN)]
        carried = start if determinant else []
        source = f"{name}_m"
        self.ctes.append((source, query.select(*keys, value.as_(VALUE), *carried, copy=False)))
        for k in range(shape[0]):
            pivoted = f"{name}_p{k}"
            self.ctes.append((pivoted, self._pivot(source, k, determinant)))
            source = pivoted
        return source

    def _pivot(self, source: str, k: int, determinant: bool = False) -> exp.Query:
        """Step ``k``: the pivot row divided by the pivot, its column eliminated from the others.

        The pivot row is the row ``r >= k`` with the largest ``|A[r, k]|``, the
        lowest ``r`` among equals (partial pivoting, as LAPACK chooses; a NaN
        ranks first, also on SQLite, which stores it as NULL); it swaps places
        with row ``k``. Column ``k``, the pivot and the pivot row come to each
        entry through two window passes over the last matrix, one scan each
        (SQLite copies a CTE per reference, so a chain of self-joins would grow
        exponentially). ``determinant`` as in ``_eliminated_all``: the running
        determinant rides along in columns ``acc`` and ``sgn``.
        """
        carried = (LOG_MAGNITUDE, SIGN) if determinant else ()
        entries = self._column_entries(source, k, carried)
        return self._eliminated(self._pivot_rows(entries, k, carried), k, determinant)

    @staticmethod
    def _column_entries(source: str, k: int, carried: tuple[str, ...] = ()) -> exp.Select:
        """The entries of the matrix ``source``, each with its row's entry in column ``k``."""
        i, j, val = column(axis_column(0)), column(axis_column(1)), column(VALUE)
        picked = exp.Max(this=exp.Case(ifs=[exp.If(this=j.copy().eq(k), true=val.copy())]))
        in_column = exp.Window(this=picked, partition_by=[i.copy()]).as_("in_column")
        kept = [column(name) for name in carried]
        return exp.select(i, j, val, *kept, in_column).from_(table_ref(source))

    def _pivot_rows(self, entries: exp.Select, k: int, carried: tuple[str, ...] = ()) -> exp.Select:
        """``entries`` with the pivot row's index, its entry in each column, and the pivot.

        Each column is ordered by the pivot choice (rows above ``k`` last), and
        the first row of that order read: the same row in every column.
        """
        i = column(axis_column(0))
        below = exp.GTE(this=i.copy(), expression=exp.Literal.number(k))
        rank = case([(below, exp.Abs(this=exp.column("in_column")))], self._num(-1.0))
        order = exp.Order(
            expressions=[exp.Ordered(this=rank, desc=True, nulls_first=True), exp.Ordered(this=i)]
        )

        def first(name: str, alias: str) -> exp.Expr:
            picked = exp.FirstValue(this=column(name))
            window = exp.Window(
                this=picked, partition_by=[column(axis_column(1))], order=order.copy()
            )
            return window.as_(alias)

        i0, i1 = axis_columns(2)
        plain = [column(name) for name in (i0, i1, VALUE, *carried, "in_column")]
        firsts = [first(i0, "pivot_row"), first(VALUE, "in_row"), first("in_column", "pivot")]
        return select([*plain, *firsts], aliased(entries, "c"))

    def _eliminated(self, rows: exp.Select, k: int, determinant: bool = False) -> exp.Select:
        """Rows ``k`` and the pivot row swapped, the pivot row scaled, the others eliminated.

        A zero pivot (a singular matrix) makes every entry NaN, and every later
        step keeps them NaN. ``determinant``: the running determinant is
        carried on (:meth:`_log_magnitude`, :meth:`_sign`).
        """
        i, val, pivot = column(axis_column(0)), column(VALUE), exp.column("pivot")
        pivot_row, pivot_k = exp.column("pivot_row"), exp.Literal.number(k)
        scaled = binary(exp.Div, exp.column("in_row"), pivot.copy())
        update = binary(exp.Sub, val.copy(), binary(exp.Mul, exp.column("in_column"), scaled))
        on_row = i.copy().eq(pivot_row.copy())
        singular = pivot.copy().eq(self._num(0.0))
        value = case(
            [
                (singular, self._num(np.nan)),
                (on_row, binary(exp.Div, val.copy(), pivot.copy())),
            ],
            update,
        )
        swapped = case(
            [(on_row.copy(), pivot_k.copy()), (i.copy().eq(pivot_k.copy()), pivot_row.copy())],
            i.copy(),
        )
        columns = [swapped.as_(axis_column(0)), column(axis_column(1)), value.as_(VALUE)]
        if determinant:
            columns += [self._log_magnitude().as_(LOG_MAGNITUDE), self._sign(k).as_(SIGN)]
        return exp.select(*columns).from_(aliased(rows, "w"))

    def _log_magnitude(self) -> exp.Expr:
        """The log of the determinant's magnitude after this step: ``ln |pivot|`` added.

        Once a pivot is zero the matrix is NaN (NULL on SQLite), so the first
        test keeps it ``-inf`` (the determinant 0) through every later step.
        """
        acc, pivot = exp.column(LOG_MAGNITUDE), exp.column("pivot")
        lost = self._num(-np.inf)
        gone = exp.or_(acc.copy().eq(lost.copy()), pivot.copy().eq(self._num(0.0)))
        logarithm = self._apply("log", [exp.Abs(this=pivot.copy())])
        return case([(gone, lost)], binary(exp.Add, acc, logarithm))

    @staticmethod
    def _sign(k: int) -> exp.Expr:
        """The determinant's sign after step ``k``: flipped by a negative pivot, and by a swap.

        A NaN pivot (NULL on SQLite) compares false and flips nothing, as in the
        reference; its determinant is NaN through the magnitude anyway.
        """
        sign, pivot = exp.column(SIGN), exp.column("pivot")
        negative = exp.LT(this=pivot, expression=exp.Literal.number(0))
        swapped = exp.column("pivot_row").neq(exp.Literal.number(k))
        flips = exp.NEQ(this=exp.Paren(this=negative), expression=exp.Paren(this=swapped))
        return case([(flips, exp.Neg(this=sign.copy()))], sign)

    # --- constants ---------------------------------------------------------------------

    def _constant(self, node: Const) -> exp.Query:
        value = uniform_value(node.value)
        if value is not None and node.ndim > 0:
            keys, source = self._full_range(node.shape)
            literal = float_literal(value, self.dialect)
            return source.select(*keys, literal.as_(VALUE), copy=False)
        relation = Relation(
            "c", axis_columns(node.ndim), (VALUE,), "float", rows=from_dense(node.value, 0)
        )
        return values_query(relation, self.dialect)

    # --- elementwise -------------------------------------------------------------------

    def _elementwise(self, node: Elementwise) -> exp.Query:
        nodes = list(node.operands)
        if node.fn == "mul" and scalar_value(nodes[0]) is not None:
            nodes.reverse()  # c * x is x * c: a map over x's rows
        operands = [self.relations[id(op)] for op in nodes]
        shapes = [op.shape for op in nodes]
        scalar = scalar_value(nodes[-1]) if len(nodes) == 2 else None
        if scalar is not None and nodes[0].shape == node.shape:
            if node.fn == "mul" or (node.fn == "div" and scalar != 0):
                return self._map_rows(node, operands[0], self._num(scalar))
            if node.fn == "pow" and scalar > 0:
                return self._map_rows(node, operands[0], self._num(scalar))
        if node.fn == "mul":
            return self._product(node, operands, shapes)
        if node.fn in ("add", "sub"):
            return self._sum(node, operands, shapes)
        if len(operands) == 1 and FUNCTIONS[node.fn].keeps_sparsity:
            return self._map_rows(node, operands[0])
        return self._dense(node, operands, shapes)

    def _product(
        self, node: Elementwise, operands: list[Relation], shapes: list[tuple[int, ...]]
    ) -> exp.Query:
        """Rows present in both operands (broadcast axes do not join)."""
        aliases = ["a", "b"]
        keys: list[exp.Expr | None] = [None] * node.ndim
        conditions: list[exp.Expr] = []
        for alias, relation, shape in zip(aliases, operands, shapes):
            for axis, name in _aligned_axes(node.shape, shape, relation):
                col = column(name, alias)
                first = keys[axis]
                if first is None:
                    keys[axis] = col
                else:
                    conditions.append(exp.EQ(this=first.copy(), expression=col))
        value = exp.Mul(
            this=exp.column(operands[0].values[0], table="a"),
            expression=exp.column(operands[1].values[0], table="b"),
        )
        query = select(
            [*_key_columns(keys), named(value, VALUE)], aliased(table_ref(operands[0].name), "a")
        )
        return joined(query, aliased(table_ref(operands[1].name), "b"), conditions)

    def _sum(
        self, node: Elementwise, operands: list[Relation], shapes: list[tuple[int, ...]]
    ) -> exp.Query:
        """Both operands' rows, each stretched over the axes it is broadcast along, summed."""
        parts = []
        for k, (relation, shape) in enumerate(zip(operands, shapes)):
            keys, source = self._stretched(relation, shape, node.shape, "s")
            value: exp.Expr = exp.column(relation.values[0], table="s")
            if k == 1 and node.fn == "sub":
                value = exp.Neg(this=value)
            parts.append(source.select(*keys, value.as_(VALUE), copy=False))
        total = self.dialect.sum_values
        return summed_union(parts, axis_columns(node.ndim), (VALUE,), total)

    def _map_rows(
        self, node: Elementwise, operand: Relation, scalar: exp.Expr | None = None
    ) -> exp.Query:
        """``fn`` of the stored rows only (f(0) = 0), with a constant second argument if any."""
        args = [exp.column(operand.values[0], table="a")] + ([scalar] if scalar is not None else [])
        keys = [exp.column(c, table="a").as_(axis_column(k)) for k, c in enumerate(operand.axes)]
        return exp.select(*keys, self._apply(node.fn, args).as_(VALUE)).from_(
            table_ref(operand.name).as_("a")
        )

    def _dense(
        self, node: Elementwise, operands: list[Relation], shapes: list[tuple[int, ...]]
    ) -> exp.Query:
        """Every index of the result: missing rows of an operand are zeros.

        An inner query lists each index with the operands' values (0 where a
        row is missing); the function applies outside, on plain columns.
        """
        keys, query = self._full_range(node.shape)
        columns = []
        for k, (relation, shape) in enumerate(zip(operands, shapes)):
            alias = f"a{k}"
            conditions = [
                exp.EQ(this=exp.column(column, table=alias), expression=keys[axis].this.copy())
                for axis, column in _aligned_axes(node.shape, shape, relation)
            ]
            on = exp.and_(*conditions) if conditions else exp.true()
            query = query.join(table_ref(relation.name).as_(alias), on=on, join_type="left")
            columns.append(self._present_or_zero(relation, alias).as_(f"x{k}"))
        inner = query.select(*keys, *columns, copy=False)
        args = [exp.column(f"x{k}", table="d") for k in range(len(operands))]
        outer_keys = [
            exp.column(axis_column(k), table="d").as_(axis_column(k)) for k in range(node.ndim)
        ]
        return exp.select(*outer_keys, self._apply(node.fn, args).as_(VALUE)).from_(
            aliased(inner, "d")
        )

    def _present_or_zero(self, relation: Relation, alias: str) -> exp.Expr:
        return present_or_zero(relation, alias, self.dialect)

    # --- index ranges ------------------------------------------------------------------

    def _full_range(self, shape: tuple[int, ...]) -> tuple[list[exp.Expr], exp.Select]:
        return full_range(shape, self.dialect)

    def _stretched(
        self, relation: Relation, shape: tuple[int, ...], full: tuple[int, ...], alias: str
    ) -> tuple[list[exp.Expr], exp.Select]:
        """The rows of ``relation`` repeated along the axes it is broadcast over."""
        query = exp.select().from_(table_ref(relation.name).as_(alias))
        columns = dict(_aligned_axes(full, shape, relation))
        keys = []
        for axis, size in enumerate(full):
            if axis in columns:
                keys.append(exp.column(columns[axis], table=alias).as_(axis_column(axis)))
            else:
                query = query.join(self.dialect.index_range(size, f"r{axis}"), join_type="cross")
                keys.append(exp.column("v", table=f"r{axis}").as_(axis_column(axis)))
        return keys, query

    # --- functions ---------------------------------------------------------------------

    def _apply(self, fn: str, args: Sequence[exp.Expr]) -> exp.Expr:
        return function_sql(self.dialect, fn, list(args))

    def _num(self, x: float) -> exp.Expr:
        return float_literal(x, self.dialect)


def present_or_zero(relation: Relation, alias: str, dialect: Dialect) -> exp.Expr:
    """The value of a left-joined row of ``relation`` as ``alias``, or 0 where there is none.

    Presence is read from an axis column, not the value: on SQLite a NaN
    value is NULL.
    """
    value = exp.column(relation.values[0], table=alias)
    if not relation.axes:
        return exp.Coalesce(this=value, expressions=[float_literal(0.0, dialect)])
    missing = exp.Is(this=exp.column(relation.axes[0], table=alias), expression=exp.null())
    return exp.Case(ifs=[exp.If(this=missing, true=float_literal(0.0, dialect))]).else_(value)


def full_range(shape: tuple[int, ...], dialect: Dialect) -> tuple[list[exp.Expr], exp.Select]:
    """``SELECT`` from the cross product of each axis' index range (one row if 0-d).

    Returns:
        The index columns ``r0.v AS i0, ...``, and the select to add columns to.

    """
    query = exp.select().from_(aliased(exp.select(exp.Literal.number(0).as_("z")), "one"))
    keys = []
    for k, size in enumerate(shape):
        query = query.join(dialect.index_range(size, f"r{k}"), join_type="cross")
        keys.append(exp.column("v", table=f"r{k}").as_(axis_column(k)))
    return keys, query


def densified(
    source: str | exp.Query, relation: Relation, shape: tuple[int, ...], dialect: Dialect
) -> tuple[list[exp.Expr], exp.Select, exp.Expr]:
    """Every index of ``shape``, left-joined with the rows of ``source`` as ``a``.

    Args:
        source: a table or CTE name, or a query, with ``relation``'s columns.
        relation: names the axis and value columns of ``source``.
        shape: the tensor's shape.
        dialect: the target dialect.

    Returns:
        The index columns ``i0, ...``, the select to add columns to, and the
        value of each index (0 where ``source`` has no row).

    """
    keys, query = full_range(shape, dialect)
    if isinstance(source, str):
        item: exp.Expr = table_ref(source).as_("a")
    else:
        item = aliased(source, "a")
    conditions = [
        exp.column(column, table="a").eq(key.this.copy())
        for column, key in zip(relation.axes, keys)
    ]
    on = exp.and_(*conditions) if conditions else exp.true()
    query = query.join(item, on=on, join_type="left")
    return keys, query, present_or_zero(relation, "a", dialect)


def _aligned_axes(
    full: tuple[int, ...], shape: tuple[int, ...], relation: Relation
) -> list[tuple[int, str]]:
    """(result axis, operand column) for the operand axes that are not broadcast."""
    offset = len(full) - len(shape)
    return [
        (offset + k, column)
        for k, (column, size) in enumerate(zip(relation.axes, shape))
        if size == full[offset + k]
    ]


def _key_columns(keys: list[exp.Expr | None]) -> list[exp.Expr]:
    """Output index columns; an axis no operand holds has size 1: its index is 0."""
    return [
        (key.copy() if key is not None else exp.Literal.number(0)).as_(axis_column(k))
        for k, key in enumerate(keys)
    ]
