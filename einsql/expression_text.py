"""Expressions typed as text (``einsql grad``), read by a whitelist, never run.

The text is parsed with Python's :mod:`ast` and every node checked against a
whitelist: the declared variables, numbers, ``+ - * / ** @``, unary ``-`` and
``+``, calls of einsql's functions (with ``axis=`` for ``sum``) and lists of
numbers as their arguments. Anything else is refused with an
:class:`einsql.OptionError` naming it and its column. The checked tree is then
interpreted node by node; nothing is compiled to code or evaluated.
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable
from typing import Any

import einsql
from einsql.errors import EinsqlError, OptionError
from einsql.functions import PUBLIC_FUNCTIONS

_USAGE = {
    "einsum": "einsum('subscripts', operand, ...)",
    "sum": "sum(x) or sum(x, axis=...)",
    **{name: f"{name}(x)" for name in PUBLIC_FUNCTIONS},
    **{name: f"{name}(x)" for name in ("norm1", "norm2", "trace", "diag", "inv", "det", "logdet")},
    "kron": "kron(a, b)",
    "solve": "solve(A, b)",
    "const": "const(a number or a list of numbers)",
}

#: The functions themselves (einsql's, by the names users write).
_FUNCTIONS: dict[str, Callable[..., Any]] = {name: getattr(einsql, name) for name in _USAGE}

#: Each function's (fewest, most) positional arguments and its keyword arguments.
_SIGNATURES: dict[str, tuple[int, int | None, tuple[str, ...]]] = {
    **{name: (1, 1, ()) for name in _USAGE},
    "einsum": (1, None, ()),
    "sum": (1, 2, ("axis",)),
    "kron": (2, 2, ()),
    "solve": (2, 2, ()),
}

#: The arithmetic an expression may use.
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.MatMult: einsql.matmul,
}

#: Operators refused, by how they are written.
_OTHER_OPERATORS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}

#: Constructs refused, by what error messages call them.
_CONSTRUCTS = {
    "Subscript": "indexing ([...])",
    "Slice": "a slice",
    "Lambda": "a lambda",
    "ListComp": "a comprehension",
    "SetComp": "a comprehension",
    "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression",
    "Starred": "unpacking (*)",
    "Compare": "a comparison",
    "BoolOp": "and / or",
    "IfExp": "a conditional (... if ... else ...)",
    "NamedExpr": "an assignment (:=)",
    "JoinedStr": "an f-string",
    "FormattedValue": "an f-string",
    "Dict": "a dict",
    "Set": "a set",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield from",
}

#: The longest expression text read, in characters.
MAX_EXPRESSION_LENGTH = 100_000

#: The deepest nesting of an expression's syntax tree.
MAX_EXPRESSION_DEPTH = 200

#: The largest absolute value of a numeric exponent (so ``9**9**9**9`` is refused).
MAX_EXPONENT = 1000

#: The most bits of an integer computed from numbers in an expression (float64's range).
_MAX_INTEGER_BITS = 1024

_ADVICE = (
    "use the declared variables, numbers, + - * / ** @ and einsql's functions "
    "(einsum, sum, exp, ...)"
)


def parse_expression(text: str, variables: dict[str, Any]) -> Any:
    """A Python expression over the variables and einsql's functions (nothing else).

    The text is parsed into a syntax tree, checked against a whitelist (the
    declared variables, int and float numbers, ``+ - * / **``, calls of einsql's
    functions, lists of numbers as arguments, quoted einsum subscripts) and then
    interpreted node by node: it is never compiled to code or evaluated.

    >>> x = einsql.var("x", (3,))
    >>> print(parse_expression("sum(exp(2 * x))", {"x": x}))
    (exp((2.0 * x))[a] -> [])
    >>> parse_expression("x.__class__", {"x": x})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    einsql.errors.OptionError: cannot read the expression 'x.__class__': attribute access
    (.__class__) at column 2 is not allowed; use the declared variables, ...

    Raises:
        OptionError: the text is not an expression of those names, or too large.
        EinsqlError: as einsql's functions raise it (shapes that do not fit, ...).

    """
    shown = _shorten(text)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise OptionError(
            f"the expression {shown!r} has {len(text):,} characters; "
            f"einsql reads at most {MAX_EXPRESSION_LENGTH:,}"
        )
    tree = _syntax_tree(text)
    problem = _Checker(text, variables).first_problem(tree)
    if problem is not None:
        raise OptionError(f"cannot read the expression {shown!r}: {problem}")
    try:
        expr = _Evaluator(text, variables).value(tree.body)
    except EinsqlError:
        raise
    except Exception as error:
        raise OptionError(f"cannot read the expression {shown!r}: {error}") from None
    if not isinstance(expr, einsql.Expr):
        raise OptionError(f"the expression {shown!r} does not use a variable")
    return expr


def _shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters for messages.

    >>> _shorten("x" * 100, 10)
    'xxxxxxx...'
    """
    return text if len(text) <= width else text[: width - 3] + "..."


