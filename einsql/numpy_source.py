"""Expressions written out as a standalone NumPy function (``einsql.to_numpy``).

The source text computes every node once, in the order the expression needs
it, with NumPy only (and ``math`` where a function needs it, as ``erf``):
einsums as ``np.einsum``, elementwise functions from their records' ``source``,
solves, inverses and determinants as ``np.linalg``'s ``solve``, ``inv``, ``det``
and ``slogdet``.
The text is made here and never run by einsql.

>>> from einsql.expr import var, einsum, exp
>>> A, x = var("A", (2, 3)), var("x", (3,))
>>> print(to_numpy(einsum("i->", exp(A @ x))))
import numpy as np
<BLANKLINE>
<BLANKLINE>
def f(A, x):
    A = np.asarray(A, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    t0 = np.einsum("ab,b->a", A, x)
    t1 = np.exp(t0)
    t2 = np.einsum("a->", t1)
    return t2
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einsql.errors import OperandError, OptionError
from einsql.expr import (
    Const,
    Det,
    Einsum,
    Elementwise,
    Expr,
    Solve,
    Var,
    is_identity,
    uniform_value,
    walk,
)
from einsql.functions import FUNCTIONS

#: Labels ``np.einsum`` accepts, in the order they are given out.
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: Names the generated code uses for itself.
_RESERVED = {"np", "math"}


def to_numpy(*exprs: Expr, name: str = "f") -> str:
    """The source of a Python function computing ``exprs`` with NumPy.

    Args:
        *exprs: one or more expressions (a derivative is one too); several
            share their common nodes and are returned as a tuple.
        name: the function's name.

    Returns:
        The text of a module defining ``name``, whose arguments are the
        variables in alphabetical order, each an array of the variable's shape.

    Raises:
        OperandError: nothing to write, something that is not an expression,
            a variable whose name is not an ASCII Python identifier, or one name
            with two shapes.
        OptionError: ``name`` is not an ASCII Python identifier.

    """
    if not exprs or not all(isinstance(e, Expr) for e in exprs):
        raise OperandError("to_numpy needs one or more einsql expressions")
    _check_identifier(name, "the function's name", OptionError)
    order = walk_all(exprs)
    shapes: dict[str, set[tuple[int, ...]]] = {}
    for node in order:
        if isinstance(node, Var):
            shapes.setdefault(node.name, set()).add(node.shape)
    names = sorted(shapes)
    for variable in names:
        _check_identifier(variable, f"variable {variable!r}", OperandError)
        if len(shapes[variable]) > 1:
            raise OperandError(
                f"variable {variable!r} has several shapes ({sorted(shapes[variable])}); "
                "name each variable once"
            )
    writer = _Writer(prefix=_temporary_prefix(names))
    read = {id(child) for node in order for child in _read(node)} | {id(e) for e in exprs}
    for node in order:
        if id(node) in read:  # not an identity only an inverse was built with
            writer.add(node)
    results = ", ".join(writer.names[id(e)] for e in exprs)
    body = [f"{v} = np.asarray({v}, dtype=np.float64)" for v in names] + writer.lines
    imports = ["import math"] if any("math." in line for line in writer.lines) else []
    return "\n".join(
        [
            *imports,
            "import numpy as np",
            "",
            "",
            f"def {name}({', '.join(names)}):",
            *(f"    {line}" for line in body),
            f"    return {results}",
        ]
    )


def _read(node: Expr) -> tuple[Expr, ...]:
    """The operands the code of ``node`` reads: ``np.linalg.inv(A)`` reads ``A`` alone."""
    if isinstance(node, Solve) and is_identity(node.operands[1]):
        return node.operands[:1]
    return node.children


def walk_all(exprs: tuple[Expr, ...]) -> list[Expr]:
    """Every node of several expressions once, operands first."""
    seen: set[int] = set()
    order = []
    for expr in exprs:
        for node in walk(expr):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def _check_identifier(text: str, what: str, error: type[Exception]) -> None:
    # ASCII only: Python folds other identifiers (NFKC), so two names could meet
    if not (text.isascii() and text.isidentifier()) or keyword.iskeyword(text) or text in _RESERVED:
        raise error(
            f"{what} is not an ASCII Python identifier the NumPy code can use "
            f"(nor 'np' or 'math'): {text!r}"
        )


def _temporary_prefix(names: list[str]) -> str:
    """``t`` (``t0``, ``t1``, ...), lengthened until no variable's name starts with it."""
    prefix = "t"
    while any(n.startswith(prefix) for n in names):
        prefix += "_"
    return prefix


