"""``contract_expression``: an einsum planned once for given shapes, called on new operands.

As opt_einsum's ``contract_expression``, the contraction path is searched once,
when the expression is made; each call runs that path on its operands (in any
database, in any result form ``einsum`` takes) and checks that their shapes
are the ones it was made for.

>>> import numpy as np
>>> product = contract_expression("ij,jk,kl->il", (2, 3), (3, 4), (4, 5))
>>> product
<ContractExpression('ij,jk,kl->il')>
>>> a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
>>> product(a, b, c).tolist()[0]
[12.0, 12.0, 12.0, 12.0, 12.0]
>>> product(a, b, np.ones((5, 5)))
Traceback (most recent call last):
...
einsql.errors.ShapeError: operand 2 has shape (5, 5); this expression was made for (4, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from einsql.api import einsum, to_sql
from einsql.equation import parse
from einsql.errors import ArgumentError, ShapeError
from einsql.operands import fitted as fitted_shape
from einsql.operands import is_count
from einsql.planner import Plan, make_plan


@dataclass(frozen=True)
class ContractExpression:
    """An einsum planned for operands of fixed shapes; call it with the operands.

    Attributes:
        subscripts: the einsum's subscripts.
        shapes: the shape of each operand.
        plan: the contraction plan every call runs (print it to see the steps).

    """

    subscripts: str
    shapes: tuple[tuple[int, ...], ...]
    plan: Plan

    def __call__(self, *operands: Any, **options: Any) -> Any:
        """``einsql.einsum`` of the operands along this plan's path (``options`` as einsum's)."""
        self._checked_options(options)
        fitted = self._fitted(operands)
        return einsum(self.subscripts, *fitted, optimize=self._path(), **options)

    def to_sql(self, *operands: Any, **options: Any) -> str:
        """``einsql.to_sql`` of the operands along this plan's path."""
        self._checked_options(options)
        fitted = self._fitted(operands)
        return to_sql(self.subscripts, *fitted, optimize=self._path(), **options)

    def _path(self) -> list[Any]:
        return ["einsum_path", *self.plan.path]

    def _checked_options(self, options: dict[str, Any]) -> None:
        if "optimize" in options:
            raise ArgumentError(
                "a contract expression runs the path it was made with; "
                "make another with contract_expression(..., optimize=...)"
            )

    def _fitted(self, operands: Sequence[Any]) -> list[Any]:
        """The operands, checked against the shapes (inferred axes take them)."""
        if len(operands) != len(self.shapes):
            raise ArgumentError(
                f"this expression takes {len(self.shapes)} operand(s), not {len(operands)}"
            )
        fitted = []
        for k, (operand, shape) in enumerate(zip(operands, self.shapes)):
            operand = fitted_shape(operand, shape, f"operand {k}")
            given = _shape(operand)
            if given is not None and given != shape:
                raise ShapeError(
                    f"operand {k} has shape {given}; this expression was made for {shape}"
                )
            fitted.append(operand)
        return fitted

    def __repr__(self) -> str:
        return f"<ContractExpression({self.subscripts!r})>"

    def __str__(self) -> str:
        return str(self.plan)


def contract_expression(
    subscripts: str, *shapes: Sequence[int], optimize: Any = "auto"
) -> ContractExpression:
    """An einsum planned once for operands of ``shapes``, to call on new operands.

    Args:
        subscripts: the einsum's subscripts.
        *shapes: the shape of each operand.
        optimize: the path strategy (any ``optimize=`` einsum takes).

    Raises:
        ShapeError: shapes that do not fit the subscripts.
        ArgumentError: a shape that is not a sequence of sizes.

    """
    checked = tuple(_checked_shape(shape, k) for k, shape in enumerate(shapes))
    # Without data, the path is priced as for dense operands (opt_einsum's model).
    return ContractExpression(subscripts, checked, make_plan(parse(subscripts, checked), optimize))


def _checked_shape(shape: Any, k: int) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        raise ArgumentError(f"shape {k} is {shape!r}, not a sequence of sizes") from None
    if not all(is_count(n) for n in dims):
        raise ArgumentError(f"shape {k} is {shape!r}; sizes are non-negative integers")
    return tuple(int(n) for n in dims)


def _shape(operand: Any) -> tuple[int, ...] | None:
    shape = getattr(operand, "shape", None)
    if shape is None and isinstance(operand, (list, tuple, int, float, complex, bool)):
        shape = np.shape(operand)
    return None if shape is None else tuple(shape)
