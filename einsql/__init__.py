"""einsql: Einstein summation compiled to SQL over sparse coordinate-format tables.

>>> import numpy as np, einsql
>>> a = np.array([[1.0, 0.0], [0.0, 2.0]])
>>> einsql.einsum("ij,jk->ik", a, a)
array([[1., 0.],
       [0., 4.]])
"""

from __future__ import annotations

from typing import Any

from einsql.api import compile_program, einsum, einsum_path, plan, prepare, to_sql
from einsql.calculus import grad, hessian, hvp, jacobian
from einsql.catalog import table
from einsql.compiled import ContractExpression, contract_expression
from einsql.display import SQL
from einsql.errors import (
    ArgumentError,
    DatabaseError,
    EinsqlError,
    ExactnessError,
    OperandError,
    OptionError,
    PathError,
    ResultSizeError,
    ShapeError,
    SubscriptError,
)
from einsql.evaluation import evaluate
from einsql.explanation import Explanation, StepRun, explain
from einsql.expr import APPLY, Expr, const, det, inv, latex, logdet, matmul, solve, var
from einsql.expr import sum_ as sum
from einsql.frames import coo
from einsql.functions import PUBLIC_FUNCTIONS
from einsql.gradcheck import GradCheck, check_grad
from einsql.iteration import Iterated, Iteration, LoopWarning, descent, power_method
from einsql.iteration_run import iterate, minimize, power_iteration
from einsql.linalg import diag, kron, norm1, norm2, trace
from einsql.numpy_source import to_numpy
from einsql.operands import CooArray, Table
from einsql.planner import Plan, Step
from einsql.session import Session, connect

__all__ = [
    "SQL",
    "ArgumentError",
    "ContractExpression",
    "CooArray",
    "DatabaseError",
    "EinsqlError",
    "ExactnessError",
    "Explanation",
    "Expr",
    "GradCheck",
    "Iterated",
    "Iteration",
    "LoopWarning",
    "OperandError",
    "OptionError",
    "PathError",
    "Plan",
    "ResultSizeError",
    "Session",
    "ShapeError",
    "Step",
    "StepRun",
    "SubscriptError",
    "Table",
    "check_grad",
    "compile_program",
    "connect",
    "contract_expression",
    "const",
    "coo",
    "descent",
    "det",
    "diag",
    "einsum",
    "einsum_path",
    "evaluate",
    "explain",
    "grad",
    "hessian",
    "hvp",
    "inv",
    "iterate",
    "jacobian",
    "kron",
    "latex",
    "logdet",
    "matmul",
    "minimize",
    "norm1",
    "norm2",
    "plan",
    "power_iteration",
    "power_method",
    "prepare",
    "solve",
    "sum",
    "table",
    "to_numpy",
    "to_sql",
    "trace",
    "var",
    *PUBLIC_FUNCTIONS,
]


def __getattr__(name: str) -> Any:
    """``einsql.exp``, ``einsql.tanh``, ...: every public elementwise function by its name.

    >>> import einsql
    >>> print(einsql.erf(einsql.var("x", (2,))))
    erf(x)
    """
    if name in APPLY:
        return APPLY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"
