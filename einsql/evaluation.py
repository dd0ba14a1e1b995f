"""Evaluate tensor expressions in a database, or on the NumPy reference.

>>> import numpy as np
>>> from einsql.expr import var, einsum, exp
>>> x = var("x", (2,))
>>> evaluate(einsum("i->", exp(x)), {"x": np.zeros(2)}, backend="numpy")
np.float64(2.0)
>>> evaluate(einsum("i->", exp(x)), {"x": np.zeros(2)}, backend="sqlite")
np.float64(2.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from einsql.checks import inspect_table
from einsql.convention import Relation
from einsql.dialect import Dialect, load_dialect
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver
from einsql.expr import (
    Expr,
    Var,
    var,
    variables,
)
from einsql.expr_lower import check_eliminations, lower_expression, variable_table
from einsql.logger import public
from einsql.lower import Layout
from einsql.operands import CooArray, Table, as_operand, checked_value, float_values, variable_value
from einsql.reference import expression_values
from einsql.results import check_dense_size, to_coo, to_dense


@public("evaluate")
def evaluate(
    expr: Expr,
    values: dict[str, Any],
    backend: str | None = None,
    con: Any = None,
    optimize: Any = "auto",
    *,
    echo: bool = False,
    staged: bool | None = None,
) -> Any:
    """The value of ``expr`` with variables set from ``values`` (by name), as a dense array.

    Args:
        expr: the expression (a derivative is one too).
        values: for each variable, an array (NumPy, scipy.sparse, pydata sparse)
            or an :class:`einsql.Table` of the database.
        backend: ``"duckdb"``, ``"postgres"``, ``"sqlite"`` or ``"numpy"``; None
            takes the backend of ``con`` (DuckDB without one).
        con: the database, as for :func:`einsql.einsum`.
        optimize: the path strategy of every einsum in the expression.
        echo: print each SQL statement, and the call's timings, on standard error.
        staged: force staged statements (True) or one statement (False); by
            default an expression of more than the dialect's
            ``max_statement_steps`` CTEs runs staged.

    Every node is computed once, however often it is used: in a database, one
    statement with a CTE per node; a longer expression (the derivative of a
    deep one) as staged statements, each a temporary table holding at most
    ``max_statement_steps`` CTEs, so no database's depth limit is reached.

    Raises:
        OperandError: a variable is missing or has the wrong shape.
        ResultSizeError: the dense result would exceed ``einsql.results.MAX_DENSE_BYTES``.

    """
    check_dense_size(expr.shape, np.dtype(np.float64))
    if backend != "numpy":
        return _evaluate_sql(expr, values, backend, con, optimize, staged)
    (result,) = reference_values([expr], values)
    return result[()] if result.ndim == 0 else result


def reference_values(exprs: list[Expr], values: dict[str, Any]) -> list[np.ndarray]:
    """The NumPy values of several expressions, each shared node computed once.

    Each variable's value is checked and converted to float64 first.

    >>> from einsql.expr import var
    >>> x = var("x", (2,))
    >>> [v.tolist() for v in reference_values([x + 1.0, x * 2.0], {"x": [1.0, 2.0]})]
    [[2.0, 3.0], [2.0, 4.0]]
    """
    nodes: dict[str, Var] = {}
    for expr in exprs:
        nodes.update(variables(expr))
    arrays = {name: variable_value(node, values) for name, node in nodes.items()}
    return expression_values(exprs, arrays)


def _evaluate_sql(
    expr: Expr,
    values: dict[str, Any],
    backend: str | None,
    con: Any,
    optimize: Any,
    staged: bool | None,
) -> Any:
    dialect = load_dialect(backend_of(con, backend))
    check_eliminations([expr], dialect)
    checked = check_variables(variables(expr), values, dialect)
    with open_driver(con, backend) as driver:
        relations = load_variables(checked, driver)
        layout = Layout(staged=staged, prefix=driver.prefix)
        program = lower_expression(expr, relations, driver.dialect, optimize, layout)
        rows = driver.run(program)
    assert rows is not None
    return to_dense(to_coo(rows, expr.shape, np.dtype(np.float64)))


#: Checked variable values: the tables, and the arrays still to load, by name.
Checked = tuple[dict[str, Table], dict[str, CooArray]]


def check_variables(nodes: dict[str, Var], values: dict[str, Any], dialect: Dialect) -> Checked:
    """Each variable's value, checked before anything reaches a database.

    Returns:
        The variables given as :class:`einsql.Table`, and every other value as
        float64 COO, to load with ``load_variables``.

    Raises:
        OperandError: a variable has no value, a value of another shape or a
            complex one, or a table whose name does not fit the dialect.

    """
    tables, arrays = {}, {}
    for name, node in nodes.items():
        value = values.get(name)
        if isinstance(value, Table):
            variable_table(node, value, dialect)
            tables[name] = value
        else:
            arrays[name] = float_values(as_operand(checked_value(node, values), 0), name)
    return tables, arrays


def load_variables(checked: Checked, driver: Driver) -> dict[str, Relation]:
    """The relation of each variable: its table's (checked in the database), or its array's."""
    tables, arrays = checked
    relations = {}
    for name, table in tables.items():
        facts = inspect_table(driver, table, f"the table of variable {name!r}")
        relations[name] = variable_table(var(name, table.shape), table, driver.dialect, facts)
    for name, coo in arrays.items():
        driver.doing = f"loading variable {name!r}"
        relations[name] = driver.load(coo, "float")
    return relations
