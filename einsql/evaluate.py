"""Evaluate tensor expressions: on the NumPy reference (databases follow the same DAG).

>>> import numpy as np
>>> from einsql.expr import var, einsum, exp
>>> x = var("x", (2,))
>>> evaluate(einsum("i->", exp(x)), {"x": np.zeros(2)}, backend="numpy")
np.float64(2.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from einsql.errors import OperandError, OptionError
from einsql.expr import NUMPY, Const, Einsum, Elementwise, Expr, Var, _fold_einsum, walk


def evaluate(expr: Expr, values: dict[str, Any], backend: str = "numpy") -> Any:
    """The value of ``expr`` with variables set from ``values`` (by name).

    Every node is computed once, however often it is used.

    Raises:
        OperandError: a variable is missing or has the wrong shape.

    """
    if backend != "numpy":
        raise OptionError(f"unknown backend {backend!r} for expressions; use numpy")
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
