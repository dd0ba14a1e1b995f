"""Lower an iteration to SQL: ``WITH RECURSIVE``, in the form the database allows.

Every form sees the state the same way, as positional rows ``(k, val)``: the
entries of each state variable at consecutive positions (row-major), then the
loss (when traced) and the change of the last step (when there is a
tolerance). One step reads the state's variables from those rows, computes each
update as a tensor expression (CTEs from :mod:`einsql.expr_lower`, derivatives
included), and writes the next positional rows, every entry present.

The forms differ in how the state is carried (``Dialect.iteration_forms``):

* ``rows`` (DuckDB): a row per entry and step, ``state(step, k, val)``; the
  recursive term aggregates over the working table.
* ``packed`` (PostgreSQL): a row per step, ``state(step, a)``, the positional
  rows packed into one value (a ``float8[]``, see ``Dialect.pack``). The
  recursive term computes the next value in one correlated subquery over the
  unpacked last one, as PostgreSQL allows no aggregate there.
* ``loop`` (SQLite, any database on request): the ``rows`` step as one
  statement per step, run by the driver.

>>> from einsql.expr import var
>>> from einsql.dialect import load_dialect
>>> from einsql.iteration import Iteration
>>> x = var("x", (2,))
>>> halve = Iteration(state=(x,), updates=(x * 0.5,), start=(np.ones(2),), steps=3)
>>> check_iteration(halve, load_dialect("duckdb"), "rows", False)
>>> sql = IterationLowering(halve, {}, load_dialect("duckdb"), "rows").statement()
>>> import duckdb
>>> duckdb.sql(load_dialect("duckdb").render(sql)).fetchall()
[(3, 'x', 0, 0.125), (3, 'x', 1, 0.125)]
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np
from sqlglot import exp

from einsql.convention import VALUE, Relation, axis_column, axis_columns, coo_relation
from einsql.dialect import Dialect
from einsql.errors import OptionError
from einsql.expr_lower import (
    Ctes,
    check_eliminations,
    densified,
    full_range,
    lower_nodes,
)
from einsql.iteration import Iteration
from einsql.names import generated
from einsql.operands import CooArray
from einsql.sql import (
    aliased,
    column,
    create_table_as,
    float_literal,
    select,
    table_ref,
    union_all,
    values_query,
    with_ctes,
)

#: The name of the recursive CTE.
STATE = generated("state")

#: The other CTEs of a step: the previous state, the current iterate, the next, the last.
PREV, CUR, NXT, LAST = (generated(name) for name in ("prev", "cur", "nxt", "last"))

#: The alias of the last state's row in the ``packed`` form's recursive term.
_ROW = "last_state"


def check_iteration(program: Iteration, dialect: Dialect, form: str, trace: bool) -> None:
    """Raise unless ``program`` can be lowered as asked (call before ``IterationLowering``).

    Args:
        program: the iteration.
        dialect: the target dialect.
        form: the form asked for.
        trace: whether the loss is traced.

    Raises:
        OptionError: a text-only dialect, a form the dialect lacks, a trace
            without a loss, or an ``inv``/``solve``/``det`` past the dialect's
            size (a Newton step's solve of the Hessian too).

    """
    program.check_trace(trace)
    check_eliminations([*program.updates, *([program.loss] if program.loss else [])], dialect)
    if not dialect.executable:
        raise OptionError(
            f"iterations are written for duckdb, postgres and sqlite, not {dialect.name}"
        )
    if form not in dialect.iteration_forms:
        raise OptionError(
            f"{dialect.name} iterates in the forms {', '.join(dialect.iteration_forms)}, "
            f"not {form!r}"
        )


class IterationLowering:
    """The SQL of one iteration in one dialect and form (checked by ``check_iteration``).

    Args:
        program: the iteration.
        data: a relation for each variable that is not state, by name.
        dialect: the target dialect.
        form: one of ``dialect.iteration_forms``.
        trace: also compute the loss at every step.
        optimize: the path strategy of every einsum.

    """

    def __init__(
        self,
        program: Iteration,
        data: dict[str, Relation],
        dialect: Dialect,
        form: str,
        trace: bool = False,
        optimize: Any = "auto",
    ) -> None:
        self.program = program
        self.data = data
        self.dialect = dialect
        self.form = form
        self.trace = trace
        self.optimize = optimize
        self.offsets = [0, *np.cumsum([v.size for v in program.state]).tolist()]
        width = int(self.offsets[-1])
        self.loss_position = width if trace else None
        self.change_position = width + int(trace) if program.tol is not None else None
        self.index = dialect.parse_type(dialect.wide_index_type)
        self.float = dialect.parse_type(dialect.value_types["float"])

    # --- statements --------------------------------------------------------------------

    def statement(self) -> exp.Select:
        """One statement: ``WITH RECURSIVE state AS (...)`` and the final iterate's rows.

        The rows are ``step, variable, i0, ..., val`` of every reported variable
        (axes beyond a variable's own are 0), ``step`` the number of steps taken.
        """
        return self._with_state(self.result_query(STATE))

    def trace_statement(self) -> exp.Select:
        """One statement returning ``step, loss``: the loss before each step and at the end."""
        return self._with_state(self.trace_query(STATE))

    def create_state(self, name: str) -> exp.Create:
        """``CREATE TEMPORARY TABLE name AS`` every step's state (not for ``loop``)."""
        everything = self._with_state(exp.select("*").from_(table_ref(STATE)))
        return create_table_as(name, everything)

    def _with_state(self, query: exp.Select) -> exp.Select:
        if self.form == "loop":
            raise OptionError("a loop runs a statement per step; it has no one-statement SQL")
        step: exp.Expr = self.recursive_step()
        if step.args.get("with_"):  # DuckDB needs the parentheses, SQLite refuses them
            step = exp.paren(step)
        body = exp.Union(this=self.seed(), expression=step, distinct=False)
        state = exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(STATE)))
        outer = query.args.get("with_")
        ctes = [state, *(outer.expressions if outer else [])]
        query.set("with_", exp.With(expressions=ctes, recursive=True))
        return query

    # --- the seed and one step ---------------------------------------------------------

    def seed(self) -> exp.Select:
        """Step 0: the start values, no loss yet, an infinite change."""
        parts = [
            self._start(start, offset) for start, offset in zip(self.program.start, self.offsets)
        ]
        if self.loss_position is not None:
            parts.append(
                self._scalar_row(
                    self.loss_position, exp.Cast(this=exp.null(), to=self.float.copy())
                )
            )
        if self.change_position is not None:
            parts.append(
                self._scalar_row(self.change_position, float_literal(math.inf, self.dialect))
            )
        step = exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build("INT")).as_("step")
        if self.form == "packed":
            packed = with_ctes(
                self.dialect.pack(NXT), [(NXT, union_all(parts))], self.dialect.materialize_steps
            )
            return exp.select(step, exp.Subquery(this=packed).as_("a"))
        rows = aliased(union_all(parts), "s")
        return exp.select(step, exp.column("k", table="s"), exp.column(VALUE, table="s")).from_(
            rows
        )

    def recursive_step(self, source: str = STATE) -> exp.Select:
        """The next state from the last one in ``source``, empty once the iteration stops."""
        if self.form == "packed":
            return self._packed_step(source)
        prev = exp.select(exp.Max(this=exp.column("step")).as_("step"))
        if self.change_position is not None:
            change = exp.Case(
                ifs=[exp.If(this=exp.column("k").eq(self.change_position), true=exp.column(VALUE))]
            )
            prev = prev.select(exp.Max(this=change).as_("change"), copy=False)
        go = self._go(PREV)
        cur = (
            exp.select(exp.column("k", table="s"), exp.column(VALUE, table="s"))
            .from_(table_ref(source).as_("s"))
            .join(exp.to_identifier(PREV), join_type="cross")
            .where(go)
        )
        ctes: Ctes = [(PREV, prev.from_(table_ref(source))), (CUR, cur)]
        ctes += self._updates
        step = exp.Add(this=exp.column("step", table=PREV), expression=exp.Literal.number(1))
        final = (
            exp.select(step.as_("step"), exp.column("k", table="n"), exp.column(VALUE, table="n"))
            .from_(table_ref(NXT).as_("n"))
            .join(exp.to_identifier(PREV), join_type="cross")
            .where(go.copy())
        )
        return with_ctes(final, ctes, self.dialect.materialize_steps)

    def _packed_step(self, source: str) -> exp.Select:
        item, position, value = self.dialect.unpack(exp.column("a", table=_ROW), "u")
        cur = exp.select(position.as_("k"), value.as_(VALUE)).from_(item)
        ctes: Ctes = [(CUR, cur), *self._updates]
        packed = with_ctes(self.dialect.pack(NXT), ctes, self.dialect.materialize_steps)
        step = exp.Add(this=exp.column("step", table=_ROW), expression=exp.Literal.number(1))
        select = exp.select(step.as_("step"), exp.Subquery(this=packed).as_("a"))
        return select.from_(table_ref(source).as_(_ROW)).where(self._go(_ROW))

    def _go(self, alias: str) -> exp.Expr:
        """Whether the state of ``alias`` steps on: steps left and a change above tolerance."""
        steps_left = exp.LT(
            this=exp.column("step", table=alias), expression=exp.Literal.number(self.program.steps)
        )
        if self.change_position is None or self.program.tol is None:
            return steps_left
        if self.form == "packed":
            item, position, value = self.dialect.unpack(exp.column("a", table=alias), "c")
            change: exp.Expr = exp.Subquery(
                this=exp.select(value).from_(item).where(position.eq(self.change_position))
            )
        else:
            change = exp.column("change", table=alias)
        above = exp.GT(this=change, expression=float_literal(self.program.tol, self.dialect))
        return exp.and_(steps_left, above)

    @property
    def _updates(self) -> Ctes:
        """A copy of the CTEs from the positional rows ``cur`` to ``nxt``, the next ones."""
        return [(name, query.copy()) for name, query in self._lowered_updates]

    @cached_property
    def _lowered_updates(self) -> Ctes:
        ctes, variables = self._state_variables(CUR, generated("x"))
        program = self.program
        roots = list(program.updates)
        if self.loss_position is not None:
            assert program.loss is not None
            roots.append(program.loss)
        if self.change_position is not None:
            roots.append(program.change())
        built, relations = lower_nodes(
            roots, {**self.data, **variables}, self.dialect, self.optimize, generated("b")
        )
        parts = [
            self._positioned(r.name, r, v.shape, offset)
            for v, r, offset in zip(program.state, relations, self.offsets)
        ]
        extra = relations[len(program.updates) :]
        for position in (self.loss_position, self.change_position):
            if position is not None:
                relation = extra.pop(0)
                parts.append(self._positioned(relation.name, relation, (), position))
        return [*ctes, *built, (NXT, union_all(parts))]

    def _state_variables(self, rows: str, prefix: str) -> tuple[Ctes, dict[str, Relation]]:
        """A CTE per state variable reading its entries from the positional rows ``rows``."""
        ctes: Ctes = []
        variables = {}
        for j, (v, offset) in enumerate(zip(self.program.state, self.offsets)):
            name = f"{prefix}{j}"
            ctes.append((name, self._unpositioned(rows, v.shape, int(offset))))
            variables[v.name] = coo_relation(name, v.ndim)
        return ctes, variables

    # --- positions ---------------------------------------------------------------------

    def _positioned(
        self, source: str | exp.Query, relation: Relation, shape: tuple[int, ...], offset: int
    ) -> exp.Select:
        """``k, val`` for every entry of a tensor: ``k`` from ``offset`` on, row-major.

        The tensor's rows come from ``source``, with ``relation``'s columns;
        missing rows are zeros.
        """
        keys, select, value = densified(source, relation, shape, self.dialect)
        return select.select(self._flat(keys, shape, offset), self._float(value), copy=False)

    def _uniform_positioned(self, value: float, shape: tuple[int, ...], offset: int) -> exp.Select:
        """``k, val`` for every entry of a tensor holding ``value`` everywhere."""
        keys, select = full_range(shape, self.dialect)
        literal = self._float(float_literal(value, self.dialect))
        return select.select(self._flat(keys, shape, offset), literal, copy=False)

    def _flat(self, keys: list[exp.Expr], shape: tuple[int, ...], offset: int) -> exp.Expr:
        """The position ``k`` of the index ``keys``: ``offset`` plus its row-major offset."""
        flat: exp.Expr = exp.Literal.number(offset)
        for key, stride in zip(keys, _strides(shape)):
            term = exp.Mul(this=key.this.copy(), expression=exp.Literal.number(stride))
            flat = exp.Add(this=flat, expression=term)
        return exp.Cast(this=flat, to=self.index.copy()).as_("k")

    def _float(self, value: exp.Expr) -> exp.Expr:
        return exp.Cast(this=value, to=self.float.copy()).as_(VALUE)

    def _start(self, start: np.ndarray, offset: int) -> exp.Select:
        """``k, val`` of a start value: a range if it is uniform, else its nonzeros inlined."""
        first = float(start.flat[0])
        if np.all(start == first):
            return self._uniform_positioned(first, start.shape, offset)
        coords = np.argwhere(start != 0)
        coo = CooArray(coords, start[tuple(coords.T)], start.shape)
        relation = Relation("a", axis_columns(start.ndim), (VALUE,), "float", rows=coo)
        return self._positioned(values_query(relation, self.dialect), relation, start.shape, offset)

    def _scalar_row(self, position: int, value: exp.Expr) -> exp.Select:
        k = exp.Cast(this=exp.Literal.number(position), to=self.index.copy())
        return exp.select(k.as_("k"), self._float(value))

    def _unpositioned(self, rows: str, shape: tuple[int, ...], offset: int) -> exp.Select:
        """The entries at positions ``offset ..`` of ``rows`` as ``i0, ..., val``."""
        size = int(np.prod(shape, dtype=np.int64))
        local = exp.Sub(this=exp.column("k"), expression=exp.Literal.number(offset))
        columns = []
        for axis, (n, stride) in enumerate(zip(shape, _strides(shape))):
            index: exp.Expr = exp.paren(local.copy())
            if stride > 1:
                index = exp.IntDiv(this=index, expression=exp.Literal.number(stride))
            if axis > 0:
                index = exp.Mod(this=exp.paren(index), expression=exp.Literal.number(n))
            columns.append(exp.Cast(this=index, to=self.index.copy()).as_(axis_column(axis)))
        inside = exp.and_(
            exp.GTE(this=exp.column("k"), expression=exp.Literal.number(offset)),
            exp.LT(this=exp.column("k"), expression=exp.Literal.number(offset + size)),
        )
        return exp.select(*columns, exp.column(VALUE)).from_(exp.to_identifier(rows)).where(inside)

    def positional(self, source: str, last_only: bool) -> exp.Select:
        """``step, k, val`` of the states in table ``source`` (only the last if asked)."""
        if self.form == "packed":
            item, position, value = self.dialect.unpack(exp.column("a", table="s"), "u")
            select = exp.select(exp.column("step", table="s"), position.as_("k"), value.as_(VALUE))
            select = select.from_(table_ref(source).as_("s")).join(item, join_type="cross")
        else:
            select = exp.select(column("step"), column("k"), column(VALUE)).from_(
                table_ref(source).as_("s")
            )
        if last_only:
            select = select.where(exp.column("step", table="s").eq(self._last_step(source)))
        return select

    def _last_step(self, source: str) -> exp.Expr:
        return exp.Subquery(
            this=exp.select(exp.Max(this=exp.column("step"))).from_(table_ref(source))
        )

    # --- results -----------------------------------------------------------------------

    def result_query(self, source: str) -> exp.Select:
        """``step, variable, i0, ..., val`` of the reported variables' last value in ``source``."""
        ctes, variables = self._last_variables(source)
        width = max((v.ndim for v in self.program.reported), default=0)
        parts = []
        for v in self.program.reported:
            rows = variables[v.name]
            axes = [exp.column(c).as_(axis_column(a)) for a, c in enumerate(rows.axes)]
            axes += [exp.Literal.number(0).as_(axis_column(a)) for a in range(v.ndim, width)]
            name = exp.Literal.string(v.name).as_("variable")
            step = self._last_step(source).as_("step")
            parts.append(
                exp.select(step, name, *axes, exp.column(VALUE)).from_(table_ref(rows.name))
            )
        order = [column(c) for c in ("variable", *(axis_column(a) for a in range(width)))]
        ordered = select([exp.Star()], aliased(union_all(parts), "r"))
        return with_ctes(ordered.order_by(*order), ctes, self.dialect.materialize_steps)

    def trace_query(self, source: str) -> exp.Select:
        """``step, loss`` from ``source``: the loss before each step, then after the last."""
        assert self.program.loss is not None and self.loss_position is not None
        history = aliased(self.positional(source, last_only=False), "h")
        before = exp.Sub(this=exp.column("step", table="h"), expression=exp.Literal.number(1))
        earlier = (
            exp.select(before.as_("step"), exp.column(VALUE, table="h").as_("loss"))
            .from_(history)
            .where(exp.column("k", table="h").eq(self.loss_position))
            .where(exp.GT(this=exp.column("step", table="h"), expression=exp.Literal.number(0)))
        )
        ctes, variables = self._last_variables(source)
        built, (loss,) = lower_nodes(
            [self.program.loss],
            {**self.data, **variables},
            self.dialect,
            self.optimize,
            generated("f"),
        )
        _, final, value = densified(loss.name, loss, (), self.dialect)
        final = final.select(self._last_step(source).as_("step"), value.as_("loss"), copy=False)
        ordered = select([exp.Star()], aliased(union_all([earlier, final]), "t"))
        return with_ctes(
            ordered.order_by(column("step")), [*ctes, *built], self.dialect.materialize_steps
        )

    def _last_variables(self, source: str) -> tuple[Ctes, dict[str, Relation]]:
        ctes, variables = self._state_variables(LAST, generated("y"))
        last = self.positional(source, last_only=True)
        return [
            (
                LAST,
                select([column("k"), column(VALUE)], aliased(last, "p")),
            ),
            *ctes,
        ], variables


def _strides(shape: tuple[int, ...]) -> list[int]:
    """Row-major strides in entries: ``(2, 3, 4)`` gives ``[12, 4, 1]``."""
    return [int(np.prod(shape[a + 1 :], dtype=np.int64)) for a in range(len(shape))]