def _syntax_tree(text: str) -> ast.Expression:
    """The syntax tree of ``text`` as one expression (Python's parser, no code made)."""
    shown = _shorten(text)
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for '\\d'; the text is refused later
            warnings.simplefilter("ignore")
            tree: ast.Expression = ast.parse(text, "<expression>", mode="eval")
    except SyntaxError as error:
        line = f"line {error.lineno}, " if error.lineno and error.lineno > 1 else ""
        where = f" at {line}column {error.offset}" if error.offset else ""
        raise OptionError(f"cannot read the expression {shown!r}: {error.msg}{where}") from None
    except (RecursionError, MemoryError):  # the parser's own limits
        raise OptionError(
            f"cannot read the expression {shown!r}: it is nested too deeply"
        ) from None
    except (ValueError, OverflowError) as error:
        raise OptionError(f"cannot read the expression {shown!r}: {error}") from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise OptionError(
            f"cannot read the expression {shown!r}: it is nested more than "
            f"{MAX_EXPRESSION_DEPTH} levels deep"
        )
    return tree


def _depth(tree: ast.AST) -> int:
    """The depth of ``tree``, found without recursion.

    >>> _depth(ast.parse("-(-x)", mode="eval"))
    5
    """
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Source:
    """Where nodes are in the expression text, as error messages say it."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.text = text
        self.variables = variables
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def column(self, line: int, offset: int) -> int:
        """The 1-based character column of a UTF-8 byte ``offset`` in ``line``."""
        if not 0 < line <= len(self.lines):
            return offset + 1
        return len(self.lines[line - 1].encode()[:offset].decode(errors="ignore")) + 1

    def where(self, node: ast.AST) -> tuple[int, int]:
        """The (line, column) of ``node``; for an attribute, of its dot."""
        line, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute) and node.value.end_lineno == line:
            source = self.lines[line - 1].encode() if line <= len(self.lines) else b""
            dot = source.find(b".", node.value.end_col_offset or 0)
            offset = dot if dot >= 0 else offset
        return line, self.column(line, offset)

    def say(self, position: tuple[int, int]) -> str:
        """``column 3``, or ``line 2, column 3`` for text of several lines."""
        line, column = position
        return f"column {column}" if len(self.lines) == 1 else f"line {line}, column {column}"


class _Checker(_Source):
    """Finds the first construct of an expression that is not on the whitelist."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        super().__init__(text, variables)
        # (line, column), what, advice: ``what`` may quote the user's text, so the
        # message is put together when it is reported, never through str.format
        self.problems: list[tuple[tuple[int, int], str, str]] = []

    def first_problem(self, tree: ast.Expression) -> str | None:
        """The message about the earliest refused construct, or None if all is allowed."""
        self.check(tree.body, "value")
        if not self.problems:
            return None
        position, what, advice = min(self.problems)
        return f"{what} at {self.say(position)} is not allowed; {advice}"

    def refuse(self, node: ast.AST, what: str, advice: str = _ADVICE) -> None:
        """Note that ``what``, at ``node``, is not allowed."""
        self.problems.append((self.where(node), what, advice))

    def check(self, node: ast.expr, role: str) -> None:
        """Check ``node`` as a ``value``, a call ``argument`` or einsum's ``subscripts``."""
        if role == "subscripts":
            self.check_subscripts(node)
        elif isinstance(node, ast.Constant):
            self.check_constant(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            self.check(node.left, "value")
            self.check(node.right, "value")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self.check(node.operand, "value")
        elif isinstance(node, ast.Call):
            self.check_call(node)
        elif isinstance(node, (ast.List, ast.Tuple)) and role == "argument":
            for element in node.elts:
                self.check(element, "argument")
        else:
            self.refuse(node, _construct(node))
            self.check_children(node)

    def check_children(self, node: ast.AST) -> None:
        """Check what a refused construct holds (an earlier problem may be inside).

        Its parts are checked as call arguments, the most lenient role, so that
        the problem found first is one wherever it stands.
        """
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.check(child, "argument")
            else:
                self.check_children(child)

    def check_constant(self, node: ast.Constant) -> None:
        if type(node.value) not in (int, float):
            self.refuse(node, _construct(node))

    def check_name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__"):
            self.refuse(node, f"the name {name!r} (double underscores)")
        elif name in _FUNCTIONS and name not in self.variables:
            self.refuse(node, f"the function {name} without a call", f"write {_USAGE[name]}")
        elif name not in self.variables:
            declared = ", ".join(self.variables) or "none declared"
            self.refuse(
                node,
                f"the unknown name {name!r}",
                f"the names are the variables ({declared}) and einsql's functions "
                f"({', '.join(_FUNCTIONS)})",
            )

    def check_subscripts(self, node: ast.expr) -> None:
        if not (isinstance(node, ast.Constant) and type(node.value) is str):
            self.refuse(
                node, f"{_construct(node)} as einsum's subscripts", "write " + _USAGE["einsum"]
            )
            self.check_children(node)

    def check_call(self, node: ast.Call) -> None:
        function = node.func
        if not isinstance(function, ast.Name) or function.id not in _FUNCTIONS:
            self.check_callee(function)
            for part in [*node.args, *(k.value for k in node.keywords)]:
                self.check(part, "argument")
            return
        name = function.id
        fewest, most, keywords = _SIGNATURES[name]
        for position, argument in enumerate(node.args):
            self.check(argument, "subscripts" if name == "einsum" and position == 0 else "argument")
        wrong = [k for k in node.keywords if k.arg not in keywords]
        for keyword in wrong:
            what = "unpacking (**)" if keyword.arg is None else f"the keyword {keyword.arg}="
            self.refuse(keyword, f"{what} in {name}", f"write {_USAGE[name]}")
        for keyword in node.keywords:
            self.check(keyword.value, "argument")
        count = len(node.args) + len(node.keywords)
        if not wrong and (len(node.args) < fewest or (most is not None and count > most)):
            arguments = f"{count} argument{'s' * (count != 1)}"
            self.refuse(node, f"{name} with {arguments}", f"write {_USAGE[name]}")

    def check_callee(self, function: ast.expr) -> None:
        """Refuse calling ``function``, which is not one of einsql's functions."""
        if isinstance(function, ast.Name) and function.id in self.variables:
            self.refuse(function, f"calling the variable {function.id!r}")
            return
        known = len(self.problems)
        self.check(function, "argument")
        if len(self.problems) == known:  # e.g. (1)(x): nothing wrong but the call
            self.refuse(function, f"calling {_construct(function)}")


def _construct(node: ast.AST) -> str:
    """What an error message calls a refused ``node``.

    >>> _construct(ast.parse("x.y", mode="eval").body)
    'attribute access (.y)'
    """
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr})"
    if isinstance(node, ast.Constant):
        shown = _shorten(repr(node.value), 20)
        if isinstance(node.value, str):
            return f"the string {shown} (strings are only einsum's subscripts)"
        return f"the constant {shown}"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {_OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)}"
    if isinstance(node, (ast.List, ast.Tuple)):
        return f"a {type(node).__name__.lower()} (lists of numbers are only call arguments)"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Call):
        return "a call"
    name = type(node).__name__
    return _CONSTRUCTS.get(name, f"a Python {name} expression")


