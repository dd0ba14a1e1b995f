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

from einsql.dialect import load_dialect
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver
from einsql.errors import OperandError
from einsql.expr import NUMPY, Const, Einsum, Elementwise, Expr, Var, _fold_einsum, variables, walk
from einsql.expr_lower import lower_expression
from einsql.lower import Relation
from einsql.operands import CooArray, Table, as_operand
from einsql.results import to_coo, to_dense


def evaluate(
    expr: Expr,
    values: dict[str, Any],
    backend: str | None = None,
    con: Any = None,
    optimize: str = "auto",
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

    Every node is computed once, however often it is used: in a database, one
    statement with a CTE per node.

    Raises:
        OperandError: a variable is missing or has the wrong shape.

    """
    if backend != "numpy":
        return _evaluate_sql(expr, values, backend, con, optimize)
    results: dict[int, np.ndarray] = {}
    for node in walk(expr):
        results[id(node)] = _compute(node, [results[id(c)] for c in node.children], values)
    result = results[id(expr)]
    return result[()] if result.ndim == 0 else result


def _compute(node: Expr, args: list[np.ndarray], values: dict[str, Any]) -> np.ndarray:
    if isinstance(node, Var):
        return variable_value(node, values)
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Einsum):
        return _fold_einsum(node.inputs, node.output, args)
    assert isinstance(node, Elementwise)
    with np.errstate(all="ignore"):
        return np.asarray(NUMPY[node.fn](*args), dtype=np.float64)


def _evaluate_sql(
    expr: Expr, values: dict[str, Any], backend: str | None, con: Any, optimize: str
) -> Any:
    variables = _variables(expr, values, con)
    load_dialect(backend_of(con, backend))  # a bad backend fails before anything opens
    with open_driver(con, backend) as driver:
        relations = {
            name: _relation(driver, value, variables[name]) for name, value in variables.items()
        }
        program = lower_expression(expr, relations, driver.dialect, optimize)
        rows = driver.run(program)
    assert rows is not None
    return to_dense(to_coo(rows, expr.shape, np.dtype(np.float64)))


def _variables(expr: Expr, values: dict[str, Any], con: Any) -> dict[str, Any]:
    """Each variable's value: a checked array, or a table of the right shape."""
    found: dict[str, Any] = {}
    for name, node in variables(expr).items():
        value = values.get(name)
        if isinstance(value, Table):
            if value.shape != node.shape:
                raise OperandError(
                    f"variable {name!r} has shape {node.shape}, table {value.name!r} {value.shape}"
                )
            found[name] = value
        else:
            found[name] = as_operand(_checked(node, values), 0)
    return found


def _checked(node: Var, values: dict[str, Any]) -> Any:
    value = values.get(node.name)
    if value is None:
        raise OperandError(f"no value for variable {node.name!r}; pass it in values")
    if tuple(getattr(value, "shape", np.shape(value))) != node.shape:
        raise OperandError(
            f"variable {node.name!r} has shape {node.shape}, its value {np.shape(value)}"
        )
    return value


def _relation(driver: Driver, value: Any, node: Any) -> Relation:
    if isinstance(value, Table):
        return Relation(value.name, value.axes, value.values[:1], "float")
    return driver.load(
        CooArray(value.coords, value.values.astype(np.float64), value.shape), "float"
    )


def variable_value(node: Var, values: dict[str, Any]) -> np.ndarray:
    """The value given for a variable, as float64 of its shape.

    Raises:
        OperandError: no value, or a value of another shape.

    """
    if node.name not in values:
        raise OperandError(f"no value for variable {node.name!r}; pass it in values")
    value = np.asarray(values[node.name], dtype=np.float64)
    if value.shape != node.shape:
        raise OperandError(
            f"variable {node.name!r} has shape {node.shape}, its value {value.shape}"
        )
    return value
