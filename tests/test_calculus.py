"""Derivatives against central finite differences on the NumPy reference."""

from __future__ import annotations

import decimal
import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import psql_rows
from expressions import SCALAR, TENSOR, tanh_chain

import einsql
import einsql.expr as ex
from einsql.calculus import grad, hessian, jacobian
from einsql.evaluation import evaluate
from einsql.gradcheck import check_grad


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def test_the_lists_are_long_enough() -> None:
    assert len(SCALAR) + len(TENSOR) >= 30


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_gradient_matches_finite_differences(name) -> None:
    f, x, values = SCALAR[name](rng_for(name))
    check = check_grad(f, x, values)
    assert check.ok, (check.max_error, str(grad(f, x)))
    assert check.analytic.shape == x.shape


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_hessian_matches_finite_differences_of_the_gradient(name) -> None:
    f, x, values = SCALAR[name](rng_for(name))
    check = check_grad(grad(f, x), x, values, rtol=1e-4, atol=1e-6)
    assert check.ok, check.max_error
    hess = np.asarray(evaluate(hessian(f, x), values))
    assert hess.shape == x.shape + x.shape
    size = int(np.prod(x.shape))
    flat = hess.reshape(size, size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-6, atol=1e-8)  # a Hessian is symmetric


@pytest.mark.parametrize("name", sorted(TENSOR))
def test_jacobian_matches_finite_differences(name) -> None:
    f, x, values = TENSOR[name](rng_for(name))
    check = check_grad(f, x, values)
    assert check.ok, check.max_error
    assert check.analytic.shape == f.shape + x.shape


def test_quadratic_form_hessian_is_a_plus_a_transpose() -> None:
    x, A = ex.var("x", (4,)), ex.var("A", (4, 4))
    a = np.random.default_rng(0).standard_normal((4, 4))
    h = hessian(ex.einsum("i,ij,j->", x, A, x), x)
    np.testing.assert_allclose(evaluate(h, {"x": np.zeros(4), "A": a}), a + a.T)
    assert str(h) == "((A[ab] -> [ba]) + A)"


def test_third_derivatives_by_applying_jacobian_again() -> None:
    x = ex.var("x", (2,))
    f = ex.sum_(x**4.0)
    third = jacobian(hessian(f, x), x)
    value = np.array([0.5, -1.5])
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0], expected[1, 1, 1] = 24 * value
    np.testing.assert_allclose(evaluate(third, {"x": value}), expected)


def test_shared_subexpressions_are_one_node() -> None:
    x = ex.var("x", (3,))
    y = ex.exp(x)
    assert ex.exp(x) is y and ex.einsum("i,i->", y, y) is ex.einsum("i,i->", y, y)
    g = grad(ex.sum_(ex.exp(x)), x)
    assert g is y  # the derivative of exp reuses the forward node


def test_deep_expressions_intern_by_their_operand_nodes() -> None:
    f, x, _ = tanh_chain(300)
    assert tanh_chain(300)[0] is f  # built again, the same node
    h = hessian(f, x)
    assert hessian(tanh_chain(300)[0], x) is h
    for node in ex.walk(h):  # a key names operands by their nodes, never by nested keys
        inner = [k for k in node.key if isinstance(k, tuple)]
        named = [k for k in node.key if isinstance(k, ex.Expr)]
        named += [k for t in inner for k in t if isinstance(k, ex.Expr)]
        assert named == list(node.children), str(node)[:80]
        assert all(not isinstance(k, tuple) for t in inner for k in t)


def test_constants_fold_and_identities_vanish() -> None:
    x = ex.var("x", (3,))
    assert (x + 0.0) is x and (x * 1.0) is x and ex.einsum("i->i", x) is x
    assert isinstance(ex.const(2.0) * ex.const([1.0, 2.0]), ex.Const)
    assert ex.is_zero(x * ex.zeros((3,)))
    assert ex.is_zero(grad(ex.sum_(ex.var("y", (3,))), x))


def test_jacobian_seed_is_a_diagonal_not_a_dense_identity() -> None:
    x = ex.var("x", (50,))
    j = jacobian(ex.exp(x), x)
    assert j.shape == (50, 50)
    constants = [n for n in ex.walk(j) if isinstance(n, ex.Const)]
    assert all(c.value.size <= 50 for c in constants)


def test_gradient_needs_a_scalar_and_a_variable() -> None:
    x = ex.var("x", (3,))
    with pytest.raises(einsql.ShapeError, match="use jacobian"):
        grad(ex.exp(x), x)
    with pytest.raises(einsql.OperandError, match="with respect to a variable"):
        grad(ex.sum_(x), ex.exp(x))  # type: ignore[arg-type]


# --- in the databases ------------------------------------------------------------------


