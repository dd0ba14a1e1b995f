"""Derivatives against central finite differences on the NumPy reference."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from expressions import SCALAR, TENSOR

import einsql.expr as ex
from einsql.calculus import check_grad, grad, hessian, jacobian
from einsql.evaluate import evaluate


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
    flat = hess.reshape(x.size if hasattr(x, "size") else int(np.prod(x.shape)), -1)
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


import einsql  # noqa: E402  (used by the error tests above)
