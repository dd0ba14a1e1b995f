"""Long expressions (derivatives of deep ones) run as staged statements on every database."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from conftest import Database, run_script
from expressions import SCALAR, tanh_chain
from sqlglot import exp

import einsql
import einsql.expr as ex
from einsql.calculus import grad, hessian
from einsql.convention import Program
from einsql.dialect import load_dialect
from einsql.drivers import open_driver
from einsql.evaluation import check_variables, evaluate, load_variables
from einsql.expr_lower import lower_expression, named_tables
from einsql.lower import Layout
from einsql.names import is_reserved
from einsql.results import to_coo, to_dense


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def chain_gradient(W: np.ndarray, x: np.ndarray, depth: int) -> np.ndarray:
    """The gradient of the chain by hand: forward, then back through each layer."""
    layers = [x]
    for _ in range(depth):
        layers.append(np.tanh(W @ layers[-1]))
    adjoint = np.ones_like(x)
    for h in reversed(layers[1:]):
        adjoint = W.T @ (adjoint * (1.0 - h**2))
    return adjoint


def program_for(expr: ex.Expr, dialect: str, limit: int) -> Program:
    target = load_dialect(dialect)
    relations = named_tables(ex.variables(expr), None, target)
    layout = Layout(max_statement_steps=limit, staged=True)
    return lower_expression(expr, relations, target, layout=layout)


def run_with_limit(db: Database, expr: ex.Expr, values: dict[str, Any], limit: int, **run: Any):
    """Evaluate ``expr`` on ``db`` as staged statements of at most ``limit`` CTEs each."""
    checked = check_variables(ex.variables(expr), values, load_dialect(db.name))
    with open_driver(db.con) as driver:
        relations = load_variables(checked, driver)
        layout = Layout(max_statement_steps=limit, staged=True, prefix=driver.prefix)
        program = lower_expression(expr, relations, driver.dialect, layout=layout)
        rows = driver.run(program, **run)
    assert rows is not None
    return to_dense(to_coo(rows, expr.shape, np.dtype(np.float64)))


# --- the deep chains -----------------------------------------------------------------------


def test_the_deep_chain_gradient_runs_staged(db) -> None:
    f, x, values = tanh_chain(400)
    g = grad(f, x)
    program = program_for(g, db.name, load_dialect(db.name).max_statement_steps)
    assert len(program.setup) > 100  # far more CTEs than one statement holds
    result = einsql.evaluate(g, values, con=db.con)
    expected = chain_gradient(values["W"], values["x"], 400)
    assert np.abs(expected).max() > 1e-2  # the test would see a wrong answer
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result, evaluate(g, values, backend="numpy"), rtol=1e-9)
    assert db.leftovers() == []


def test_the_deep_chain_hessian_runs_staged(db) -> None:
    f, x, values = tanh_chain(100)
    h = hessian(f, x)
    result = einsql.evaluate(h, values, con=db.con)
    step = 1e-5
    W, x0 = values["W"], values["x"]
    differences = [
        (chain_gradient(W, x0 + step * e, 100) - chain_gradient(W, x0 - step * e, 100)) / step / 2
        for e in np.eye(3)
    ]
    assert np.abs(result).max() > 1e-2
    np.testing.assert_allclose(result, np.array(differences), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result, evaluate(h, values, backend="numpy"), rtol=1e-9)
    np.testing.assert_allclose(result, result.T, rtol=1e-9, atol=1e-14)
    assert db.leftovers() == []


def test_deep_chain_sql_runs_pasted(db) -> None:
    f, x, values = tanh_chain(30)
    h = hessian(f, x)
    tables = {name: einsql.Table(f"deep_{name}", v.shape) for name, v in values.items()}
    script = einsql.to_sql(h, dialect=db.name, tables=tables)
    assert "CREATE TEMPORARY TABLE" in script.upper()  # long: staged by itself
    assert einsql.to_sql(h, dialect=db.name, tables=tables, staged=False).count(";") == 1
    for name, value in values.items():
        einsql.einsum("...->...", value, con=db.con, into=f"deep_{name}")
    try:
        dense = np.zeros(h.shape)
        for i, j, v in run_script(db, script):
            dense[int(i), int(j)] = float(v)
    finally:
        db.drop(*(f"deep_{name}" for name in values))
    np.testing.assert_allclose(dense, evaluate(h, values, backend="numpy"), rtol=1e-9)
    assert db.leftovers() == []


# --- any group size, on every database -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCALAR)[::2])
def test_staged_derivatives_of_any_group_size_give_the_same_answer(name, db) -> None:
    f, x, values = SCALAR[name](rng_for(name))
    for k, expr in enumerate((grad(f, x), hessian(f, x))):
        limit = 1 + 3 * k  # a table per CTE, then groups of four
        expected = evaluate(expr, values, backend="numpy")
        result = run_with_limit(db, expr, values, limit)
        np.testing.assert_allclose(result, expected, rtol=1e-8, atol=1e-10)
    assert db.leftovers() == []


def test_an_interrupt_between_staged_statements_leaves_nothing(db) -> None:
    f, x, values = tanh_chain(5)
    created: list[str] = []

    def interrupt(table: str, seconds: float) -> None:
        created.append(table)
        if len(created) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_with_limit(db, hessian(f, x), values, 2, on_table=interrupt)
    assert len(created) == 3 and all(is_reserved(name) for name in created)
    assert db.leftovers() == []
    assert db.rows("SELECT 1") == [(1,)]


# --- the shape of staged programs ----------------------------------------------------------


def cte_names(statement: exp.Expr) -> list[str]:
    with_ = statement.args.get("with_") or (statement.expression or exp.Select()).args.get("with_")
    return [cte.alias for cte in with_.expressions] if with_ else []


def read_tables(statement: exp.Expr) -> set[str]:
    return {t.name for t in statement.find_all(exp.Table)}


@pytest.mark.parametrize("limit", [1, 2, 5, 64])
@pytest.mark.parametrize("name", ["two_layer_tanh", "softmax_cross_entropy", "logistic"])
def test_staged_programs_compute_each_cte_once_within_the_limit(name, limit) -> None:
    f, x, _ = SCALAR[name](rng_for(name))
    expr = hessian(f, x)
    single = program_for(expr, "duckdb", 10_000)  # staged, as one group
    staged = program_for(expr, "duckdb", limit)
    every = {n for s in single.setup for n in cte_names(s)}
    every |= {s.this.name for s in single.setup if isinstance(s, exp.Create)}
    creates = [s for s in staged.setup if isinstance(s, exp.Create)]
    defined = [n for s in creates for n in [s.this.name, *cte_names(s)]]
    assert sorted(defined) == sorted(every)  # every CTE once: nothing computed twice
    assert all(len(cte_names(s)) + 1 <= limit for s in creates)
    assert all(is_reserved(n) for n in defined)
    tables = [s.this.name for s in creates]
    assert sorted(staged.temporaries) == sorted(tables)
    drops = [s for s in (*staged.setup, *staged.teardown) if isinstance(s, exp.Drop)]
    dropped = [d.args["tables"][0].name for d in drops]
    assert sorted(dropped) == sorted(tables)  # each dropped once
    statements = list(staged.statements)
    for drop, name in zip(drops, dropped):  # and never read after it is dropped
        later = statements[statements.index(drop) + 1 :]
        assert not any(name in read_tables(s) for s in later)
