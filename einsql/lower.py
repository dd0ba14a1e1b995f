"""Lower: a :class:`~einsql.planner.Plan` becomes SQL, as sqlglot trees.

Each step is one ``SELECT``: the inputs joined on equal labels (a repeated label
inside one input is a diagonal, an equality between two of its columns), the
output labels selected as ``i0, i1, ...``, and, when some label is summed away,
``SUM`` of the product of values grouped by the output labels. A step whose
every input label survives (a permutation, a diagonal, a Hadamard or outer
product) needs no grouping, since COO tables hold one row per index tuple.

A short plan becomes one statement, a chain of common table expressions ``t0 ..
tn``. A long one becomes staged statements: every value is read once, so the plan
is a tree, cut into groups of at most ``max_statement_steps`` steps; each group is
one ``CREATE TEMPORARY TABLE ... AS WITH ...`` whose table is dropped by the
statement that reads it.

>>> from einsql.equation import parse
>>> from einsql.planner import make_plan
>>> from einsql.dialect import load_dialect
>>> plan = make_plan(parse("ij,jk->ik", [(2, 2), (2, 2)]))
>>> rels = [Relation("A", ("i0", "i1"), ("val",), "float"),
...         Relation("B", ("i0", "i1"), ("val",), "float")]
>>> sql = lower(plan, rels, "float", load_dialect("duckdb")).render(load_dialect("duckdb"))
>>> print(sql)
WITH "__einsql_t0" AS MATERIALIZED (
  SELECT
    "x0"."i0" AS "i0",
    "x1"."i1" AS "i1",
    SUM("x0"."val" * "x1"."val") AS "val"
  FROM "A" AS "x0"
  JOIN "B" AS "x1"
    ON "x0"."i1" = "x1"."i0"
  GROUP BY
    "x0"."i0",
    "x1"."i1"
)
SELECT
  "__einsql_t0"."i0" AS "i0",
  "__einsql_t0"."i1" AS "i1",
  "__einsql_t0"."val" AS "val"
FROM "__einsql_t0" AS "__einsql_t0";
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from sqlglot import exp

from einsql.dialect import INT64_MAX, Dialect
from einsql.errors import ExactnessError
from einsql.names import RESERVED, generated
from einsql.operands import CooArray, axis_columns, value_columns
from einsql.planner import Plan, Step
from einsql.semiring import get_semiring


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


@dataclass(frozen=True)
class Program:
    """SQL for one einsum: statements to run, then a query returning the result.

    Attributes:
        setup: statements run first, in order (staged steps and their drops).
        query: the ``SELECT`` returning ``i0, i1, ..., val`` rows of the result.
        teardown: statements run after the query (dropping what it read).
        temporaries: every temporary table the program creates, for cleanup on error.

    """

    setup: tuple[exp.Expr, ...]
    query: exp.Query
    teardown: tuple[exp.Expr, ...] = ()
    temporaries: tuple[str, ...] = ()

    def render(self, dialect: Dialect) -> str:
        """The whole program as SQL text, statements ending in ``;``."""
        statements = [*self.setup, self.query, *self.teardown]
        return "\n".join(dialect.render(s) + ";" for s in statements)


def lower(
    plan: Plan,
    relations: Sequence[Relation],
    kind: str,
    dialect: Dialect,
    *,
    staged: bool | None = None,
    prefix: str = RESERVED,
    nonfinite: bool = False,
) -> Program:
    """Lower ``plan`` reading ``relations`` into SQL computing values of ``kind``.

    Args:
        plan: the contraction plan.
        relations: one relation per operand.
        kind: the value kind of the computation; operands are cast to it.
        dialect: the target dialect.
        staged: force staged (True) or single-statement (False) SQL; by default
            plans longer than ``dialect.max_statement_steps`` are staged.
        prefix: name prefix of the temporary tables of staged SQL.
        nonfinite: whether values may be NaN or infinite. Then each binary step
            also adds a NaN term where a non-finite value meets a missing (zero)
            entry of the other input, as the dense product ``inf * 0`` would.

    Returns:
        The program.

    Raises:
        ExactnessError: an integer result could exceed every exact type of the dialect.

    """
    if staged is None:
        staged = len(plan.steps) > dialect.max_statement_steps
    lowering = _Lowering(plan, relations, kind, dialect, nonfinite and kind in ("float", "complex"))
    return lowering.staged(prefix) if staged else lowering.single_statement()


class _Lowering:
    def __init__(
        self,
        plan: Plan,
        relations: Sequence[Relation],
        kind: str,
        dialect: Dialect,
        nonfinite: bool,
        names: Sequence[str] | None = None,
    ) -> None:
        n = plan.num_operands
        self.plan = plan
        self.nonfinite = nonfinite
        self.kind = kind
        self.dialect = dialect
        self.semiring = get_semiring(plan.semiring)
        self.relations: dict[int, Relation] = dict(enumerate(relations))
        self.product_types: dict[int, exp.DataType | None] = {}
        for s, step in enumerate(plan.steps):
            bound = self._plan_integers(step, n + s)
            name = names[s] if names is not None else generated(f"t{s}")
            self.relations[n + s] = Relation(
                name, axis_columns(len(step.output)), value_columns(kind), kind, bound=bound
            )

    def step_query(self, s: int) -> exp.Query:
        """The query of step ``s``."""
        return self._step_select(self.plan.steps[s], self.plan.num_operands + s)

    def _plan_integers(self, step: Step, value: int) -> int | None:
        """Bound the magnitude of an integer step; pick a wider type for its product if needed.

        A product of inputs bounded by ``b0, b1`` is bounded by ``b0 * b1``, and a
        sum over summed labels of sizes ``n0, n1, ...`` by that times ``n0 * n1 *
        ...``. An unknown bound (a table's values) takes the widest exact type.
        """
        if self.kind != "int":
            return None
        bounds = [self.relations[a].bound for a in step.args]
        product = None if None in bounds else math.prod(b for b in bounds if b is not None)
        summed = set("".join(step.inputs)) - set(step.output)
        total = (
            None
            if product is None
            else product * math.prod(self.plan.equation.size_of[label] for label in summed)
        )
        if total is not None and self.dialect.exact_int_type(total) is None:
            raise ExactnessError(
                f"step t{value - self.plan.num_operands} ({step.equation}) can reach "
                f"{_magnitude(total)}, more than {self.dialect.name}'s integers hold exactly "
                f"({_magnitude(self.dialect.exact_int_types[-1][0])}); use a float dtype "
                "or a database with wider integers (postgres holds any size)"
            )
        if product is None or product > INT64_MAX:
            types = self.dialect.exact_int_types
            name = (self.dialect.exact_int_type(product) if product else None) or types[-1][1]
            if name != types[0][1]:
                self.product_types[value] = self.dialect.parse_type(name)
        return total

    def single_statement(self) -> Program:
        query = self._result_query()
        for k, rel in self.relations.items():
            if rel.rows is not None and k < self.plan.num_operands:
                query = query.with_(rel.name, as_=self._values_select(rel, k), copy=False)
        n = self.plan.num_operands
        for s, step in enumerate(self.plan.steps):
            materialized = self.dialect.materialize_steps or None
            query = query.with_(
                self.relations[n + s].name,
                as_=self._step_select(step, n + s),
                materialized=materialized,
                copy=False,
            )
        return Program((), query)

    def staged(self, prefix: str) -> Program:
        setup: list[exp.Expr] = []
        created: list[str] = []
        for k in range(self.plan.num_operands):
            rel = self.relations[k]
            if rel.rows is not None:
                setup.append(create_table_as(f"{prefix}a{k}", self._values_select(rel, k)))
                self.relations[k] = _renamed(rel, f"{prefix}a{k}")
                created.append(f"{prefix}a{k}")
        groups = self._stage_groups()
        n = self.plan.num_operands
        for root in groups:
            self.relations[n + root] = _renamed(self.relations[n + root], f"{prefix}t{root}")
        for root, members in groups.items():
            setup.append(create_table_as(f"{prefix}t{root}", self._group_select(root, members)))
            created.append(f"{prefix}t{root}")
            read = {a for s in (*members, root) for a in self.plan.steps[s].args}
            setup += [
                drop_table(self.relations[a].name)
                for a in sorted(read)
                if self.relations[a].name in created
            ]
        result = self.relations[self.plan.result].name
        return Program(tuple(setup), self._result_query(), (drop_table(result),), tuple(created))

    def _stage_groups(self) -> dict[int, list[int]]:
        """Root step -> the steps inlined into its statement as CTEs, in order.

        Every value is read once, so the plan is a tree; a step joins its
        consumer's statement unless that statement would exceed
        ``max_statement_steps`` steps, in which case it gets a table of its own.
        """
        n, limit = self.plan.num_operands, self.dialect.max_statement_steps
        members: dict[int, list[int]] = {}
        roots: list[int] = []
        for s, step in enumerate(self.plan.steps):
            children = sorted((a - n for a in step.args if a >= n), key=lambda c: len(members[c]))
            group: list[int] = []
            for child in children:
                if len(group) + len(members[child]) + 1 > limit:
                    roots.append(child)
                else:
                    group += members[child]
            members[s] = [*sorted(group), s]
        roots.append(len(self.plan.steps) - 1)
        return {r: members[r][:-1] for r in sorted(roots)}

    def _group_select(self, root: int, members: list[int]) -> exp.Query:
        n = self.plan.num_operands
        select = self._step_select(self.plan.steps[root], n + root)
        materialized = self.dialect.materialize_steps or None
        for s in members:
            body = self._step_select(self.plan.steps[s], n + s)
            name = self.relations[n + s].name
            select = select.with_(name, as_=body, materialized=materialized, copy=False)
        return select

    def _result_query(self) -> exp.Select:
        rel = self.relations[self.plan.result]
        source = table_ref(rel.name).as_(rel.name.split(".")[-1], copy=False)
        alias = rel.name.split(".")[-1]
        columns = [exp.column(c, table=alias).as_(c, copy=False) for c in (*rel.axes, *rel.values)]
        return exp.select(*columns).from_(source, copy=False)

    def _step_select(self, step: Step, value: int) -> exp.Query:
        aliases = [f"x{k}" for k in range(len(step.args))]
        rels = [self.relations[a] for a in step.args]
        first: dict[str, exp.Column] = {}
        conditions: list[exp.Expression] = []
        for alias, labels, rel in zip(aliases, step.inputs, rels):
            for label, column in zip(labels, rel.axes):
                col = exp.column(column, table=alias)
                if label in first:
                    conditions.append(exp.EQ(this=first[label].copy(), expression=col))
                else:
                    first[label] = col
        keys = [first[label] for label in step.output]
        values = self._product(aliases, rels, self.product_types.get(value))
        log_sum = step.needs_sum and self.semiring.plus == "logsumexp"
        if step.needs_sum and not log_sum:
            values = [self._aggregate(v) for v in values]
        names = self.relations[value]
        select = exp.select(
            *[key.copy().as_(name, copy=False) for key, name in zip(keys, names.axes)],
            *[v.as_(name, copy=False) for v, name in zip(values, names.values)],
        ).from_(table_ref(rels[0].name).as_(aliases[0], copy=False), copy=False)
        select = _join_rest(select, rels[1:], aliases[1:], conditions)
        if log_sum:
            return self._log_sum_exp(select, names)
        if step.needs_sum:
            group = [first[label].copy() for label in dict.fromkeys(step.output)]
            select = (
                select.group_by(*group, copy=False)
                if group
                else select.having(_nonempty(), copy=False)
            )
        if self.nonfinite and len(step.args) == 2:
            poison = [
                self._poison_rows(step, value, bad)
                for bad in (0, 1)
                if rels[bad].kind in ("float", "complex")  # others are always finite
            ]
            select = self._sum_union(value, [select, *poison]) if poison else select
        return select

    def _poison_rows(self, step: Step, value: int, bad: int) -> exp.Select:
        """Output cells where a non-finite value of input ``bad`` meets a missing entry."""
        other = 1 - bad
        rels = [self.relations[a] for a in step.args]
        source = exp.alias_(table_ref(rels[bad].name), "x0")
        select = exp.select().from_(source, copy=False)
        column_of: dict[str, exp.Expression] = {}
        conditions: list[exp.Expr] = []
        for label, column in zip(step.inputs[bad], rels[bad].axes):
            col = exp.column(column, table="x0")
            if label in column_of:
                conditions.append(exp.EQ(this=column_of[label].copy(), expression=col))
            else:
                column_of[label] = col
        for k, label in enumerate(dict.fromkeys(step.inputs[other])):
            if label not in column_of:
                alias = f"r{k}"
                size = self.plan.equation.size_of[label]
                select = select.join(
                    self.dialect.index_range(size, alias), join_type="cross", copy=False
                )
                column_of[label] = exp.column("v", table=alias)
        values = [exp.column(c, table="x0") for c in rels[bad].values]
        conditions.append(exp.or_(*[exp.not_(self.dialect.is_finite(v)) for v in values]))
        matches = [
            exp.EQ(this=exp.column(column, table="x1"), expression=column_of[label].copy())
            for label, column in zip(step.inputs[other], rels[other].axes)
        ]
        missing = exp.select(exp.Literal.number(1)).from_(
            exp.alias_(table_ref(rels[other].name), "x1"), copy=False
        )
        missing = missing.where(*matches, copy=False) if matches else missing
        conditions.append(exp.not_(exp.Exists(this=missing)))
        names = self.relations[value]
        nan = self._float_literal(math.nan)
        keys = [
            column_of[label].copy().as_(name, copy=False)
            for label, name in zip(step.output, names.axes)
        ]
        return (
            select.select(*keys, *[nan.copy().as_(n, copy=False) for n in names.values], copy=False)
            .where(*conditions, copy=False)
            .distinct(copy=False)
        )

    def _sum_union(self, value: int, parts: list[exp.Select]) -> exp.Select:
        names = self.relations[value]
        union: exp.Query = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        keys = [exp.column(c, table="u") for c in names.axes]
        sums = [
            self.dialect.sum_values(exp.column(c, table="u")).as_(c, copy=False)
            for c in names.values
        ]
        select = exp.select(*[k.copy().as_(k.name, copy=False) for k in keys], *sums).from_(
            exp.alias_(exp.Subquery(this=union), "u"), copy=False
        )
        return (
            select.group_by(*keys, copy=False) if keys else select.having(_nonempty(), copy=False)
        )

    def _product(
        self, aliases: Sequence[str], rels: Sequence[Relation], wide: exp.DataType | None
    ) -> list[exp.Expression]:
        factors = [self._factor(alias, rel) for alias, rel in zip(aliases, rels)]
        if wide is not None:
            factors = [(exp.Cast(this=f[0], to=wide.copy()), None) for f in factors]
        if self.kind == "complex":
            re, im = reduce(_complex_mul, factors)
            return [re, im if im is not None else exp.Literal.number(0)]
        combine: type[exp.Binary] = {"and": exp.And, "add": exp.Add, "mul": exp.Mul}[
            self.semiring.times
        ]
        if self.kind == "bool":
            combine = exp.And

        def times(a: Any, b: Any) -> Any:
            return combine(this=parenthesized(a), expression=parenthesized(b))

        return [reduce(times, (f[0] for f in factors))]

    def _factor(self, alias: str, rel: Relation) -> tuple[exp.Expression, exp.Expression | None]:
        cols = [
            read_value(exp.column(c, table=alias), rel.stored, rel.kind, self.dialect)
            for c in rel.values
        ]
        if rel.kind == self.kind:
            return cols[0], (cols[1] if len(cols) > 1 else None)
        return read_value(cols[0], rel.kind, self.kind, self.dialect), None

    def _aggregate(self, value: exp.Expression) -> exp.Expression:
        if self.kind == "bool":
            return exp.LogicalOr(this=value)
        if self.semiring.plus == "min":
            return exp.Min(this=value)
        if self.semiring.plus == "max":
            return exp.Max(this=value)
        return self.dialect.sum_values(value) if self.nonfinite else exp.Sum(this=value)

    def _log_sum_exp(self, terms: exp.Select, names: Relation) -> exp.Select:
        """``m + ln(sum(exp(t - m)))`` per group, ``m`` the group's largest term (stable).

        The terms get their group's maximum by a window; the guard keeps
        PostgreSQL from raising on ``exp`` underflow.
        """
        keys = [exp.column(c, table="q") for c in names.axes]
        term, top = exp.column(names.values[0], table="q"), exp.column("m", table="q")
        window = exp.Window(
            this=exp.Max(this=exp.column(names.values[0], table="p")),
            partition_by=[exp.column(c, table="p") for c in names.axes],
        )
        with_max = exp.select(exp.Star(), window.as_("m")).from_(
            exp.alias_(exp.Subquery(this=terms), "p"), copy=False
        )
        safe_exp = guarded_exp(exp.Sub(this=term, expression=top.copy()), self.dialect)
        total: exp.Expr = exp.Add(
            this=exp.Max(this=top), expression=exp.Ln(this=exp.Sum(this=safe_exp))
        )
        # A group of only -inf terms sums to -inf (its t - m would be -inf + inf = NaN).
        minus_inf = self._float_literal(-math.inf)
        all_minus_inf = exp.EQ(this=exp.Max(this=top.copy()), expression=minus_inf)
        total = exp.Case(ifs=[exp.If(this=all_minus_inf, true=minus_inf.copy())]).else_(total)
        select = exp.select(
            *[k.copy().as_(k.name, copy=False) for k in keys], total.as_(names.values[0])
        ).from_(exp.alias_(exp.Subquery(this=with_max), "q"), copy=False)
        if keys:
            return select.group_by(*[k.copy() for k in keys], copy=False)
        return select.having(_nonempty(), copy=False)

    def _values_select(self, rel: Relation, k: int) -> exp.Select:
        return values_query(rel, self.dialect)

    def _float_literal(self, x: float) -> exp.Expression:
        return float_literal(x, self.dialect)


def read_value(
    column: exp.Expression, stored: str | None, kind: str, dialect: Dialect
) -> exp.Expression:
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
        one, zero = (exp.Cast(this=exp.Literal.number(n), to=to.copy()) for n in (1, 0))
        return exp.Case(ifs=[exp.If(this=column, true=one)]).else_(zero)
    return exp.Cast(this=column, to=to)


def values_query(rel: Relation, dialect: Dialect) -> exp.Select:
    """``rel.rows`` as a typed ``VALUES`` list with the relation's column names."""
    assert rel.rows is not None
    coo = rel.rows
    types = [dialect.parse_type(dialect.axis_type(n)) for n in coo.shape]
    types += [dialect.parse_type(dialect.value_types[rel.kind]) for _ in rel.values]
    names = [*rel.axes, *rel.values]
    if coo.nnz == 0:
        nulls = [exp.Cast(this=exp.null(), to=t).as_(c, copy=False) for t, c in zip(types, names)]
        return exp.select(*nulls).where(exp.false(), copy=False)
    rows = [
        exp.tuple_(
            *[exp.Literal.number(int(i)) for i in index], *_value_literals(value, rel.kind, dialect)
        )
        for index, value in zip(coo.coords.tolist(), coo.values.tolist())
    ]
    named = dialect.values_column_aliases
    sources = names if named else [f"column{k + 1}" for k in range(len(names))]
    alias = exp.TableAlias(this=exp.to_identifier("v"))
    if named:
        alias.set("columns", [exp.to_identifier(c) for c in names])
    values = exp.Values(expressions=rows, alias=alias)
    casts = [
        exp.Cast(this=exp.column(source, table="v"), to=t).as_(c, copy=False)
        for t, source, c in zip(types, sources, names)
    ]
    return exp.select(*casts).from_(values, copy=False)


def _value_literals(value: Any, kind: str, dialect: Dialect) -> list[exp.Expression]:
    if kind == "bool":
        return [exp.true() if value else exp.false()]
    if kind == "int":
        return [exp.Literal.number(int(value))]
    if kind == "complex":
        z = complex(value)
        return [float_literal(z.real, dialect), float_literal(z.imag, dialect)]
    return [float_literal(float(value), dialect)]


def parenthesized(value: Any) -> Any:
    """``value``, in parentheses if it is an operation (sqlglot does not add them).

    Columns, literals and function calls (``CAST`` and ``CASE`` among them) stand alone.
    """
    if isinstance(value, (exp.Column, exp.Literal, exp.Paren, exp.Func)):
        return value
    return exp.Paren(this=value)


def guarded_exp(x: exp.Expr, dialect: Dialect) -> exp.Expr:
    """``EXP(x)`` that saturates to inf or 0 as IEEE does (PostgreSQL raises instead).

    ``x`` is copied into each branch.
    """
    overflow = exp.GT(this=x.copy(), expression=float_literal(709.782712893384, dialect))
    underflow = exp.LT(this=x.copy(), expression=float_literal(-745.0, dialect))
    return exp.Case(
        ifs=[
            exp.If(this=overflow, true=float_literal(math.inf, dialect)),
            exp.If(this=underflow, true=float_literal(0.0, dialect)),
        ]
    ).else_(exp.Exp(this=x.copy()))


def float_literal(x: float, dialect: Dialect) -> exp.Expression:
    """A double literal: ``2.5e0``, or the dialect's spelling of NaN and the infinities."""
    if math.isfinite(x):
        text = repr(x)
        return exp.Literal.number(text if "e" in text else text + "e0")
    key = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return dialect.float_special(key, dialect.parse_type(dialect.value_types["float"]))


def lower_steps(
    plan: Plan, relations: Sequence[Relation], kind: str, dialect: Dialect, names: Sequence[str]
) -> list[tuple[str, exp.Query]]:
    """The steps of ``plan`` as named queries, to be CTEs of a larger statement.

    Step ``s`` is called ``names[s]``; the last one holds the result.
    """
    lowering = _Lowering(plan, relations, kind, dialect, False, names)
    return [(names[s], lowering.step_query(s)) for s in range(len(plan.steps))]


def _complex_mul(
    a: tuple[exp.Expression, exp.Expression | None], b: tuple[exp.Expression, exp.Expression | None]
) -> tuple[exp.Expression, exp.Expression | None]:
    (ar, ai), (br, bi) = a, b
    if ai is None and bi is None:
        return exp.Mul(this=ar, expression=br), None
    if ai is None or bi is None:
        real, (zr, zi) = (ar, (br, bi)) if ai is None else (br, (ar, ai))
        assert zi is not None
        return exp.Mul(this=real, expression=zr), exp.Mul(this=real.copy(), expression=zi)
    re = exp.Sub(this=exp.Mul(this=ar, expression=br), expression=exp.Mul(this=ai, expression=bi))
    im = exp.Add(
        this=exp.Mul(this=ar.copy(), expression=bi.copy()),
        expression=exp.Mul(this=ai.copy(), expression=br.copy()),
    )
    return re, im


def _join_rest(
    select: exp.Select,
    rels: Sequence[Relation],
    aliases: Sequence[str],
    conditions: list[exp.Expression],
) -> exp.Select:
    on = exp.and_(*conditions) if conditions else None
    for rel, alias in zip(rels, aliases):
        table = table_ref(rel.name).as_(alias, copy=False)
        select = (
            select.join(table, join_type="cross", copy=False)
            if on is None
            else select.join(table, on=on, copy=False)
        )
    if not rels and on is not None:
        select = select.where(on, copy=False)
    return select


def _magnitude(n: int) -> str:
    """A large integer, briefly: ``_magnitude(2**127) == '1.7e+38'``."""
    digits = len(str(n))
    return str(n) if digits < 16 else f"{int(str(n)[:2]) / 10:.1f}e+{digits - 1}"


def _nonempty() -> exp.Expression:
    return exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0))


def table_ref(name: str) -> exp.Table:
    """A table reference; dots separate schema (and catalog) from the table name."""
    parts = name.split(".")
    return exp.table_(
        parts[-1],
        db=parts[-2] if len(parts) > 1 else None,
        catalog=parts[-3] if len(parts) > 2 else None,
    )


def _renamed(rel: Relation, name: str) -> Relation:
    return Relation(name, rel.axes, rel.values, rel.kind, bound=rel.bound, stored=rel.stored)


def create_table_as(name: str, query: exp.Query, temporary: bool = True) -> exp.Create:
    """``CREATE [TEMPORARY] TABLE name AS query``."""
    properties = exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None
    return exp.Create(this=table_ref(name), kind="TABLE", expression=query, properties=properties)


def drop_table(name: str) -> exp.Drop:
    """``DROP TABLE IF EXISTS name``."""
    return exp.Drop(tables=[table_ref(name)], kind="TABLE", exists=True)
