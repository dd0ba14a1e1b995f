"""Every elementwise function, from its one record: values against NumPy, derivatives
against finite differences, sparsity from f(0), on every backend.

The tests loop over ``einsql.functions.FUNCTIONS``: a function added as a record
is tested here without a line of test code. Values are drawn by hypothesis
(zeros, so sparse operands; NaN, infinities, huge and tiny numbers, the edges
of each domain) and compared with the record's NumPy implementation, which is
itself checked against NumPy's or Python's own function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import COUNTS, fuzz_examples

import einsql
import einsql.expr as ex
from einsql.functions import FUNCTIONS, PUBLIC_FUNCTIONS, Function
from einsql.gradcheck import check_grad

UNARY = sorted(name for name, f in FUNCTIONS.items() if f.arity == 1)
BINARY = sorted(name for name, f in FUNCTIONS.items() if f.arity == 2)

#: Each function's own NumPy or Python counterpart, the oracle of its record.
ORACLES: dict[str, Any] = {
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0.0),
    "softplus": lambda a: np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0.0),
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "sign": np.sign,
    "step": lambda a: np.where(np.isnan(a), 0.0, np.heaviside(a, 0.0)),
    "recip0": lambda a: np.divide(1.0, a, out=np.zeros_like(a), where=a != 0.0),
    "sqrt0": np.sqrt,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.power,
}

#: Interesting inputs: zeros (sparsity), domain edges, the erf pieces' seams, specials.
#: (No -0.0: SQL has one zero, so ``1 / -0.0`` is inf there; the README says so.)
EDGES = [0.0, 0.0, 1.0, -1.0, 0.5, 1e-5, -1e-5, 2.0, -2.0, 1.999999, 6.0, -6.5, 30.0]
SPECIALS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 800.0, -800.0]


def floats(special: bool) -> st.SearchStrategy[float]:
    finite = st.floats(-40.0, 40.0, allow_nan=False, allow_infinity=False).map(lambda v: v + 0.0)
    choices = st.sampled_from(EDGES + SPECIALS if special else EDGES)
    return st.one_of(finite, choices)


@pytest.fixture()
def function_settings(request: pytest.FixtureRequest) -> settings:
    """A third of the fuzzer's examples per function and database (100 in CI; 24 x 3 tests)."""
    return settings(
        max_examples=max(10, fuzz_examples(request.config) // 3),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


def apply(function: Function, *args: ex.Expr) -> ex.Expr:
    if function.arity == 1:
        return ex.unary(function.name, args[0])
    return ex.elementwise(function.name, *args)


def test_every_function_is_tested_against_its_own_oracle() -> None:
    assert sorted(ORACLES) == sorted(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_record_computes_what_numpy_does(name: str) -> None:
    function = FUNCTIONS[name]
    grid = np.array(EDGES + SPECIALS + list(np.linspace(-7.0, 7.0, 141)))
    args = [grid] if function.arity == 1 else [grid[:, None], grid[None, :]]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(
            function.numpy(*args), ORACLES[name](*args), rtol=1e-12, atol=1e-300, equal_nan=True
        )
    if function.arity == 1:
        with np.errstate(all="ignore"):
            assert function.numpy(np.zeros(1))[0] == function.at_zero


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_records_numpy_source_computes_what_its_implementation_does(name: str) -> None:
    """The text ``einsql.to_numpy`` writes for a function, run on the grid."""
    function = FUNCTIONS[name]
    grid = np.array(EDGES + SPECIALS + list(np.linspace(-7.0, 7.0, 141)))
    args = [grid] if function.arity == 1 else [grid[:, None], grid[None, :]]
    code = function.source.format(*(f"args[{k}]" for k in range(function.arity)))
    with np.errstate(all="ignore"):
        result = eval(code, {"np": np, "math": math, "args": args})  # the record's own text
        expected = function.numpy(*args)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("name", UNARY + BINARY)
def test_functions_in_the_database_match_numpy(name: str, db, function_settings) -> None:
    function = FUNCTIONS[name]
    shape = (5,)

    @function_settings
    @given(st.data())
    def run(data: st.DataObject) -> None:
        COUNTS[f"function {name} {db.name} drawn"] += 1
        # A NaN or inf times a missing zero is 0 in an expression (products join
        # stored rows; the README says so): the product alone gets finite values.
        special = name != "mul" and data.draw(st.integers(0, 3)) == 0
        values = {
            v: np.array(data.draw(st.lists(floats(special), min_size=5, max_size=5)))
            for v in ("x", "y")[: function.arity]
        }
        variables = [ex.var(v, shape) for v in values]
        f = apply(function, *variables)
        with np.errstate(all="ignore"):
            expected = ORACLES[name](*values.values())
        try:
            result = einsql.evaluate(f, values, con=db.con)
        except einsql.DatabaseError as error:
            assert db.name == "postgres" and "overflowed or underflowed" in str(error)
            assert overflows(ORACLES[name], *values.values()), error  # as documented
            return
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-14, equal_nan=True)
        COUNTS[f"function {name} {db.name} checked"] += 1

    run()
    drawn, checked = (COUNTS[f"function {name} {db.name} {k}"] for k in ("drawn", "checked"))
    print(f"\nfunction {name} on {db.name}: {drawn} examples drawn, {checked} checked")
    assert db.leftovers() == []


def overflows(oracle: Any, *args: np.ndarray) -> bool:
    """Whether NumPy overflows or underflows computing ``oracle(*args)``."""
    try:
        with np.errstate(over="raise", under="raise", invalid="ignore", divide="ignore"):
            oracle(*args)
    except FloatingPointError:
        return True
    return False


#: Points inside each function's domain, away from kinks, for finite differences.
def domain_points(name: str, rng: np.random.Generator) -> np.ndarray:
    if name in ("arcsin", "arccos"):
        return rng.uniform(-0.9, 0.9, 4)
    if name == "log1p":
        return rng.uniform(-0.9, 3.0, 4)
    if name in ("log", "sqrt", "sqrt0"):
        return rng.uniform(0.2, 3.0, 4)
    if name == "tan":
        return rng.uniform(-1.2, 1.2, 4)
    points = rng.uniform(-3.0, 3.0, 4)
    return np.where(np.abs(points) < 0.05, 0.5, points)  # no kink of abs, relu, sign


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("seed", range(5))
def test_derivatives_match_finite_differences(name: str, seed: int) -> None:
    x = ex.var("x", (4,))
    f = ex.sum_(apply(FUNCTIONS[name], x) * ex.const([1.0, -2.0, 0.5, 3.0]))
    point = domain_points(name, np.random.default_rng(seed))
    assert check_grad(f, x, {"x": point}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("seed", range(5))
def test_derivatives_of_two_arguments_match_finite_differences(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = ex.var("x", (3,)), ex.var("y", (2, 3))
    f = ex.sum_(apply(FUNCTIONS[name], x, y))
    values = {"x": rng.uniform(0.5, 2.0, 3), "y": rng.uniform(0.5, 2.0, (2, 3))}
    assert check_grad(f, x, values)
    assert check_grad(f, y, values)


@pytest.mark.parametrize("name", ["erf", "tan", "arctan", "arcsin", "arccos"])
def test_new_functions_through_gradients_in_the_database(name: str, db) -> None:
    rng = np.random.default_rng(3)
    X, w = ex.var("X", (6, 3)), ex.var("w", (3,))
    margin = ex.einsum("ij,j->i", X, w)
    f = ex.sum_(ex.unary(name, 0.2 * margin))
    values = {"X": rng.uniform(-1.0, 1.0, (6, 3)), "w": rng.uniform(-1.0, 1.0, 3)}
    for expr in (f, einsql.grad(f, w), einsql.hessian(f, w)):
        expected = einsql.evaluate(expr, values, backend="numpy")
        np.testing.assert_allclose(
            einsql.evaluate(expr, values, con=db.con), expected, rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("name", UNARY)
def test_sparsity_follows_the_value_at_zero(name: str) -> None:
    A = ex.var("A", (3, 4))
    sql = einsql.to_sql(ex.unary(name, A), dialect="duckdb").upper()
    dense = "GENERATE_SERIES" in sql or "RANGE(" in sql or "UNNEST" in sql
    assert dense == (not FUNCTIONS[name].keeps_sparsity), sql


def test_public_functions_are_einsql_attributes_and_cli_words() -> None:
    from einsql.expression_text import parse_expression

    for name in PUBLIC_FUNCTIONS:
        assert getattr(einsql, name) is getattr(ex, name)
        assert name in einsql.__all__
        parsed = parse_expression(f"sum({name}(x))", {"x": ex.var("x", (2,))})
        assert str(parsed) == str(ex.sum_(getattr(einsql, name)(ex.var("x", (2,)))))
    with pytest.raises(AttributeError):
        einsql.no_such_function  # noqa: B018


def test_a_dialect_overrides_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlglot import exp

    from einsql.dialect import load_dialect

    duck = load_dialect("duckdb")
    rule = {"tan": lambda dialect, x: exp.Anonymous(this="MY_TAN", expressions=[x])}
    monkeypatch.setattr(duck, "function_sql", rule)
    sql = einsql.to_sql(ex.tan(ex.var("x", (2,))), dialect="duckdb")
    assert "MY_TAN" in sql and "TAN(" not in sql.replace("MY_TAN(", "")


def test_sigmoid_keeps_relative_precision_in_its_left_tail(db) -> None:
    """The reference once gave exactly 0 below -37 where SQL gave exp(x) / (1 + exp(x))."""
    x = ex.var("x", (5,))
    points = np.array([-51.6, -300.0, -700.0, 0.0, 36.0])
    expected = np.array([math.exp(p) / (1.0 + math.exp(p)) for p in points])
    for backend in ("numpy", None):
        got = einsql.evaluate(
            ex.sigmoid(x), {"x": points}, con=None if backend else db.con, backend=backend
        )
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
