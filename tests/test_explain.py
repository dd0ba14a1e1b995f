"""Explain, progress and notebook display."""

from __future__ import annotations

import io

import numpy as np
from conftest import random_operand

import einsql
from einsql.display import Progress

RNG = np.random.default_rng(31)
ARRAYS = [random_operand(s, "float64", 0.5, RNG) for s in [(6, 7), (7, 8), (8, 3)]]


def test_explain_without_running_is_the_plan() -> None:
    e = einsql.explain("ij,jk,kl->il", *ARRAYS)
    assert e.plan == einsql.plan("ij,jk,kl->il", *ARRAYS)
    assert e.steps == () and str(e) == str(e.plan) + "\n" + e.aggregation
    assert e.aggregation.startswith("fetched, ij,jl->il sums in the database: about 45 products")


def test_a_run_measures_every_step(db) -> None:
    e = einsql.explain("ij,jk,kl->il", *ARRAYS, con=db.con, run=True)
    assert len(e.steps) == len(e.plan.steps) and e.backend == db.name
    from einsql.reference import run_step

    values = dict(enumerate(ARRAYS))
    for s, (step, measured) in enumerate(zip(e.plan.steps, e.steps)):
        values[3 + s] = run_step(step, [values[a] for a in step.args])
        assert measured.rows == np.count_nonzero(values[3 + s])  # the rows each step stored
        assert measured.seconds >= 0
    assert e.rows()[0][-2:] == ("rows", "seconds")
    assert db.leftovers() == []


def test_analyze_shows_the_databases_own_plan(db) -> None:
    e = einsql.explain("ij,jk->ik", *ARRAYS[:2], con=db.con, analyze=True)
    words = {"duckdb": "Total Time", "postgres": "actual time", "sqlite": "SCAN"}
    assert words[db.name] in e.analysis
    assert db.leftovers() == []


def test_progress_ticks_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = Progress(3, stream)
        for _ in range(3):
            bar.tick()
        bar.close()
    assert terminal.getvalue().count("\r") == 3 and "3/3 steps" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_notebook_display() -> None:
    plan = einsql.plan("ij,jk->ik", *ARRAYS[:2])
    assert plan._repr_html_().startswith("<table><caption>einsum ij,jk-&gt;ik")
    assert "| t0 | ij,jk->ik |" in plan._repr_markdown_()
    sql = einsql.to_sql("ij,jk->ik", einsql.Table("a", (6, 7)), einsql.Table("b", (7, 8)))
    assert isinstance(sql, str) and sql._repr_markdown_().startswith("```sql\nWITH")
    assert "<span" in sql._repr_html_()  # highlighted
    x = einsql.var("x", (3,))
    assert einsql.grad(einsql.sum(einsql.exp(x)), x)._repr_latex_() == r"$\exp\left(x\right)$"
