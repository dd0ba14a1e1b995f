"""Expressions from machine learning and statistics, for derivative tests.

Each entry builds ``(f, wrt, values)`` from a random generator: a function, the
variable to differentiate by, and a value for every variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import einsql.expr as ex
from einsql.expr import einsum, var

Case = tuple[ex.Expr, ex.Var, dict[str, Any]]


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def tanh_chain(depth: int, size: int = 3) -> Case:
    """``sum(tanh(W tanh(W ... tanh(W x))))`` with ``depth`` layers, ``x``, and values.

    ``W`` is 1.2 times an orthogonal matrix, where derivatives live: the gradient
    at depth 400 and the Hessian at depth 100 have entries of order 0.1 to 1.
    """
    x, W = var("x", (size,)), var("W", (size, size))
    h: ex.Expr = x
    for _ in range(depth):
        h = ex.tanh(einsum("ij,j->i", W, h))
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    return ex.sum_(h), x, {"W": 1.2 * q, "x": rng.standard_normal(size)}


def least_squares(rng: np.random.Generator) -> Case:
    A, x, b = var("A", (5, 3)), var("x", (3,)), var("b", (5,))
    r = einsum("ij,j->i", A, x) - b
    return (
        einsum("i,i->", r, r),
        x,
        {"A": _normal(rng, 5, 3), "x": _normal(rng, 3), "b": _normal(rng, 5)},
    )


def ridge(rng: np.random.Generator) -> Case:
    f, x, values = least_squares(rng)
    return f + 0.5 * einsum("i,i->", x, x), x, values


def logistic(rng: np.random.Generator) -> Case:
    X, w, y = var("X", (6, 3)), var("w", (3,)), var("y", (6,))
    margin = y * einsum("ij,j->i", X, w)
    labels = rng.choice([-1.0, 1.0], size=6)
    return (
        ex.sum_(ex.log1p(ex.exp(-margin))),
        w,
        {"X": _normal(rng, 6, 3), "w": _normal(rng, 3), "y": labels},
    )


def softmax_cross_entropy(rng: np.random.Generator) -> Case:
    X, W, Y = var("X", (4, 3)), var("W", (3, 5)), var("Y", (4, 5))
    Z = einsum("ij,jk->ik", X, W)
    lse = ex.log(einsum("ik->i", ex.exp(Z)))
    log_p = Z - einsum("i,k->ik", lse, np.ones(5))
    onehot = np.eye(5)[rng.integers(0, 5, size=4)]
    return (
        -einsum("ik,ik->", Y, log_p),
        W,
        {"X": _normal(rng, 4, 3), "W": _normal(rng, 3, 5), "Y": onehot},
    )


def quadratic_form(rng: np.random.Generator) -> Case:
    x, A = var("x", (4,)), var("A", (4, 4))
    return einsum("i,ij,j->", x, A, x), x, {"x": _normal(rng, 4), "A": _normal(rng, 4, 4)}


def factorization_u(rng: np.random.Generator) -> Case:
    X, U, V = var("X", (5, 4)), var("U", (5, 2)), var("V", (4, 2))
    R = X - einsum("ir,jr->ij", U, V)
    values = {"X": _normal(rng, 5, 4), "U": _normal(rng, 5, 2), "V": _normal(rng, 4, 2)}
    return einsum("ij,ij->", R, R), U, values


def factorization_v(rng: np.random.Generator) -> Case:
    f, _, values = factorization_u(rng)
    return f, ex.variables(f)["V"], values


def trace_axbxt(rng: np.random.Generator) -> Case:
    A, X, B = var("A", (3, 3)), var("X", (3, 4)), var("B", (4, 4))
    f = einsum("ij,jk,kl,il->", A, X, B, X)
    return f, X, {"A": _normal(rng, 3, 3), "X": _normal(rng, 3, 4), "B": _normal(rng, 4, 4)}


def two_layer_tanh(rng: np.random.Generator) -> Case:
    X, W1, W2, y = var("X", (6, 3)), var("W1", (3, 4)), var("W2", (4,)), var("y", (6,))
    hidden = ex.tanh(einsum("ij,jk->ik", X, W1))
    r = einsum("ik,k->i", hidden, W2) - y
    values = {
        "X": _normal(rng, 6, 3),
        "W1": _normal(rng, 3, 4),
        "W2": _normal(rng, 4),
        "y": _normal(rng, 6),
    }
    return einsum("i,i->", r, r), W1, values


def two_layer_tanh_output(rng: np.random.Generator) -> Case:
    f, _, values = two_layer_tanh(rng)
    return f, ex.variables(f)["W2"], values


def trace(rng: np.random.Generator) -> Case:
    M = var("M", (4, 4))
    return einsum("ii->", M) * einsum("ij,ij->", M, M), M, {"M": _normal(rng, 4, 4)}


def diagonal_weighted(rng: np.random.Generator) -> Case:
    M, v = var("M", (3, 3)), var("v", (3,))
    return einsum("ii,i->", ex.exp(M), v), M, {"M": _normal(rng, 3, 3), "v": _normal(rng, 3)}


def diagonal_of_cube(rng: np.random.Generator) -> Case:
    T = var("T", (3, 3, 2))
    return ex.sum_(einsum("iij->j", T) ** 2), T, {"T": _normal(rng, 3, 3, 2)}


def hyperedge(rng: np.random.Generator) -> Case:
    A, B, C = var("A", (3, 2)), var("B", (3, 4)), var("C", (3, 2))
    f = einsum("ij,ik,il->", A, B, ex.sin(C))
    return f * f, A, {"A": _normal(rng, 3, 2), "B": _normal(rng, 3, 4), "C": _normal(rng, 3, 2)}


def hyperedge_kept(rng: np.random.Generator) -> Case:
    a, b, c = var("a", (4,)), var("b", (4,)), var("c", (4,))
    f = ex.sum_(einsum("i,i,i->i", a, b, c) ** 2)
    return f, b, {"a": _normal(rng, 4), "b": _normal(rng, 4), "c": _normal(rng, 4)}


def matrix_cube_trace(rng: np.random.Generator) -> Case:
    X = var("X", (3, 3))
    return einsum("ij,jk,ki->", X, X, X), X, {"X": _normal(rng, 3, 3)}


def broadcast_rows(rng: np.random.Generator) -> Case:
    x, M = var("x", (3,)), var("M", (2, 3))
    return ex.sum_((M + x) ** 2), x, {"x": _normal(rng, 3), "M": _normal(rng, 2, 3)}


def broadcast_size_one(rng: np.random.Generator) -> Case:
    c, M = var("c", (2, 1)), var("M", (2, 3))
    return ex.sum_(ex.exp(M * c)), c, {"c": _normal(rng, 2, 1), "M": _normal(rng, 2, 3)}


def rational(rng: np.random.Generator) -> Case:
    x = var("x", (4,))
    return ex.sum_(x / (1.0 + x * x)), x, {"x": _normal(rng, 4)}


def cubic_power(rng: np.random.Generator) -> Case:
    x = var("x", (4,))
    return ex.sum_(x**3.0), x, {"x": _normal(rng, 4)}


def variable_power(rng: np.random.Generator) -> Case:
    x, p = var("x", (3,)), var("p", (3,))
    return ex.sum_(x**p), p, {"x": rng.uniform(0.5, 2.0, 3), "p": _normal(rng, 3)}


def poisson(rng: np.random.Generator) -> Case:
    X, w, y = var("X", (6, 3)), var("w", (3,)), var("y", (6,))
    eta = einsum("ij,j->i", X, w)
    values = {
        "X": 0.5 * _normal(rng, 6, 3),
        "w": 0.5 * _normal(rng, 3),
        "y": rng.poisson(2.0, 6) * 1.0,
    }
    return ex.sum_(ex.exp(eta) - y * eta), w, values


def l1(rng: np.random.Generator) -> Case:
    x = var("x", (5,))
    return ex.sum_(ex.abs_(x)) + ex.sum_(x * x), x, {"x": _normal(rng, 5) + 0.1}


def gaussian_precision(rng: np.random.Generator) -> Case:
    r, P = var("r", (3,)), var("P", (3, 3))
    return einsum("i,ij,j->", r, P, r), P, {"r": _normal(rng, 3), "P": _normal(rng, 3, 3)}


def frobenius(rng: np.random.Generator) -> Case:
    X = var("X", (3, 2))
    return ex.sqrt(einsum("ij,ij->", X, X)), X, {"X": _normal(rng, 3, 2)}


def kl_divergence(rng: np.random.Generator) -> Case:
    p, q = var("p", (4,)), var("q", (4,))
    values = {"p": rng.uniform(0.1, 1.0, 4), "q": rng.uniform(0.1, 1.0, 4)}
    return ex.sum_(p * ex.log(p / q)), q, values


def trigonometric(rng: np.random.Generator) -> Case:
    x = var("x", (4,))
    return ex.sum_(ex.cos(x) * ex.sin(2.0 * x)), x, {"x": _normal(rng, 4)}


def hinge(rng: np.random.Generator) -> Case:
    X, w, y = var("X", (6, 3)), var("w", (3,)), var("y", (6,))
    margin = 1.0 - y * einsum("ij,j->i", X, w)
    values = {"X": _normal(rng, 6, 3), "w": _normal(rng, 3), "y": rng.choice([-1.0, 1.0], 6)}
    return ex.sum_(ex.relu(margin)), w, values


def softplus_loss(rng: np.random.Generator) -> Case:
    X, w, y = var("X", (6, 3)), var("w", (3,)), var("y", (6,))
    values = {"X": _normal(rng, 6, 3), "w": _normal(rng, 3), "y": rng.choice([-1.0, 1.0], 6)}
    return ex.sum_(ex.softplus(-y * einsum("ij,j->i", X, w))), w, values


def matrix_chain(rng: np.random.Generator) -> Case:
    A, X, B = var("A", (2, 3)), var("X", (3, 4)), var("B", (4, 2))
    f = einsum("ij,jk,kl->", A, X, B) ** 2.0
    return f, X, {"A": _normal(rng, 2, 3), "X": _normal(rng, 3, 4), "B": _normal(rng, 4, 2)}


def sigmoid_cross_entropy(rng: np.random.Generator) -> Case:
    X, w, t = var("X", (6, 3)), var("w", (3,)), var("t", (6,))
    p = ex.sigmoid(einsum("ij,j->i", X, w))
    loss = -(t * ex.log(p) + (1.0 - t) * ex.log(1.0 - p))
    values = {"X": _normal(rng, 6, 3), "w": _normal(rng, 3), "t": rng.integers(0, 2, 6) * 1.0}
    return ex.sum_(loss), w, values


def bilinear_hyperedge(rng: np.random.Generator) -> Case:
    x, y, T = var("x", (3,)), var("y", (3,)), var("T", (3, 3, 3))
    f = einsum("i,ijk,j,k->", x, T, y, x)
    return f, x, {"x": _normal(rng, 3), "y": _normal(rng, 3), "T": _normal(rng, 3, 3, 3)}


#: Scalar functions: gradient and Hessian are checked.
SCALAR: dict[str, Callable[[np.random.Generator], Case]] = {
    f.__name__: f
    for f in [
        least_squares,
        ridge,
        logistic,
        softmax_cross_entropy,
        quadratic_form,
        factorization_u,
        factorization_v,
        trace_axbxt,
        two_layer_tanh,
        two_layer_tanh_output,
        trace,
        diagonal_weighted,
        diagonal_of_cube,
        hyperedge,
        hyperedge_kept,
        matrix_cube_trace,
        broadcast_rows,
        broadcast_size_one,
        rational,
        cubic_power,
        variable_power,
        poisson,
        l1,
        gaussian_precision,
        frobenius,
        kl_divergence,
        trigonometric,
        hinge,
        softplus_loss,
        matrix_chain,
        sigmoid_cross_entropy,
        bilinear_hyperedge,
    ]
}


def sigmoid_layer(rng: np.random.Generator) -> Case:
    A, x = var("A", (4, 3)), var("x", (3,))
    return ex.sigmoid(einsum("ij,j->i", A, x)), x, {"A": _normal(rng, 4, 3), "x": _normal(rng, 3)}


def outer_product(rng: np.random.Generator) -> Case:
    x = var("x", (3,))
    return einsum("i,j->ij", x, ex.exp(x)), x, {"x": _normal(rng, 3)}


def diagonal_placement(rng: np.random.Generator) -> Case:
    x = var("x", (3,))
    return einsum("i->ii", x * x), x, {"x": _normal(rng, 3)}


def softmax(rng: np.random.Generator) -> Case:
    z = var("z", (4,))
    e = ex.exp(z)
    return e / einsum("i->", e), z, {"z": _normal(rng, 4)}


def residual_matrix(rng: np.random.Generator) -> Case:
    U, V = var("U", (3, 2)), var("V", (4, 2))
    return ex.tanh(einsum("ir,jr->ij", U, V)), V, {"U": _normal(rng, 3, 2), "V": _normal(rng, 4, 2)}


#: Tensor-valued functions: the Jacobian is checked.
TENSOR: dict[str, Callable[[np.random.Generator], Case]] = {
    f.__name__: f
    for f in [sigmoid_layer, outer_product, diagonal_placement, softmax, residual_matrix]
}
