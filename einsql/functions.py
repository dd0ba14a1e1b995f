"""Elementwise functions: one record each, everything einsql knows about a function.

A record holds the function's NumPy implementation (constant folding and the
reference backend), its SQL (written with guards, so that every database gives
NumPy's answer where NumPy gives inf or NaN: PostgreSQL raises on ``ln(0)`` or
``exp(1000)``), its derivative (a pullback over expressions), its LaTeX and,
for a function of one argument, its value at zero, which decides whether it
maps only the stored rows of a sparse operand (f(0) = 0) or every index.

Adding a function is adding a record to ``FUNCTIONS``: ``einsql.NAME`` then
applies it to expressions, the CLI's expression language accepts it, and
gradients, SQL, the reference and LaTeX follow. A dialect replaces one
function's SQL through ``Dialect.function_sql``.

>>> FUNCTIONS["erf"].at_zero, FUNCTIONS["arccos"].keeps_sparsity, "erf" in PUBLIC_FUNCTIONS
(0.0, False, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlglot import exp

from einsql.sql import (
    binary,
    by_class,
    case,
    float_literal,
    guarded_exp,
    number,
    parenthesized,
)

if TYPE_CHECKING:
    from einsql.dialect import Dialect
    from einsql.expr import Expr

#: SQL of a function: ``sql(dialect, *arguments)``; each argument is used once (copy to reuse).
SqlRule = Callable[..., exp.Expr]

#: A pullback: ``(adjoint, *operands, result)`` -> the adjoint of each operand.
Pullback = Callable[..., tuple["Expr", ...]]


@dataclass(frozen=True)
class Function:
    """An elementwise function of one or two arguments.

    Attributes:
        name: its name (``einsql.NAME`` for a function of one argument).
        arity: the number of arguments (1, or 2 with NumPy broadcasting).
        numpy: the NumPy implementation.
        sql: its SQL, from a dialect and the arguments' SQL.
        pullback: ``(bar, *operands, y)`` -> each operand's adjoint, where
            ``y`` is the function's result and ``bar`` the result's adjoint
            (broadcast axes are summed by the caller).
        latex: a format string over the arguments' LaTeX (``{0}``, ``{1}``).
        at_zero: f(0) for a function of one argument (None for two).
        symbol: the infix operator that prints a function of two arguments.
        public: offered to users as ``einsql.NAME`` (and in the CLI's expressions).
        source: NumPy source text over the arguments' names (``{0}``, ``{1}``),
            which :func:`einsql.to_numpy` writes; it may use ``np`` and ``math``.

    """

    name: str
    arity: int
    numpy: Callable[..., Any]
    sql: SqlRule
    pullback: Pullback
    latex: str
    at_zero: float | None = None
    symbol: str | None = None
    public: bool = True
    source: str = ""

    @property
    def keeps_sparsity(self) -> bool:
        """f(0) = 0: the function of a sparse operand is sparse where the operand is."""
        return self.at_zero == 0.0


def _num(dialect: Dialect, x: float) -> exp.Expr:
    return float_literal(x, dialect)


def _ln(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``ln(x)``: -inf at 0 and NaN below, where PostgreSQL raises."""
    return case(
        [
            (exp.GT(this=x.copy(), expression=_num(dialect, 0.0)), exp.Ln(this=x.copy())),
            (exp.EQ(this=x.copy(), expression=_num(dialect, 0.0)), _num(dialect, -math.inf)),
        ],
        _num(dialect, math.nan),
    )


def _log1p(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``ln(1 + x)``, by its series near 0 where ``1 + x`` would lose digits.

    Below 1e-20 it is ``x`` itself, where the series' powers would underflow
    (PostgreSQL raises on underflow).
    """
    series = x.copy()
    for power in (2, 3, 4):
        raised = binary(exp.Pow, x.copy(), number(power))
        term = binary(exp.Div, raised, _num(dialect, float(power)))
        series = binary(exp.Sub if power % 2 == 0 else exp.Add, series, term)
    small = exp.LT(this=exp.Abs(this=x.copy()), expression=_num(dialect, 1e-4))
    tiny = exp.LT(this=exp.Abs(this=x.copy()), expression=_num(dialect, 1e-20))
    plain = _ln(dialect, binary(exp.Add, _num(dialect, 1.0), x.copy()))
    return case([(tiny, x), (small, series)], plain)


def _positive(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    return exp.GT(this=x.copy(), expression=_num(dialect, 0.0))


def _sigmoid(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``1 / (1 + exp(-x))``, written so that neither branch overflows."""
    one = _num(dialect, 1.0)
    negative_tail = guarded_exp(exp.Neg(this=parenthesized(x.copy())), dialect)
    positive_tail = guarded_exp(x.copy(), dialect)
    return case(
        [
            (
                exp.GTE(this=x.copy(), expression=_num(dialect, 0.0)),
                binary(exp.Div, one, binary(exp.Add, one.copy(), negative_tail)),
            )
        ],
        binary(exp.Div, positive_tail, binary(exp.Add, one.copy(), positive_tail.copy())),
    )


def _softplus(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``ln(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``."""
    tail = _log1p(dialect, guarded_exp(exp.Neg(this=exp.Abs(this=x.copy())), dialect))
    relu = case([(_positive(dialect, x), x.copy())], _num(dialect, 0.0))
    return binary(exp.Add, relu, tail)


def _div(dialect: Dialect, a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """``a / b``, with IEEE's answers where ``b`` is 0 (SQL raises or gives NULL)."""
    zero = _num(dialect, 0.0)
    signed = case(
        [
            (exp.GT(this=a.copy(), expression=zero.copy()), _num(dialect, math.inf)),
            (exp.LT(this=a.copy(), expression=zero.copy()), _num(dialect, -math.inf)),
        ],
        _num(dialect, math.nan),
    )
    by_zero = by_class(a, dialect, signed, math.inf, -math.inf)  # NaN / 0 is NaN
    quotient = binary(exp.Div, a.copy(), b.copy())
    return case([(exp.EQ(this=b.copy(), expression=zero), by_zero)], quotient)


def _pow(dialect: Dialect, a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """``a ** b`` as NumPy gives it where the databases raise or differ.

    NaN for a finite negative base and a fractional power; inf for ``0 ** -n``;
    1 for ``x ** 0`` and ``1 ** x``; inf or 0 for ``(-inf) ** b``, ``b`` fractional.
    """
    zero = _num(dialect, 0.0)
    fractional = exp.NEQ(this=b.copy(), expression=exp.Floor(this=b.copy()))
    finite_negative = exp.and_(
        exp.LT(this=a.copy(), expression=zero.copy()), dialect.is_finite(a.copy())
    )
    negative_base = exp.and_(finite_negative, fractional)
    zero_base = exp.and_(
        exp.EQ(this=a.copy(), expression=zero.copy()),
        exp.LT(this=b.copy(), expression=zero.copy()),
    )
    one = [  # NaN ** 0 and 1 ** NaN are 1 (on SQLite NaN is NULL, and POWER(NULL, 0) NULL)
        (exp.EQ(this=b.copy(), expression=zero.copy()), _num(dialect, 1.0)),
        (exp.EQ(this=a.copy(), expression=_num(dialect, 1.0)), _num(dialect, 1.0)),
    ]
    # (-inf) ** 1.5 is inf and (-inf) ** -1.5 is 0 (PostgreSQL raises on both).
    minus_inf = exp.EQ(this=a.copy(), expression=_num(dialect, -math.inf))
    signed_power = case(
        [(exp.GT(this=b.copy(), expression=zero.copy()), _num(dialect, math.inf))],
        _num(dialect, 0.0),
    )
    return case(
        [
            *one,
            (exp.and_(minus_inf, fractional.copy()), signed_power),
            (negative_base, _num(dialect, math.nan)),
            (zero_base, _num(dialect, math.inf)),
        ],
        binary(exp.Pow, a.copy(), b.copy()),
    )


def _call(name: str) -> SqlRule:
    """A SQL function every database spells ``NAME(x)`` and defines everywhere."""

    def sql(dialect: Dialect, x: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this=name, expressions=[x])

    return sql


def _finite_call(name: str) -> SqlRule:
    """``NAME(x)`` for finite ``x``, else NaN (PostgreSQL raises on ``tan('Infinity')``)."""

    def sql(dialect: Dialect, x: exp.Expr) -> exp.Expr:
        call = exp.Anonymous(this=name, expressions=[x.copy()])
        return case([(dialect.is_finite(x), call)], _num(dialect, math.nan))

    return sql


def _unit_call(name: str) -> SqlRule:
    """``NAME(x)`` for ``|x| <= 1``, else NaN (the databases raise or give NULL)."""

    def sql(dialect: Dialect, x: exp.Expr) -> exp.Expr:
        inside = exp.LTE(this=exp.Abs(this=x.copy()), expression=_num(dialect, 1.0))
        call = exp.Anonymous(this=name, expressions=[x])
        return case([(inside, call)], _num(dialect, math.nan))

    return sql


#: Below this magnitude erf(x) is 2x/sqrt(pi) in double precision (and x² would underflow).
_ERF_LINEAR_BELOW = 1e-100

#: Past this magnitude erf is ±1 in double precision.
_ERF_SATURATES = 6


def _erf_polynomials() -> tuple[np.ndarray, list[np.ndarray]]:
    """Power-basis coefficients approximating erf (Chebyshev interpolants, made at import).

    Returns:
        ``erf(x) / x`` as a polynomial in ``x²`` for ``|x| <= 1`` (relative
        accuracy, also near 0), then for each ``[k, k + 1]``, ``k = 1 .. 5``,
        erf as a polynomial in ``s = 2 (|x| - k) - 1`` on ``[-1, 1]``.

    """
    exact = np.vectorize(math.erf, otypes=[np.float64])

    def scaled(t: np.ndarray) -> np.ndarray:
        root = np.sqrt(np.maximum(t, 1e-300))
        return np.asarray(np.where(t > 0, exact(root) / root, 2.0 / math.sqrt(math.pi)))

    def on_piece(k: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda s: np.asarray(exact(k + (s + 1.0) / 2.0))

    center = np.polynomial.Chebyshev.interpolate(scaled, 12, domain=[0.0, 1.0])
    pieces = [
        np.polynomial.Chebyshev.interpolate(on_piece(k), 18) for k in range(1, _ERF_SATURATES)
    ]
    power = np.polynomial.Polynomial
    return center.convert(kind=power, domain=[-1.0, 1.0]).coef, [
        p.convert(kind=power).coef for p in pieces
    ]


_ERF_CENTER, _ERF_PIECES = _erf_polynomials()


def _horner(dialect: Dialect, coefficients: np.ndarray, s: exp.Expr) -> exp.Expr:
    """``c0 + s (c1 + s (c2 + ...))`` (``s`` is copied)."""
    value = _num(dialect, float(coefficients[-1]))
    for c in reversed(coefficients[:-1]):
        value = binary(exp.Add, binary(exp.Mul, value, s.copy()), _num(dialect, float(c)))
    return value


def _erf(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``erf(x)``, which no database einsql runs on has, to about 1e-14.

    Piecewise polynomials interpolating erf at Chebyshev points: ``x P(x²)``
    for ``|x| <= 1``, a polynomial in ``|x|`` on each ``[k, k + 1]`` up to 6
    (times the sign), ±1 beyond; ``2x / sqrt(pi)`` for tiny ``x``, where
    ``x²`` would underflow (PostgreSQL raises on underflow). NaN stays NaN.
    Each polynomial nests at most 18 levels (SQLite's parser allows about 100).
    """
    magnitude = exp.Abs(this=x.copy())
    t = binary(exp.Mul, x.copy(), x.copy())
    center = binary(exp.Mul, x.copy(), _horner(dialect, _ERF_CENTER, t))
    linear = binary(exp.Mul, _num(dialect, 2.0 / math.sqrt(math.pi)), x.copy())
    sign = _finite_sign(dialect, x)
    pairs = [
        (exp.LT(this=magnitude.copy(), expression=_num(dialect, _ERF_LINEAR_BELOW)), linear),
        (exp.LTE(this=magnitude.copy(), expression=_num(dialect, 1.0)), center),
    ]
    for k, coefficients in enumerate(_ERF_PIECES, start=1):
        s = binary(
            exp.Sub,
            binary(exp.Mul, _num(dialect, 2.0), binary(exp.Sub, magnitude.copy(), number(k))),
            _num(dialect, 1.0),
        )
        below = exp.LT(this=magnitude.copy(), expression=_num(dialect, float(k + 1)))
        pairs.append((below, binary(exp.Mul, sign.copy(), _horner(dialect, coefficients, s))))
    return by_class(x, dialect, case(pairs, _finite_sign(dialect, x)), 1.0, -1.0)


def _sign(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """-1, 0 or 1, and NaN for NaN as NumPy gives."""
    return by_class(x, dialect, _finite_sign(dialect, x), 1.0, -1.0)


def _finite_sign(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    return case(
        [
            (_positive(dialect, x), _num(dialect, 1.0)),
            (exp.LT(this=x.copy(), expression=_num(dialect, 0.0)), _num(dialect, -1.0)),
        ],
        _num(dialect, 0.0),
    )


def _step(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """1 where ``x > 0``, else 0 (NaN included, as NumPy's ``x > 0`` says)."""
    finite = case([(_positive(dialect, x), _num(dialect, 1.0))], _num(dialect, 0.0))
    return by_class(x, dialect, finite, 1.0, 0.0, at_nan=0.0)


def _relu(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``max(x, 0)``: NaN stays NaN, as with ``np.maximum``."""
    finite = case([(_positive(dialect, x), x.copy())], _num(dialect, 0.0))
    return by_class(x, dialect, finite, math.inf, 0.0)


def _sqrt(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    nonnegative = exp.GTE(this=x.copy(), expression=_num(dialect, 0.0))
    return case([(nonnegative, exp.Sqrt(this=x.copy()))], _num(dialect, math.nan))


def _zero(bar: Expr, a: Expr, y: Expr) -> tuple[Expr, ...]:
    """The pullback of a piecewise constant function: nothing flows back."""
    return (bar * 0.0,)


def _recip0(dialect: Dialect, x: exp.Expr) -> exp.Expr:
    """``1 / x``, and 0 at 0 (NaN stays NaN: on SQLite it is NULL, which is not 0)."""
    zero = _num(dialect, 0.0)
    reciprocal = binary(exp.Div, _num(dialect, 1.0), x.copy())
    return case([(exp.EQ(this=x.copy(), expression=zero.copy()), zero)], reciprocal)


def _recip0_numpy(a: np.ndarray) -> np.ndarray:
    """``1 / a`` where ``a`` is not 0, else 0 (the Moore-Penrose inverse of a number)."""
    safe = np.where(a == 0.0, 1.0, a)
    return np.asarray(np.where(a == 0.0, 0.0, 1.0 / safe))


def _sigmoid_numpy(a: np.ndarray) -> np.ndarray:
    """The SQL's two branches (``0.5 (1 + tanh(a / 2))`` was exactly 0 below -37).

    >>> _sigmoid_numpy(np.array([-51.6, 0.0, 40.0])).tolist()
    [3.8940787838663543e-23, 0.5, 1.0]
    """
    with np.errstate(over="ignore"):
        positive = 1.0 / (1.0 + np.exp(-np.maximum(a, 0.0)))
        tail = np.exp(np.minimum(a, 0.0))
    return np.asarray(np.where(a >= 0.0, positive, tail / (1.0 + tail)))


def _unary(
    name: str,
    at_zero: float,
    numpy: Callable[..., Any],
    sql: SqlRule,
    pullback: Pullback,
    latex: str | None = None,
    public: bool = True,
    source: str | None = None,
) -> Function:
    form = latex or f"\\operatorname{{{name}}}\\left({{0}}\\right)"
    text = source or f"np.{name}({{0}})"
    return Function(
        name, 1, numpy, sql, pullback, form, at_zero=at_zero, public=public, source=text
    )


def _binary(
    name: str, symbol: str, numpy: Callable[..., Any], sql: SqlRule, pullback: Pullback, latex: str
) -> Function:
    text = f"np.{numpy.__name__}({{0}}, {{1}})"
    return Function(name, 2, numpy, sql, pullback, latex, symbol=symbol, public=False, source=text)


_TWO_OVER_ROOT_PI = 2.0 / math.sqrt(math.pi)

#: Every elementwise function, by name.
FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        _unary(
            "neg",
            0.0,
            np.negative,
            lambda d, x: exp.Neg(this=parenthesized(x)),
            lambda bar, a, y: (-bar,),
            "-\\left({0}\\right)",
            public=False,
            source="np.negative({0})",
        ),
        _unary(
            "exp",
            1.0,
            np.exp,
            lambda d, x: guarded_exp(x, d),
            lambda bar, a, y: (bar * y,),
            "\\exp\\left({0}\\right)",
        ),
        _unary(
            "log", -math.inf, np.log, _ln, lambda bar, a, y: (bar / a,), "\\log\\left({0}\\right)"
        ),
        _unary("log1p", 0.0, np.log1p, _log1p, lambda bar, a, y: (bar / (1.0 + a),)),
        _unary("sqrt", 0.0, np.sqrt, _sqrt, lambda bar, a, y: (bar * (0.5 / y),), "\\sqrt{{{0}}}"),
        _unary(
            "abs",
            0.0,
            np.abs,
            lambda d, x: exp.Abs(this=x),
            lambda bar, a, y: (bar * a.map("sign"),),
            "\\left|{0}\\right|",
        ),
        _unary(
            "sin",
            0.0,
            np.sin,
            _finite_call("SIN"),
            lambda bar, a, y: (bar * a.map("cos"),),
            "\\sin\\left({0}\\right)",
        ),
        _unary(
            "cos",
            1.0,
            np.cos,
            _finite_call("COS"),
            lambda bar, a, y: (-(bar * a.map("sin")),),
            "\\cos\\left({0}\\right)",
        ),
        _unary(
            "tan",
            0.0,
            np.tan,
            _finite_call("TAN"),
            lambda bar, a, y: (bar * (1.0 + y * y),),
            "\\tan\\left({0}\\right)",
        ),
        _unary(
            "arcsin",
            0.0,
            np.arcsin,
            _unit_call("ASIN"),
            lambda bar, a, y: (bar / (1.0 - a * a).map("sqrt"),),
            "\\arcsin\\left({0}\\right)",
        ),
        _unary(
            "arccos",
            math.pi / 2,
            np.arccos,
            _unit_call("ACOS"),
            lambda bar, a, y: (-(bar / (1.0 - a * a).map("sqrt")),),
            "\\arccos\\left({0}\\right)",
        ),
        _unary(
            "arctan",
            0.0,
            np.arctan,
            _call("ATAN"),
            lambda bar, a, y: (bar / (1.0 + a * a),),
            "\\arctan\\left({0}\\right)",
        ),
        _unary(
            "tanh",
            0.0,
            np.tanh,
            _call("TANH"),
            lambda bar, a, y: (bar * (1.0 - y * y),),
            "\\tanh\\left({0}\\right)",
        ),
        _unary(
            "sigmoid",
            0.5,
            _sigmoid_numpy,
            _sigmoid,
            lambda bar, a, y: (bar * (y * (1.0 - y)),),
            "\\sigma\\left({0}\\right)",
            source="np.exp(-np.logaddexp(0.0, -{0}))",
        ),
        _unary(
            "relu",
            0.0,
            lambda a: np.maximum(a, 0.0),
            _relu,
            lambda bar, a, y: (bar * a.map("step"),),
            source="np.maximum({0}, 0.0)",
        ),
        _unary(
            "softplus",
            math.log(2.0),
            lambda a: np.logaddexp(0.0, a),
            _softplus,
            lambda bar, a, y: (bar * a.map("sigmoid"),),
            source="np.logaddexp(0.0, {0})",
        ),
        _unary(
            "erf",
            0.0,
            np.vectorize(math.erf, otypes=[np.float64]),
            _erf,
            lambda bar, a, y: (bar * (_TWO_OVER_ROOT_PI * (-(a * a)).map("exp")),),
            "\\operatorname{erf}\\left({0}\\right)",
            source="np.vectorize(math.erf, otypes=[np.float64])({0})",
        ),
        _unary("sign", 0.0, np.sign, _sign, _zero),
        _unary(
            "step",
            0.0,
            lambda a: (a > 0).astype(np.float64),
            _step,
            _zero,
            public=False,
            source="np.greater({0}, 0.0).astype(np.float64)",
        ),
        _unary(
            "recip0",
            0.0,
            _recip0_numpy,
            _recip0,
            lambda bar, a, y: (-(bar * (y * y)),),
            "\\left({0}\\right)^{{+}}",
            public=False,
            source="np.where({0} == 0.0, 0.0, 1.0 / np.where({0} == 0.0, 1.0, {0}))",
        ),
        _unary(
            "sqrt0",
            0.0,
            np.sqrt,
            _sqrt,
            lambda bar, a, y: (bar * (0.5 * y.map("recip0")),),
            "\\sqrt{{{0}}}",
            public=False,
            source="np.sqrt({0})",
        ),
        _binary(
            "add",
            "+",
            np.add,
            lambda d, x, y: binary(exp.Add, x, y),
            lambda bar, a, b, y: (bar, bar),
            "{0} + {1}",
        ),
        _binary(
            "sub",
            "-",
            np.subtract,
            lambda d, x, y: binary(exp.Sub, x, y),
            lambda bar, a, b, y: (bar, -bar),
            "{0} - \\left({1}\\right)",
        ),
        _binary(
            "mul",
            "*",
            np.multiply,
            lambda d, x, y: binary(exp.Mul, x, y),
            lambda bar, a, b, y: (bar * b, bar * a),
            "\\left({0}\\right) \\odot \\left({1}\\right)",
        ),
        _binary(
            "div",
            "/",
            np.divide,
            _div,
            lambda bar, a, b, y: (bar / b, -(bar * y / b)),
            "\\frac{{{0}}}{{{1}}}",
        ),
        _binary(
            "pow",
            "**",
            np.power,
            _pow,
            lambda bar, a, b, y: (bar * (b * a ** (b - 1.0)), bar * (a.map("log") * y)),
            "\\left({0}\\right)^{{{1}}}",
        ),
    ]
}


#: The functions of one argument users apply as ``einsql.NAME``.
PUBLIC_FUNCTIONS = tuple(f.name for f in FUNCTIONS.values() if f.public)


def function_sql(dialect: Dialect, name: str, args: list[exp.Expr]) -> exp.Expr:
    """The SQL of ``name`` applied to ``args`` in ``dialect`` (its override, if any)."""
    rule = dialect.function_sql.get(name, FUNCTIONS[name].sql)
    return rule(dialect, *args)
