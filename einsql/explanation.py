"""Explain an einsum: its plan, and after a run each step's actual rows and time.

>>> import numpy as np
>>> e = explain("ij,jk->ik", np.eye(3), np.ones((3, 2)), run=True)
>>> e.steps[0].rows
6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from einsql.api import (
    Prepared,
    check_names,
    estimated_last_step,
    load_relations,
    prepare,
    sums_in_client,
)
from einsql.convention import Program
from einsql.dialect import Dialect, load_dialect
from einsql.display import html_table, markdown_table, text_table
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver
from einsql.lower import Layout, lower
from einsql.planner import Plan
from einsql.sql import table_ref


@dataclass(frozen=True)
class StepRun:
    """What one step did when it ran.

    Attributes:
        rows: the rows (nonzeros) it produced.
        seconds: its wall time.

    """

    rows: int
    seconds: float


@dataclass(frozen=True)
class Explanation:
    """A plan, with the measured steps of a run and the database's own analysis.

    Attributes:
        plan: the contraction plan (estimated FLOPs and dense size per step).
        steps: one ``StepRun`` per step after ``run=True``, else empty.
        analysis: the database's ``EXPLAIN ANALYZE`` of the single statement
            (SQLite: ``EXPLAIN QUERY PLAN``, which has no timings), or "".
        backend: where it ran, if it ran.
        aggregation: where a fetched result's last step sums its products,
            and the sparsity model's estimate it was chosen by.

    """

    plan: Plan
    steps: tuple[StepRun, ...] = ()
    analysis: str = ""
    backend: str = ""
    aggregation: str = ""

    def rows(self) -> list[tuple[str, ...]]:
        """The plan's rows with the measured ``rows`` and ``seconds`` added after a run."""
        table = self.plan.rows()
        if not self.steps:
            return table
        extended = [(*table[0], "rows", "seconds")]
        for row, step in zip(table[1:], self.steps):
            extended.append((*row, f"{step.rows:,}", f"{step.seconds:.4f}"))
        return extended

    @property
    def title(self) -> str:
        """The plan's title, and where it ran."""
        where = f" on {self.backend}" if self.backend else ""
        return self.plan.title + where

    def __str__(self) -> str:
        text = self.title + "\n" + text_table(self.rows()) + self._aggregation("\n")
        return text + ("\n\n" + self.analysis if self.analysis else "")

    def _repr_markdown_(self) -> str:
        text = f"**{self.title}**\n\n" + markdown_table(self.rows()) + self._aggregation("\n\n")
        return text + (f"\n\n```\n{self.analysis}\n```" if self.analysis else "")

    def _repr_html_(self) -> str:
        analysis = f"<pre>{self.analysis}</pre>" if self.analysis else ""
        aggregation = f"<p>{self.aggregation}</p>" if self.aggregation else ""
        return html_table(self.rows(), self.title) + aggregation + analysis

    def _aggregation(self, separator: str) -> str:
        return separator + self.aggregation if self.aggregation else ""


def explain(
    *operands: Any,
    con: Any = None,
    backend: str | None = None,
    optimize: Any = "auto",
    run: bool = False,
    analyze: bool = False,
    semiring: str = "sum-product",
) -> Explanation:
    """The plan of an einsum; with ``run``, each step's actual rows and time.

    Args:
        *operands: as for :func:`einsql.einsum`.
        con: the database, as for :func:`einsql.einsum`.
        backend: as for :func:`einsql.einsum`.
        optimize: the path strategy.
        run: run the steps one statement each (a temporary table per step),
            timing each and counting its rows.
        analyze: also run the single statement under the database's
            ``EXPLAIN ANALYZE``.
        semiring: as for :func:`einsql.einsum`.

    Returns:
        The explanation: print it, or show it in a notebook.

    """
    prepared = prepare(operands, optimize, semiring)
    # Without a connection, a named backend is known by its name: nothing is opened.
    name = backend if con is None and backend is not None else backend_of(con, backend)
    aggregation = "" if name == "numpy" else describe_aggregation(prepared, load_dialect(name))
    if not (run or analyze):
        return Explanation(prepared.plan, aggregation=aggregation)
    check_names(prepared, None, load_dialect(backend_of(con, backend)))
    with open_driver(con, backend) as driver:
        loaded = load_relations(driver, prepared, inline=False)
        steps: tuple[StepRun, ...] = ()
        if run:
            staged = lower(
                prepared.plan,
                loaded.relations,
                prepared.kind,
                driver.dialect,
                layout=Layout(max_statement_steps=1, staged=True, prefix=driver.prefix),
                nonfinite=loaded.nonfinite,
            )
            steps = run_measured(driver, staged)
        analysis = ""
        if analyze:
            single = lower(
                prepared.plan,
                loaded.relations,
                prepared.kind,
                driver.dialect,
                layout=Layout(staged=False),
                nonfinite=loaded.nonfinite,
            )
            analysis = explain_analyze(driver, single)
        return Explanation(prepared.plan, steps, analysis, driver.dialect.name, aggregation)


def describe_aggregation(prepared: Prepared, dialect: Dialect) -> str:
    """Where a fetched result's last step sums on ``dialect`` (``aggregate="auto"``), and why.

    >>> import scipy.sparse as sp
    >>> a = sp.random(5_000, 5_000, density=0.004, random_state=0)
    >>> print(describe_aggregation(prepare(["ij,jk->ik", a, a]), load_dialect("duckdb")))
    fetched, ij,jk->ik sums in the client: about 2e+06 products into 1.9e+06 nonzeros
    """
    step = prepared.plan.steps[-1]
    if not step.needs_sum:
        return ""
    where = "the client" if sums_in_client(prepared, dialect) else "the database"
    products, nonzeros = estimated_last_step(prepared)
    estimate = f": about {products:.2g} products into {nonzeros:.2g} nonzeros" if products else ""
    return f"fetched, {step.equation} sums in {where}{estimate}"


def run_measured(driver: Driver, program: Program) -> tuple[StepRun, ...]:
    """Run a staged program with one table per step; time and count each step."""
    measured = []

    def count(name: str, seconds: float) -> None:
        query = exp.select(exp.Count(this=exp.Star())).from_(table_ref(name))
        rows = int(next(iter(driver.query(driver.sql(query)).values()))[0])
        measured.append(StepRun(rows, seconds))

    driver.run(program, on_table=count)
    return tuple(measured)


def explain_analyze(driver: Driver, program: Program) -> str:
    """The database's own analysis of the program's single statement, as text."""
    keyword = driver.dialect.explain_analyze
    command = exp.Command(this=keyword, expression=exp.Literal.string(driver.sql(program.query)))
    rows = driver.query(driver.sql(command))
    detail = list(rows.values())[-1]  # DuckDB: (key, plan); SQLite: (id, parent, _, detail)
    return "\n".join(str(line) for line in detail)