class _Evaluator(_Source):
    """Interprets a checked expression tree with einsql's functions and Python's operators."""

    def value(self, node: ast.expr) -> Any:
        """The value of ``node``: an einsql expression, a number, a list or a string."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.variables[node.id]
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.sequence(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise OptionError(f"{_construct(node)} is not allowed")  # _Checker refused it first

    def binary(self, node: ast.BinOp) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(node.op, ast.Pow) and _is_number(right) and abs(right) > MAX_EXPONENT:
            raise ValueError(
                f"the exponent {_shorten(repr(right), 20)} at {self.say(self.where(node))} "
                f"is too large: einsql takes exponents up to {MAX_EXPONENT} in absolute value"
            )
        if _is_number(left) and _is_number(right) and not isinstance(node.op, ast.MatMult):
            return _arithmetic(node.op, left, right)
        return _OPERATORS[type(node.op)](left, right)

    def sequence(self, node: ast.List | ast.Tuple) -> list[Any] | tuple[Any, ...]:
        elements = [self.value(element) for element in node.elts]
        for element, item in zip(node.elts, elements):
            if not (_is_number(item) or isinstance(item, (list, tuple))):
                raise ValueError(
                    f"the list at {self.say(self.where(node))} holds {_shorten(str(item), 30)} "
                    f"(at {self.say(self.where(element))}): lists hold numbers only"
                )
        return tuple(elements) if isinstance(node, ast.Tuple) else elements

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # _Checker made sure
        name = node.func.id
        arguments = [self.value(argument) for argument in node.args]
        keywords = {k.arg: self.value(k.value) for k in node.keywords if k.arg is not None}
        if name == "sum":
            _check_axis(keywords.get("axis", arguments[1] if len(arguments) > 1 else None))
        return _FUNCTIONS[name](*arguments, **keywords)


def _is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (not a bool).

    >>> _is_number(2), _is_number(2.5), _is_number(True), _is_number("2")
    (True, True, False, False)
    """
    return type(value) in (int, float)


