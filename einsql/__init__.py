"""einsql: Einstein summation compiled to SQL over sparse coordinate-format tables.

>>> import numpy as np, einsql
>>> a = np.array([[1.0, 0.0], [0.0, 2.0]])
>>> einsql.einsum("ij,jk->ik", a, a)
array([[1., 0.],
       [0., 4.]])
"""

from __future__ import annotations

from einsql.api import compile_program, einsum, plan, prepare, to_sql
from einsql.errors import (
    EinsqlError,
    ExactnessError,
    OperandError,
    OptionError,
    ShapeError,
    SubscriptError,
)
from einsql.operands import CooArray, Table
from einsql.planner import Plan, Step
from einsql.session import Session, connect

__all__ = [
    "CooArray",
    "EinsqlError",
    "ExactnessError",
    "OperandError",
    "OptionError",
    "Plan",
    "Session",
    "ShapeError",
    "Step",
    "SubscriptError",
    "Table",
    "compile_program",
    "connect",
    "einsum",
    "plan",
    "prepare",
    "to_sql",
]

__version__ = "0.1.0"