@dataclass
class _Writer:
    """The lines computing each node, and the name holding each node's value."""

    prefix: str
    lines: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    count: int = 0

    def add(self, node: Expr) -> None:
        if isinstance(node, Var):
            self.names[id(node)] = node.name
            return
        if isinstance(node, Const) and node.ndim == 0:
            self.names[id(node)] = _float(float(node.value))
            return
        target = f"{self.prefix}{self.count}"
        self.count += 1
        self.names[id(node)] = target
        self.lines += self._lines(node, target)

    def _lines(self, node: Expr, target: str) -> list[str]:
        args = [self.names[id(child)] for child in _read(node)]
        if isinstance(node, Const) and is_identity(node):
            return [f"{target} = np.eye({node.shape[0]})"]
        if isinstance(node, Const):
            return _constant(node.value, target)
        if isinstance(node, Einsum):
            return _einsum(node, args, target)
        if isinstance(node, Solve):
            if is_identity(node.operands[1]):
                return [f"{target} = np.linalg.inv({args[0]})"]
            return [f"{target} = np.linalg.solve({args[0]}, {args[1]})"]
        if isinstance(node, Det):
            if node.log:
                return [f"{target} = np.linalg.slogdet({args[0]})[1]"]
            return [f"{target} = np.linalg.det({args[0]})"]
        assert isinstance(node, Elementwise)
        return [f"{target} = {FUNCTIONS[node.fn].source.format(*args)}"]


def _einsum(node: Einsum, args: list[str], target: str) -> list[str]:
    """``np.einsum`` with letters; a label repeated in the output fills a diagonal."""
    used = list(dict.fromkeys("".join(node.inputs) + node.output))
    if len(used) > len(_LETTERS):
        raise OperandError(
            f"an einsum of {len(used)} labels does not fit np.einsum's {len(_LETTERS)} letters"
        )
    letter = dict(zip(used, _LETTERS))
    inputs = ",".join("".join(letter[c] for c in labels) for labels in node.inputs)
    output = "".join(letter[c] for c in node.output)
    distinct = "".join(dict.fromkeys(output))
    optimize = ", optimize=True" if len(args) > 2 else ""
    call = f'np.einsum("{inputs}->{distinct}", {", ".join(args)}{optimize})'
    if distinct == output:
        return [f"{target} = {call}"]
    return [
        f"{target} = np.zeros({node.shape!r})",
        f'np.einsum("{output}->{distinct}", {target})[...] = {call}',
    ]


def _constant(value: np.ndarray, target: str) -> list[str]:
    """An array constant: one value everywhere, a few nonzeros, or every entry."""
    single = uniform_value(value)
    if single is not None:
        return [f"{target} = np.full({value.shape!r}, {_float(single)})"]
    nonzero = np.nonzero(value)
    if 2 * len(nonzero[0]) > value.size:
        return [f"{target} = np.array({_nested(value.tolist())})"]
    index = ", ".join(f"[{', '.join(str(int(k)) for k in axis)}]" for axis in nonzero)
    entries = ", ".join(_float(float(v)) for v in value[nonzero])
    return [f"{target} = np.zeros({value.shape!r})", f"{target}[{index}] = [{entries}]"]


def _nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return _float(float(value))


def _float(x: float) -> str:
    """A float as Python source (``np.nan`` and ``np.inf`` for the specials)."""
    if math.isnan(x):
        return "np.nan"
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)