def _arithmetic(operation: ast.operator, left: float, right: float) -> float:
    """``left`` and ``right`` combined, refusing integers beyond float64 and complex results.

    >>> _arithmetic(ast.Pow(), 2, 10)
    1024
    >>> _arithmetic(ast.Pow(), 10, 400)
    Traceback (most recent call last):
    ValueError: the number 10 ** 400 is too large (more than 1024 bits)
    """
    symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(operation), "**")
    shown = f"{_number_text(left)} {symbol} {_number_text(right)}"
    too_large = f"the number {shown} is too large (more than {_MAX_INTEGER_BITS} bits)"
    if isinstance(operation, ast.Pow) and _surely_too_large(left, right):
        raise ValueError(too_large)
    try:
        result: float = _OPERATORS[type(operation)](left, right)
    except OverflowError:  # a float power beyond float64
        raise ValueError(too_large) from None
    if isinstance(result, int) and result.bit_length() > _MAX_INTEGER_BITS:
        raise ValueError(too_large)
    if not _is_number(result):  # a negative number to a fractional power is complex
        raise ValueError(f"the number {shown} is not a real number")
    return result


def _number_text(number: float) -> str:
    """A number as messages show it: short, in parentheses if negative.

    >>> _number_text(-8), _number_text(2**200)
    ('(-8)', '16069380442589902...')
    """
    text = _shorten(repr(number), 20)
    return f"({text})" if number < 0 else text


def _surely_too_large(base: float, exponent: float) -> bool:
    """Whether the integer ``base ** exponent`` has more bits than einsql computes.

    >>> _surely_too_large(2, 1000), _surely_too_large(3, 1000), _surely_too_large(3.0, 1000)
    (False, True, False)
    """
    if type(base) is not int or type(exponent) is not int or exponent <= 0 or abs(base) < 2:
        return False
    return exponent * math.log2(abs(base)) > _MAX_INTEGER_BITS


def _check_axis(axis: Any) -> None:
    """Refuse an ``axis`` of ``sum`` that is not an integer or a sequence of integers.

    >>> _check_axis((0, -1))
    >>> _check_axis(0.5)
    Traceback (most recent call last):
    ValueError: sum's axis is an integer or a tuple of integers, not 0.5
    """
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if axis is not None and not all(type(a) is int for a in axes):
        raise ValueError(f"sum's axis is an integer or a tuple of integers, not {axis!r}")
