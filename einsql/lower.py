"""Lower: a :class:`~einsql.planner.Plan` becomes SQL, as sqlglot trees.

Each step is one ``SELECT``: the inputs joined on equal labels (a repeated label
inside one input is a diagonal, an equality between two of its columns), the
output labels selected as ``i0, i1, ...``, and, when some label is summed away,
``SUM`` of the product of values grouped by the output labels. A step whose
every input label survives (a permutation, a diagonal, a Hadamard or outer
product) needs no grouping, since COO tables hold one row per index tuple.

A short plan becomes one statement, a chain of common table expressions
``__einsql_t0 .. __einsql_tn``. A long one becomes staged statements: every
value is read once, so the plan is a tree, cut into groups of at most
``max_statement_steps`` steps; each group is
one ``CREATE TEMPORARY TABLE ... AS WITH ...`` whose table is dropped by the
statement that reads it.

>>> from einsql.equation import parse
>>> from einsql.planner import make_plan
>>> from einsql.dialect import load_dialect
>>> from einsql.convention import Relation
>>> plan = make_plan(parse("ij,jk->ik", [(2, 2), (2, 2)]))
>>> rels = [Relation("A", ("i0", "i1"), ("val",), "float"),
...         Relation("B", ("i0", "i1"), ("val",), "float")]
>>> sql = lower(plan, rels, "float", load_dialect("duckdb")).render(load_dialect("duckdb"))
>>> print(sql)
WITH "__einsql_t0" AS (
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
from dataclasses import dataclass
from functools import reduce

from sqlglot import exp

from einsql.convention import Program, Relation, coo_relation
from einsql.dialect import INT64_MAX, Dialect
from einsql.errors import ExactnessError
from einsql.names import RESERVED, generated
from einsql.planner import Plan, Step
from einsql.semiring import OR_AND, SUM_PRODUCT, get_semiring
from einsql.sql import (
    aliased,
    binary,
    building,
    case,
    column,
    drop_table,
    equal,
    float_literal,
    grouped,
    guarded_exp,
    joined,
    named,
    number,
    read_value,
    select,
    summed_union,
    table_ref,
    values_query,
    where,
    with_ctes,
)


@dataclass(frozen=True)
class Layout:
    """How a plan becomes statements: lowering policy, separate from the dialect.

    Attributes:
        materialize: write each step ``AS MATERIALIZED`` (None: the dialect's default).
        max_statement_steps: the most steps in one statement; longer plans run
            staged (None: the dialect's default).
        staged: force staged (True) or single-statement (False) SQL (None: by length).
        prefix: name prefix of the temporary tables of staged SQL.
        client_sum: let the last step run as join and product only, leaving its
            repeated index tuples for the client to sum (see
            :mod:`einsql.duplicates`); honoured where the semiring's sum has a
            client side and the values are finite and exact (``Program.duplicates``
            tells whether it was).

    """

    materialize: bool | None = None
    max_statement_steps: int | None = None
    staged: bool | None = None
    prefix: str = RESERVED
    client_sum: bool = False

    def materialized(self, dialect: Dialect) -> bool:
        """Whether steps are materialized in ``dialect``."""
        return dialect.materialize_steps if self.materialize is None else self.materialize

    def step_limit(self, dialect: Dialect) -> int:
        """The most steps one statement holds in ``dialect``."""
        limit = self.max_statement_steps
        return dialect.max_statement_steps if limit is None else limit


def lower(
    plan: Plan,
    relations: Sequence[Relation],
    kind: str,
    dialect: Dialect,
    *,
    layout: Layout = Layout(),
    nonfinite: bool = False,
) -> Program:
    """Lower ``plan`` reading ``relations`` into SQL computing values of ``kind``.

    Args:
        plan: the contraction plan.
        relations: one relation per operand.
        kind: the value kind of the computation; operands are cast to it.
        dialect: the target dialect.
        layout: materialization and staging (by default the dialect's).
        nonfinite: whether values may be NaN or infinite. Then each binary step
            also adds a NaN term where a non-finite value meets a missing (zero)
            entry of the other input, as the dense product ``inf * 0`` would.

    Returns:
        The program.

    Raises:
        ExactnessError: an integer result could exceed every exact type of the dialect.

    """
    staged = layout.staged
    if staged is None:
        staged = len(plan.steps) > layout.step_limit(dialect)
    # NaN terms are the sum-product's: inf * 0; other semirings' zeros absorb.
    poison = nonfinite and kind in ("float", "complex") and plan.semiring == SUM_PRODUCT.name
    with building():
        lowering = _StepLowering(plan, relations, kind, dialect, poison, layout)
        return lowering.staged() if staged else lowering.single_statement()


def lower_steps(
    plan: Plan, relations: Sequence[Relation], kind: str, dialect: Dialect, names: Sequence[str]
) -> list[tuple[str, exp.Query]]:
    """The steps of ``plan`` as named queries, to be CTEs of a larger statement.

    Step ``s`` is called ``names[s]``; the last one holds the result.
    """
    lowering = _StepLowering(plan, relations, kind, dialect, False, Layout(), names)
    return [(names[s], lowering.step_query(s)) for s in range(len(plan.steps))]


class _StepLowering:
    """The SQL of each step of one plan, and the statements holding them."""

    def __init__(
        self,
        plan: Plan,
        relations: Sequence[Relation],
        kind: str,
        dialect: Dialect,
        nonfinite: bool,
        layout: Layout,
        names: Sequence[str] | None = None,
    ) -> None:
        n = plan.num_operands
        self.plan = plan
        self.nonfinite = nonfinite
        self.kind = kind
        self.dialect = dialect
        self.layout = layout
        self.semiring = OR_AND if kind == "bool" else get_semiring(plan.semiring)
        self.relations: dict[int, Relation] = dict(enumerate(relations))
        self.product_types: dict[int, exp.DataType | None] = {}
        for s, step in enumerate(plan.steps):
            bound = self._plan_integers(step, n + s)
            name = names[s] if names is not None else generated(f"t{s}")
            self.relations[n + s] = coo_relation(name, len(step.output), kind, bound)
        self.client_sum = layout.client_sum and self._client_can_sum()

    def _client_can_sum(self) -> bool:
        """Whether the last step may leave its sums to the client.

        Not where values may be NaN or infinite (the ``inf * 0`` terms are
        SQL's), nor where an integer sum could leave int64 (the database sums
        exactly in wider types; NumPy would wrap around).
        """
        last = self.plan.steps[-1]
        if not last.needs_sum or self.nonfinite:
            return False
        if self.kind != "int":
            return True
        bound = self.relations[self.plan.result].bound
        return (
            bound is not None and bound <= INT64_MAX and self.plan.result not in self.product_types
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
        # Where SUM keeps its argument's type (Spark), the products must hold the sum.
        needed = product if self.dialect.sum_widens else total
        if needed is None or needed > INT64_MAX:
            types = self.dialect.exact_int_types
            name = (self.dialect.exact_int_type(needed) if needed else None) or types[-1][1]
            if name != types[0][1]:
                self.product_types[value] = self.dialect.parse_type(name)
        return total

    def _inline_ctes(self, operands: Sequence[int]) -> list[tuple[str, exp.Query]]:
        """The ``VALUES`` lists of the inlined operands among ``operands``."""
        rels = [self.relations[k] for k in operands]
        return [(rel.name, values_query(rel, self.dialect)) for rel in rels if rel.rows is not None]

    def _step_ctes(self, steps: Sequence[int]) -> list[tuple[str, exp.Query]]:
        n = self.plan.num_operands
        return [(self.relations[n + s].name, self.step_query(s)) for s in steps]

    def single_statement(self) -> Program:
        """One ``WITH`` statement: the steps in order, each ``AS MATERIALIZED`` but the last.

        Materializing keeps each contraction a unit, in the plan's order; the
        last step is read once, by the final projection, so writing it out
        would only copy the result (measured: see the README's "Plans and SQL").
        """
        query = self._result_query()
        materialized = self.layout.materialized(self.dialect)
        last = len(self.plan.steps) - 1
        with_ctes(query, self._inline_ctes(range(self.plan.num_operands)))
        with_ctes(query, self._step_ctes(range(last)), materialized)
        with_ctes(query, self._step_ctes([last]))
        return Program((), query, duplicates=self.client_sum)

    def staged(self) -> Program:
        """Statements of at most the layout's step limit, each creating one temporary table.

        An inlined operand is read by one step, so its ``VALUES`` list rides as a
        CTE in the statement holding that step, rather than as a table of its
        own: a table costs two statements (create, drop), and DuckDB takes
        about 2 ms for each (a 5,000-operand chain of 2x2 arrays spent 23 s of
        31 s on them).
        """
        prefix = self.layout.prefix
        setup: list[exp.Expr] = []
        created: list[str] = []
        groups = self._stage_groups()
        n = self.plan.num_operands
        for root in groups:
            self.relations[n + root] = self.relations[n + root].renamed(f"{prefix}t{root}")
        for root, members in groups.items():
            query = self._group_select(root, members)
            setup.append(self.dialect.temporary_table(f"{prefix}t{root}", query))
            created.append(f"{prefix}t{root}")
            read = {a for s in (*members, root) for a in self.plan.steps[s].args}
            setup += [
                drop_table(self.relations[a].name)
                for a in sorted(read)
                if self.relations[a].name in created and self.dialect.drops_early
            ]
        result = self.relations[self.plan.result].name
        kept = [result] if self.dialect.drops_early else created[::-1]
        teardown = tuple(drop_table(name) for name in kept)
        query = self._result_query()
        return Program(tuple(setup), query, teardown, tuple(created), self.client_sum)

    def _stage_groups(self) -> dict[int, list[int]]:
        """Root step -> the steps inlined into its statement as CTEs, in order.

        Every value is read once, so the plan is a tree; a step joins its
        consumer's statement unless that statement would exceed the layout's
        step limit, in which case it gets a table of its own.
        """
        n, limit = self.plan.num_operands, self.layout.step_limit(self.dialect)
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
        """The statement of a group: its inlined operands, its member steps, then its root."""
        n = self.plan.num_operands
        read = sorted(a for s in (*members, root) for a in self.plan.steps[s].args if a < n)
        query = self.step_query(root)
        with_ctes(query, self._inline_ctes(read))
        return with_ctes(query, self._step_ctes(members), self.layout.materialized(self.dialect))

    def _result_query(self) -> exp.Select:
        rel = self.relations[self.plan.result]
        alias = rel.name.split(".")[-1]
        columns = [named(column(c, alias), c) for c in (*rel.axes, *rel.values)]
        return select(columns, aliased(table_ref(rel.name), alias))

    def _step_select(self, step: Step, value: int) -> exp.Query:
        assert 1 <= len(step.args) <= 2, f"a step reads one or two values, not {step.args}"
        aliases = [f"x{k}" for k in range(len(step.args))]
        rels = [self.relations[a] for a in step.args]
        first: dict[str, tuple[str, str]] = {}
        conditions: list[exp.Expr] = []
        for alias, labels, rel in zip(aliases, step.inputs, rels):
            for label, name in zip(labels, rel.axes):
                if label in first:
                    conditions.append(equal(column(*first[label]), column(name, alias)))
                else:
                    first[label] = (name, alias)
        values = self._product(aliases, rels, self.product_types.get(value))
        sums = step.needs_sum and not (self.client_sum and value == self.plan.result)
        log_sum = sums and self.semiring.sql_plus is None
        if sums and not log_sum:
            values = [self._aggregate(v) for v in values]
        names = self.relations[value]
        keys = [named(column(*first[label]), name) for label, name in zip(step.output, names.axes)]
        columns = [named(v, name) for v, name in zip(values, names.values)]
        query = select([*keys, *columns], aliased(table_ref(rels[0].name), aliases[0]))
        if len(rels) == 2:
            joined(query, aliased(table_ref(rels[1].name), aliases[1]), conditions)
        else:
            where(query, conditions)
        if log_sum:
            return self._log_sum_exp(query, names)
        if sums:
            grouped(query, [column(*first[label]) for label in dict.fromkeys(step.output)])
        if self.nonfinite and len(step.args) == 2:
            poison = [
                self._poison_rows(step, value, bad)
                for bad in (0, 1)
                if rels[bad].kind in ("float", "complex")  # others are always finite
            ]
            if poison:
                return summed_union([query, *poison], names.axes, names.values, self._sum)
        return query

    def _poison_rows(self, step: Step, value: int, bad: int) -> exp.Select:
        """Output cells where a non-finite value of input ``bad`` meets a missing entry."""
        other = 1 - bad
        rels = [self.relations[a] for a in step.args]
        query = select([], aliased(table_ref(rels[bad].name), "x0"))
        column_of: dict[str, tuple[str, str]] = {}
        conditions: list[exp.Expr] = []
        for label, name in zip(step.inputs[bad], rels[bad].axes):
            if label in column_of:
                conditions.append(equal(column(*column_of[label]), column(name, "x0")))
            else:
                column_of[label] = (name, "x0")
        for k, label in enumerate(dict.fromkeys(step.inputs[other])):
            if label not in column_of:
                size = self.plan.equation.size_of[label]
                joined(query, self.dialect.index_range(size, f"r{k}"))
                column_of[label] = ("v", f"r{k}")
        not_finite = [
            exp.not_(self.dialect.is_finite(column(c, "x0")), copy=False) for c in rels[bad].values
        ]
        conditions.append(exp.or_(*not_finite, copy=False))
        matches = [
            equal(column(name, "x1"), column(*column_of[label]))
            for label, name in zip(step.inputs[other], rels[other].axes)
        ]
        missing = where(select([number(1)], aliased(table_ref(rels[other].name), "x1")), matches)
        conditions.append(exp.not_(exp.Exists(this=missing), copy=False))
        names = self.relations[value]
        keys = [
            named(column(*column_of[label]), name) for label, name in zip(step.output, names.axes)
        ]
        nans = [named(float_literal(math.nan, self.dialect), n) for n in names.values]
        query.set("expressions", [*keys, *nans])
        query.set("distinct", exp.Distinct())
        return where(query, conditions)

    def _product(
        self, aliases: Sequence[str], rels: Sequence[Relation], wide: exp.DataType | None
    ) -> list[exp.Expr]:
        factors = [self._factor(alias, rel) for alias, rel in zip(aliases, rels)]
        if wide is not None:
            factors = [(exp.Cast(this=f[0], to=wide.copy()), None) for f in factors]
        if self.kind == "complex":
            re, im = reduce(_complex_mul, factors)
            return [re, im if im is not None else number(0)]
        times = self.semiring.sql_times
        return [reduce(lambda a, b: binary(times, a, b), (f[0] for f in factors))]

    def _factor(self, alias: str, rel: Relation) -> tuple[exp.Expr, exp.Expr | None]:
        cols = [
            read_value(column(c, alias), rel.stored, rel.kind, self.dialect) for c in rel.values
        ]
        if rel.kind == self.kind:
            return cols[0], (cols[1] if len(cols) > 1 else None)
        return read_value(cols[0], rel.kind, self.kind, self.dialect), None

    def _aggregate(self, value: exp.Expr) -> exp.Expr:
        plus = self.semiring.sql_plus
        assert plus is not None
        return self._sum(value) if plus is exp.Sum else plus(this=value)

    def _sum(self, value: exp.Expr) -> exp.Expr:
        """``SUM``; where values may be NaN, the dialect's NaN-keeping sum."""
        return self.dialect.sum_values(value) if self.nonfinite else exp.Sum(this=value)

    def _log_sum_exp(self, terms: exp.Select, names: Relation) -> exp.Select:
        """``m + ln(sum(exp(t - m)))`` per group, ``m`` the group's largest term (stable).

        The terms get their group's maximum by a window; the guard keeps
        PostgreSQL from raising on ``exp`` underflow.
        """
        term = names.values[0]
        window = exp.Window(
            this=exp.Max(this=column(term, "p")),
            partition_by=[column(c, "p") for c in names.axes],
        )
        with_max = select([exp.Star(), named(window, "m")], aliased(terms, "p"))
        safe_exp = guarded_exp(
            exp.Sub(this=column(term, "q"), expression=column("m", "q")), self.dialect
        )
        summed = self.dialect.sum_values(safe_exp)  # a NaN term (NULL on SQLite) stays NaN
        total: exp.Expr = exp.Add(
            this=exp.Max(this=column("m", "q")), expression=exp.Ln(this=summed)
        )
        # A group whose largest term is infinite is that infinity (its t - m would be NaN).
        infinite = [
            (
                exp.EQ(
                    this=exp.Max(this=column("m", "q")), expression=float_literal(x, self.dialect)
                ),
                float_literal(x, self.dialect),
            )
            for x in (-math.inf, math.inf)
        ]
        total = case(infinite, total)
        keys = [named(column(c, "q"), c) for c in names.axes]
        query = select([*keys, named(total, term)], aliased(with_max, "q"))
        return grouped(query, [column(c, "q") for c in names.axes])


def _complex_mul(
    a: tuple[exp.Expr, exp.Expr | None], b: tuple[exp.Expr, exp.Expr | None]
) -> tuple[exp.Expr, exp.Expr | None]:
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


def _magnitude(n: int) -> str:
    """A large integer, briefly: ``_magnitude(2**127) == '1.7e+38'``."""
    digits = len(str(n))
    return str(n) if digits < 16 else f"{int(str(n)[:2]) / 10:.1f}e+{digits - 1}"
