"""einsql: Einstein summation compiled to SQL over sparse coordinate-format tables.

>>> import numpy as np, einsql
>>> a = np.array([[1.0, 0.0], [0.0, 2.0]])
>>> einsql.einsum("ij,jk->ik", a, a)
array([[1., 0.],
       [0., 4.]])
"""

from __future__ import annotations

from einsql.api import compile_program, einsum, plan, prepare, to_sql
from einsql.calculus import GradCheck, check_grad, grad, hessian, jacobian
from einsql.display import SQL
from einsql.errors import (
    DatabaseError,
    EinsqlError,
    ExactnessError,
    OperandError,
    OptionError,
    ResultSizeError,
    ShapeError,
    SubscriptError,
)
from einsql.evaluate import evaluate
from einsql.explain import Explanation, StepRun, explain
from einsql.expr import (
    Expr,
    const,
    cos,
    exp,
    log,
    log1p,
    relu,
    sigmoid,
    sin,
    softplus,
    solve,
    sqrt,
    tanh,
    var,
)
from einsql.expr import abs_ as abs
from einsql.expr import sum_ as sum
from einsql.iterate import (
    Iterated,
    Iteration,
    LoopWarning,
    descent,
    iterate,
    minimize,
    power_iteration,
    power_method,
)
from einsql.operands import CooArray, Table
from einsql.planner import Plan, Step
from einsql.session import Session, connect

__all__ = [
    "SQL",
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
    "Plan",
    "ResultSizeError",
    "Session",
    "ShapeError",
    "Step",
    "StepRun",
    "SubscriptError",
    "Table",
    "abs",
    "check_grad",
    "compile_program",
    "connect",
    "const",
    "cos",
    "descent",
    "einsum",
    "evaluate",
    "exp",
    "explain",
    "grad",
    "hessian",
    "iterate",
    "jacobian",
    "log",
    "log1p",
    "minimize",
    "plan",
    "power_iteration",
    "power_method",
    "prepare",
    "relu",
    "sigmoid",
    "sin",
    "softplus",
    "solve",
    "sqrt",
    "sum",
    "tanh",
    "to_sql",
    "var",
]

__version__ = "0.1.0"