def derivatives(f: ex.Expr, x: ex.Var) -> dict[str, ex.Expr]:
    if f.ndim:
        return {"f": f, "jacobian": jacobian(f, x)}
    return {"f": f, "grad": grad(f, x), "hessian": hessian(f, x)}


#: Every case by name; every fifth also on Spark, where each statement costs about 0.2 s.
CASES = [
    pytest.param(name, marks=[pytest.mark.spark] if k % 5 == 0 else [])
    for k, name in enumerate(sorted(SCALAR) + sorted(TENSOR))
]


@pytest.mark.parametrize("name", CASES)
def test_expressions_and_derivatives_evaluate_in_the_database(name, db) -> None:
    f, x, values = {**SCALAR, **TENSOR}[name](rng_for(name))
    for which, expr in derivatives(f, x).items():
        expected = np.asarray(evaluate(expr, values, backend="numpy"))
        result = np.asarray(einsql.evaluate(expr, values, con=db.con))
        assert result.shape == expected.shape, which
        np.testing.assert_allclose(result, expected, rtol=1e-8, atol=1e-10, err_msg=which)
    assert db.leftovers() == []


@pytest.mark.spark
def test_functions_with_f0_nonzero_fill_the_missing_rows(db) -> None:
    a = sp.random(30, 20, density=0.05, random_state=4, format="csr")
    A = ex.var("A", a.shape)
    for fn in (ex.exp, ex.cos, ex.sigmoid, ex.softplus, lambda t: t + 1.5):
        expected = np.sum(evaluate(fn(A), {"A": a.toarray()}, backend="numpy"))
        assert np.isclose(einsql.evaluate(einsql.sum(fn(A)), {"A": a}, con=db.con), expected)
    assert np.isclose(
        einsql.evaluate(einsql.sum(ex.exp(A)), {"A": a}, con=db.con), np.exp(a.toarray()).sum()
    )


@pytest.mark.spark
def test_functions_with_f0_zero_stay_sparse(db) -> None:
    a = sp.random(30, 20, density=0.05, random_state=5, format="csr")
    A = ex.var("A", a.shape)
    ranges = ("GENERATE_SERIES", "RECURSIVE", "RANGE(")  # how each database lists indices
    sql = einsql.to_sql(ex.sin(A) * 2.0, dialect=db.name).upper()
    assert not any(spelling in sql for spelling in ranges)
    dense = einsql.to_sql(ex.cos(A), dialect=db.name).upper()
    assert any(spelling in dense for spelling in ranges)
    result = einsql.evaluate(ex.sin(A) * 2.0, {"A": a}, con=db.con)
    np.testing.assert_allclose(result, np.sin(a.toarray()) * 2.0)


@pytest.mark.spark
def test_variables_can_be_tables(db) -> None:
    rng = np.random.default_rng(8)
    X, w = rng.standard_normal((50, 4)), rng.standard_normal(4)
    table = einsql.einsum("ij->ij", X, con=db.con, into="design")
    try:
        Xv, wv = ex.var("X", (50, 4)), ex.var("w", (4,))
        f = ex.sum_(ex.softplus(ex.einsum("ij,j->i", Xv, wv)))
        values = {"X": table, "w": w}
        expected = evaluate(grad(f, wv), {"X": X, "w": w}, backend="numpy")
        np.testing.assert_allclose(einsql.evaluate(grad(f, wv), values, con=db.con), expected)
    finally:
        db.drop("design")


@pytest.mark.spark
def test_evaluate_names_missing_and_misshapen_values(db) -> None:
    x = ex.var("x", (3,))
    with pytest.raises(einsql.OperandError, match="no value for variable 'x'"):
        einsql.evaluate(ex.exp(x), {}, con=db.con)
    with pytest.raises(einsql.OperandError, match=r"has shape \(3,\), its value \(4,\)"):
        einsql.evaluate(ex.exp(x), {"x": np.ones(4)}, con=db.con)
    assert db.leftovers() == []


def test_gradient_sql_pasted_into_psql(pg_url) -> None:
    import psycopg

    f, w, values = SCALAR["logistic"](rng_for("logistic"))
    with psycopg.connect(pg_url) as con:
        for name, value in values.items():
            einsql.einsum("...->...", np.asarray(value), con=con, into=name)
    try:
        rows = psql_rows(pg_url, einsql.to_sql(grad(f, w), dialect="postgres"))
        result = np.zeros(w.shape)
        for i, v in rows:
            result[int(i)] = float(v)
        np.testing.assert_allclose(result, evaluate(grad(f, w), values, backend="numpy"))
    finally:
        with psycopg.connect(pg_url) as con:
            for name in values:
                con.execute(f'DROP TABLE "{name}"')


# --- Hessian-vector products ------------------------------------------------------------


def direction_for(name: str, shape: tuple[int, ...]) -> np.ndarray:
    return rng_for(name + " direction").standard_normal(shape)


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_hvp_matches_finite_differences_of_the_gradient(name) -> None:
    f, x, values = SCALAR[name](rng_for(name))
    v = direction_for(name, x.shape)
    result = np.asarray(evaluate(einsql.hvp(f, x, v), values, backend="numpy"))
    step = 1e-6
    g = grad(f, x)
    ahead = evaluate(g, {**values, x.name: values[x.name] + step * v}, backend="numpy")
    behind = evaluate(g, {**values, x.name: values[x.name] - step * v}, backend="numpy")
    scale = max(1.0, float(np.abs(result).max()))
    np.testing.assert_allclose(result, (ahead - behind) / (2 * step), rtol=1e-4, atol=1e-5 * scale)
    hess = np.asarray(evaluate(hessian(f, x), values, backend="numpy"))
    size = x.size
    product = (hess.reshape(size, size) @ v.reshape(size)).reshape(x.shape)
    np.testing.assert_allclose(result, product, rtol=1e-8, atol=1e-10 * scale)


def test_hvp_never_forms_the_hessian() -> None:
    n, d = 40, 30
    X, y, w = ex.var("X", (n, d)), ex.var("y", (n,)), ex.var("w", (d,))
    z = ex.einsum("ij,j->i", X, w)
    f = ex.sum_(ex.softplus(z) - y * z)
    product = einsql.hvp(f, w, ex.var("v", (d,)))
    largest = max(node.size for node in ex.walk(f))
    assert all(node.size <= largest for node in ex.walk(product))
    assert (d, d) in {node.shape for node in ex.walk(hessian(f, w))}  # as the Hessian does


def test_hvp_holds_its_vector_fixed() -> None:
    f, x, values = SCALAR["logistic"](rng_for("logistic"))
    v = ex.exp(x) * 0.5  # depends on x: still H(x) v(x), no derivative of v
    result = evaluate(einsql.hvp(f, x, v), values, backend="numpy")
    hess = evaluate(hessian(f, x), values, backend="numpy")
    np.testing.assert_allclose(result, hess @ (np.exp(values["w"]) * 0.5), rtol=1e-10)
    assert "hvp_direction" not in ex.variables(einsql.hvp(f, x, v))


def test_hvp_needs_a_scalar_a_variable_and_a_vector_of_its_shape() -> None:
    x = ex.var("x", (3,))
    f = ex.sum_(ex.exp(x))
    with pytest.raises(einsql.ShapeError, match=r"shape of x, \(3,\), not \(4,\)"):
        einsql.hvp(f, x, np.ones(4))
    with pytest.raises(einsql.ShapeError, match="use jacobian"):
        einsql.hvp(ex.exp(x), x, np.ones(3))
    with pytest.raises(einsql.OperandError, match="with respect to a variable"):
        einsql.hvp(f, ex.exp(x), np.ones(3))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SCALAR)[::3])
def test_hvp_in_the_database_is_the_hessian_times_the_vector(name, db) -> None:
    f, x, values = SCALAR[name](rng_for(name))
    v = direction_for(name, x.shape)
    direction = ex.var(f"{x.name}_dir", x.shape)
    values = {**values, direction.name: v}
    product = einsql.hvp(f, x, direction)
    result = np.asarray(einsql.evaluate(product, values, con=db.con))
    size = x.size
    hess = np.asarray(einsql.evaluate(hessian(f, x), values, con=db.con)).reshape(size, size)
    np.testing.assert_allclose(result, (hess @ v.reshape(size)).reshape(x.shape), atol=1e-9)
    np.testing.assert_allclose(result, evaluate(product, values, backend="numpy"), rtol=1e-8)
    assert db.leftovers() == []


@pytest.mark.parametrize(
    "value", ["2", decimal.Decimal("1.5"), 1j, {"a": 1}, object(), ["1", 2], np.array(["x"])]
)
def test_constants_are_real_numbers_or_refused(value) -> None:
    """A string, a Decimal, a complex number, a mapping: never guessed at (was float64)."""
    x = ex.var("x", (2,))
    for combine in (lambda: x * value, lambda: x @ value, lambda: ex.const(value)):
        with pytest.raises(einsql.OperandError, match="real number"):
            combine()


def test_real_constants_of_every_form_are_float64() -> None:
    x = ex.var("x", (2,))
    forms = [3, 3.0, True, np.int8(3), np.float32(3.0), [3, 3], (3.0, np.int64(3))]
    for form in forms:
        value = evaluate(x * form, {"x": np.array([1.0, 2.0])}, backend="numpy")
        np.testing.assert_array_equal(value, np.array([1.0, 2.0]) * np.asarray(form, float))
