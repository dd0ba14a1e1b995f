"""MatrixCalculus.org's operators and functions: values, gradients and Hessians in
every database against central finite differences of NumPy implementations written
here, the NumPy code ``einsql.to_numpy`` writes, and LaTeX.

Each case is ``(f, x, values, numpy_f)``: an expression, the variable to
differentiate by, a value for every variable (with zeros: sparse operands, and
functions with f(0) != 0 over them) and the same function written with NumPy,
whose finite differences are the oracle.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import einsql
from einsql import var
from einsql.expr import Var, variables

Values = dict[str, np.ndarray]
Case = tuple[einsql.Expr, Var, Values, Callable[[Values], Any]]


def sparse(rng: np.random.Generator, *shape: int, density: float = 0.5) -> np.ndarray:
    """A random array with about ``density`` of its entries nonzero (at least one)."""
    values = rng.standard_normal(shape)
    mask = rng.random(shape) < density
    mask.flat[0] = True
    return np.where(mask, values, 0.0)


def normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def matvec_tanh(rng: np.random.Generator) -> Case:
    A, x = var("A", (4, 3)), var("x", (3,))
    values = {"A": sparse(rng, 4, 3), "x": normal(rng, 3)}
    return einsql.sum(einsql.tanh(A @ x)), x, values, lambda v: np.tanh(v["A"] @ v["x"]).sum()


def vecmat_exp(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 4)), var("x", (3,))
    values = {"A": sparse(rng, 3, 4), "x": sparse(rng, 3)}  # exp(0) = 1 fills missing rows
    return einsql.sum(einsql.exp(x @ A)), x, values, lambda v: np.exp(v["x"] @ v["A"]).sum()


def matmat_norm2(rng: np.random.Generator) -> Case:
    A, X = var("A", (4, 3)), var("X", (3, 2))
    values = {"A": sparse(rng, 4, 3), "X": sparse(rng, 3, 2, density=0.7)}
    return einsql.norm2(A @ X), X, values, lambda v: np.linalg.norm(v["A"] @ v["X"])


def dot_cos(rng: np.random.Generator) -> Case:
    x, y = var("x", (4,)), var("y", (4,))
    values = {"x": sparse(rng, 4), "y": normal(rng, 4)}
    return einsql.cos(x @ y) + x @ x, x, values, lambda v: np.cos(v["x"] @ v["y"]) + v["x"] @ v["x"]


def ndarray_at_expression(rng: np.random.Generator) -> Case:
    a, x = sparse(rng, 5, 3), var("x", (3,))
    values = {"x": sparse(rng, 3)}
    return einsql.sum(einsql.sin(a @ x)), x, values, lambda v: np.sin(a @ v["x"]).sum()


def transpose_sigmoid(rng: np.random.Generator) -> Case:
    X, y = var("X", (3, 2)), var("y", (3,))
    values = {"X": sparse(rng, 3, 2), "y": normal(rng, 3)}

    def numpy_f(v: Values) -> Any:
        return (1.0 / (1.0 + np.exp(-(v["X"].T @ v["y"])))).sum()

    return einsql.sum(einsql.sigmoid(X.T @ y)), X, values, numpy_f


def quadratic_form_transposed(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 3)), var("x", (3,))
    values = {"A": sparse(rng, 3, 3), "x": normal(rng, 3)}
    f = x @ (A.T @ A) @ x
    return f, A, values, lambda v: v["x"] @ (v["A"].T @ v["A"]) @ v["x"]


def trace_cubic(rng: np.random.Generator) -> Case:
    X = var("X", (3, 3))
    values = {"X": sparse(rng, 3, 3)}
    f = einsql.trace(X @ X @ X.T)
    return f, X, values, lambda v: np.trace(v["X"] @ v["X"] @ v["X"].T)


def trace_rectangular(rng: np.random.Generator) -> Case:
    X = var("X", (2, 3))
    values = {"X": sparse(rng, 2, 3)}
    f = einsql.trace(X) * einsql.trace(X @ X.T)
    return f, X, values, lambda v: np.trace(v["X"]) * np.trace(v["X"] @ v["X"].T)


def diag_exp(rng: np.random.Generator) -> Case:
    X = var("X", (3, 3))
    values = {"X": sparse(rng, 3, 3)}
    return (
        einsql.sum(einsql.exp(einsql.diag(X))),
        X,
        values,
        lambda v: np.exp(np.diag(v["X"])).sum(),
    )


def diag_rectangular_cos(rng: np.random.Generator) -> Case:
    Y = var("Y", (3, 4))
    values = {"Y": sparse(rng, 3, 4)}
    return (
        einsql.sum(einsql.cos(einsql.diag(Y))),
        Y,
        values,
        lambda v: np.cos(np.diag(v["Y"])).sum(),
    )


def diag_of_vector(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 3)), var("x", (3,))
    values = {"A": sparse(rng, 3, 3), "x": sparse(rng, 3)}
    f = einsql.norm2(einsql.diag(x) @ A + A)
    return f, x, values, lambda v: np.linalg.norm(np.diag(v["x"]) @ v["A"] + v["A"])


def kron_softplus(rng: np.random.Generator) -> Case:
    A, B = var("A", (2, 2)), var("B", (2, 3))
    values = {"A": sparse(rng, 2, 2), "B": sparse(rng, 2, 3)}  # softplus(0) = log 2
    f = einsql.sum(einsql.softplus(einsql.kron(A, B)))
    return f, A, values, lambda v: np.logaddexp(0.0, np.kron(v["A"], v["B"])).sum()


def kron_vectors(rng: np.random.Generator) -> Case:
    x, y = var("x", (3,)), var("y", (2,))
    values = {"x": sparse(rng, 3), "y": normal(rng, 2)}
    f = einsql.norm2(einsql.kron(x, y)) + einsql.kron(y, x) @ einsql.kron(x, y)
    return (
        f,
        x,
        values,
        lambda v: (
            np.linalg.norm(np.kron(v["x"], v["y"]))
            + np.kron(v["y"], v["x"]) @ np.kron(v["x"], v["y"])
        ),
    )


def kron_matrix_vector(rng: np.random.Generator) -> Case:
    A, b = var("A", (2, 2)), var("b", (3,))
    values = {"A": normal(rng, 2, 2), "b": sparse(rng, 3)}
    f = einsql.sum(einsql.kron(A, b) ** 2.0)
    return f, b, values, lambda v: (np.kron(v["A"], v["b"]) ** 2).sum()


def norm1_affine(rng: np.random.Generator) -> Case:
    A, x, b = var("A", (4, 3)), var("x", (3,)), var("b", (4,))
    values = {"A": sparse(rng, 4, 3), "x": normal(rng, 3), "b": normal(rng, 4) + 3.0}
    f = einsql.norm1(A @ x + b) * einsql.norm1(x)
    return f, x, values, lambda v: np.abs(v["A"] @ v["x"] + v["b"]).sum() * np.abs(v["x"]).sum()


def norm2_sparse_vector(rng: np.random.Generator) -> Case:
    x = var("x", (4,))
    values = {"x": sparse(rng, 4)}
    return einsql.norm2(x), x, values, lambda v: np.linalg.norm(v["x"])


def norm2_frobenius(rng: np.random.Generator) -> Case:
    X = var("X", (2, 3))
    values = {"X": sparse(rng, 2, 3)}
    return einsql.norm2(X) ** 3.0, X, values, lambda v: np.linalg.norm(v["X"]) ** 3


def tan_matvec(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 3)), var("x", (3,))
    values = {"A": sparse(rng, 3, 3), "x": normal(rng, 3)}
    return (
        einsql.sum(einsql.tan(0.3 * (A @ x))),
        x,
        values,
        lambda v: np.tan(0.3 * (v["A"] @ v["x"])).sum(),
    )


def arcsin_arccos(rng: np.random.Generator) -> Case:
    x, c = var("x", (4,)), var("c", (4,))
    values = {"x": sparse(rng, 4), "c": normal(rng, 4)}  # arccos(0) = pi / 2
    f = c @ einsql.arcsin(0.2 * x) + c @ einsql.arccos(0.3 * x)
    return (
        f,
        x,
        values,
        lambda v: v["c"] @ np.arcsin(0.2 * v["x"]) + v["c"] @ np.arccos(0.3 * v["x"]),
    )


def arctan_matvec(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 4)), var("x", (4,))
    values = {"A": sparse(rng, 3, 4), "x": normal(rng, 4)}
    return einsql.sum(einsql.arctan(A @ x)), x, values, lambda v: np.arctan(v["A"] @ v["x"]).sum()


def sign_times_square(rng: np.random.Generator) -> Case:
    x = var("x", (4,))
    values = {"x": sparse(rng, 4)}  # x |x|: its Hessian 2 sign(x) is 0 at the zeros
    f = einsql.sum(einsql.sign(x) * x * x)
    return f, x, values, lambda v: (np.sign(v["x"]) * v["x"] ** 2).sum()


def dominant(rng: np.random.Generator, n: int, diagonal: float = 4.0) -> np.ndarray:
    """A sparse ``n x n`` matrix plus ``diagonal`` on its diagonal: well conditioned."""
    return sparse(rng, n, n) + diagonal * np.eye(n)


def inv_quadratic_form(rng: np.random.Generator) -> Case:
    A, x = var("A", (3, 3)), var("x", (3,))
    values = {"A": dominant(rng, 3), "x": normal(rng, 3)}
    f = x @ einsql.inv(A) @ x
    return f, A, values, lambda v: v["x"] @ np.linalg.inv(v["A"]) @ v["x"]


def inv_exp_sum(rng: np.random.Generator) -> Case:
    A = var("A", (3, 3))
    values = {"A": dominant(rng, 3, 3.0)}  # exp(0) = 1: inv(A)'s zeros count too
    f = einsql.sum(einsql.exp(einsql.inv(A)))
    return f, A, values, lambda v: np.exp(np.linalg.inv(v["A"])).sum()


def solve_matrix_rhs_wrt_matrix(rng: np.random.Generator) -> Case:
    A, B = var("A", (3, 3)), var("B", (3, 2))
    values = {"A": dominant(rng, 3), "B": sparse(rng, 3, 2, density=0.7)}
    f = einsql.norm2(einsql.solve(A, B)) ** 2.0
    return f, A, values, lambda v: (np.linalg.solve(v["A"], v["B"]) ** 2).sum()


def solve_matrix_rhs_wrt_rhs(rng: np.random.Generator) -> Case:
    A, B = var("A", (3, 3)), var("B", (3, 2))
    values = {"A": dominant(rng, 3), "B": sparse(rng, 3, 2)}  # cos(0) = 1
    f = einsql.sum(einsql.cos(einsql.solve(A, B)))
    return f, B, values, lambda v: np.cos(np.linalg.solve(v["A"], v["B"])).sum()


def solve_sigmoid(rng: np.random.Generator) -> Case:
    A, b = var("A", (3, 3)), var("b", (3,))
    values = {"A": dominant(rng, 3), "b": sparse(rng, 3)}  # sigmoid(0) = 1/2

    def numpy_f(v: Values) -> Any:
        return (1.0 / (1.0 + np.exp(-np.linalg.solve(v["A"], v["b"])))).sum()

    return einsql.sum(einsql.sigmoid(einsql.solve(A, b))), A, values, numpy_f


def det_of_exp(rng: np.random.Generator) -> Case:
    X = var("X", (3, 3))
    values = {"X": sparse(rng, 3, 3)}  # exp(0) = 1 off the stored entries
    f = einsql.det(3.0 * einsql.const(np.eye(3)) + einsql.exp(0.5 * X))
    return f, X, values, lambda v: np.linalg.det(3.0 * np.eye(3) + np.exp(0.5 * v["X"]))


def det_with_row_swaps(rng: np.random.Generator) -> Case:
    A = var("A", (3, 3))
    swapped = np.eye(3)[[1, 2, 0]] * 3.0 + 0.3 * sparse(rng, 3, 3)  # zero diagonal: pivoting
    values = {"A": swapped}
    f = einsql.det(A) * einsql.trace(einsql.inv(A))
    return f, A, values, lambda v: np.linalg.det(v["A"]) * np.trace(np.linalg.inv(v["A"]))


def logdet_gram(rng: np.random.Generator) -> Case:
    X = var("X", (2, 3))
    values = {"X": sparse(rng, 2, 3)}
    f = einsql.logdet(X @ X.T + einsql.const(np.eye(2)))
    return f, X, values, lambda v: np.linalg.slogdet(v["X"] @ v["X"].T + np.eye(2))[1]


def logdet_negative_determinant(rng: np.random.Generator) -> Case:
    A = var("A", (3, 3))
    odd = np.eye(3)[[1, 0, 2]] * 2.0 + 0.3 * sparse(rng, 3, 3)  # det < 0: log|det|
    values = {"A": odd}
    return einsql.logdet(A), A, values, lambda v: np.linalg.slogdet(v["A"])[1]


CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    f.__name__: f
    for f in [
        matvec_tanh,
        vecmat_exp,
        matmat_norm2,
        dot_cos,
        ndarray_at_expression,
        transpose_sigmoid,
        quadratic_form_transposed,
        trace_cubic,
        trace_rectangular,
        diag_exp,
        diag_rectangular_cos,
        diag_of_vector,
        kron_softplus,
        kron_vectors,
        kron_matrix_vector,
        norm1_affine,
        norm2_sparse_vector,
        norm2_frobenius,
        tan_matvec,
        arcsin_arccos,
        arctan_matvec,
        sign_times_square,
        inv_quadratic_form,
        inv_exp_sum,
        solve_matrix_rhs_wrt_matrix,
        solve_matrix_rhs_wrt_rhs,
        solve_sigmoid,
        det_of_exp,
        det_with_row_swaps,
        logdet_gram,
        logdet_negative_determinant,
    ]
}


def build(name: str, seed: int) -> Case:
    return CASES[name](np.random.default_rng(zlib.crc32(f"{name} {seed}".encode())))


def moved(values: Values, name: str, steps: list[tuple[tuple[int, ...], float]]) -> Values:
    point = values[name].copy()
    for index, delta in steps:
        point[index] += delta
    return {**values, name: point}


def numeric_gradient(f: Callable[[Values], Any], values: Values, name: str) -> np.ndarray:
    """Central differences of ``f`` along each entry of ``values[name]``."""
    eps, shape = 1e-6, values[name].shape
    result = np.zeros(shape)
    for i in np.ndindex(*shape):
        result[i] = (f(moved(values, name, [(i, eps)])) - f(moved(values, name, [(i, -eps)]))) / (
            2 * eps
        )
    return result


def numeric_hessian(f: Callable[[Values], Any], values: Values, name: str) -> np.ndarray:
    """Second-order central differences of ``f``, of shape ``x.shape + x.shape``."""
    h, shape = 1e-4, values[name].shape
    result = np.zeros(shape + shape)
    for i in np.ndindex(*shape):
        for j in np.ndindex(*shape):
            corners = [
                sign * f(moved(values, name, [(i, si * h), (j, sj * h)]))
                for si, sj, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))
            ]
            result[(*i, *j)] = sum(corners) / (4 * h * h)
    return result


def assert_close(result: Any, expected: np.ndarray, what: str) -> None:
    result = np.asarray(result)
    assert result.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def test_every_case_has_zeros_and_a_matching_numpy_function() -> None:
    for name in CASES:
        f, _, values, numpy_f = build(name, 0)
        assert any((v == 0).any() for v in values.values()), name  # a sparse operand
        assert np.isclose(einsql.evaluate(f, values, backend="numpy"), numpy_f(values)), name


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name", sorted(CASES))
def test_value_gradient_and_hessian_match_finite_differences_in_the_database(
    name: str, seed: int, db
) -> None:
    f, x, values, numpy_f = build(name, seed)
    check_model(f, x, values, numpy_f, db)


def check_model(f: Any, x: Any, values: Any, numpy_f: Any, db: Any) -> None:
    """Value, gradient and Hessian of ``f`` in ``db`` against NumPy and finite differences."""
    assert_close(einsql.evaluate(f, values, con=db.con), np.asarray(numpy_f(values)), "value")
    gradient = einsql.evaluate(einsql.grad(f, x), values, con=db.con)
    assert_close(gradient, numeric_gradient(numpy_f, values, x.name), "gradient")
    hessian = einsql.evaluate(einsql.hessian(f, x), values, con=db.con)
    assert_close(hessian, numeric_hessian(numpy_f, values, x.name), "hessian")
    assert db.leftovers() == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_numpy_computes_what_einsql_computes(name: str) -> None:
    f, x, values, numpy_f = build(name, 2)
    derivatives = [f, einsql.grad(f, x), einsql.hessian(f, x)]
    source = einsql.to_numpy(*derivatives, name="f_and_derivatives")
    assert "import numpy as np" in source and "def f_and_derivatives(" in source
    namespace: dict[str, Any] = {}
    exec(compile(source, f"to_numpy {name}", "exec"), namespace)  # einsql's own text
    arguments = sorted(variables(f))
    results = namespace["f_and_derivatives"](*(values[a] for a in arguments))
    assert np.isclose(results[0], numpy_f(values))
    for result, expr in zip(results, derivatives):
        expected = einsql.evaluate(expr, values, backend="numpy")
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)


def test_to_numpy_places_diagonals_and_writes_constants_and_specials() -> None:
    x = var("x", (3,))
    c = einsql.const([np.inf, 0.0, 2.0])
    f = einsql.einsum("i->ii", x * c) + einsql.const(np.diag([np.nan, 0.0, 0.0])) + 1.5
    namespace: dict[str, Any] = {}
    exec(einsql.to_numpy(f), namespace)
    value = np.array([0.5, -1.0, 2.0])
    with np.errstate(all="ignore"):
        expected = einsql.evaluate(f, {"x": value}, backend="numpy")
        np.testing.assert_array_equal(namespace["f"](value), expected)


def test_to_numpy_refuses_what_it_cannot_write() -> None:
    with pytest.raises(einsql.OperandError, match="Python identifier"):
        einsql.to_numpy(einsql.exp(var("my x", (2,))))
    with pytest.raises(einsql.OperandError, match="Python identifier"):
        einsql.to_numpy(einsql.exp(var("np", (2,))))
    with pytest.raises(einsql.OptionError, match="function's name"):
        einsql.to_numpy(var("x", (2,)), name="lambda")
    # Python folds the full-width \uff54 to t: it would meet the code's own t0
    with pytest.raises(einsql.OperandError, match="ASCII"):
        einsql.to_numpy(einsql.exp(var("\uff540", (2,))) * 2.0)
    with pytest.raises(einsql.OptionError, match="ASCII"):
        einsql.to_numpy(var("x", (2,)), name="\uff4e\uff50")
    with pytest.raises(einsql.OperandError, match="several shapes"):
        einsql.to_numpy(var("x", (2,)) + einsql.sum(var("x", (3,))))
    with pytest.raises(einsql.OperandError, match="expressions"):
        einsql.to_numpy(np.ones(2))  # type: ignore[arg-type]
    source = einsql.to_numpy(einsql.exp(var("t0", (2,))) + var("t_1", (2,)))
    assert re.search(r"^    t__0 = np\.exp\(t0\)$", source, flags=re.M), source


@pytest.mark.parametrize("db_name", ["numpy", "duckdb", "sqlite"])
def test_norm2_derivatives_at_zero_are_zero(db_name: str) -> None:
    x = var("x", (3,))
    zero = {"x": np.zeros(3)}
    for expr in (einsql.grad(einsql.norm2(x), x), einsql.hessian(einsql.norm2(x), x)):
        result = einsql.evaluate(expr, zero, backend=db_name)
        np.testing.assert_array_equal(result, np.zeros(expr.shape))


def test_norm2_derivatives_at_zero_are_zero_in_every_database(db) -> None:
    x = var("x", (2, 2))
    zero = {"x": np.zeros((2, 2))}
    f = einsql.norm2(x) + einsql.sum(x)
    gradient = einsql.evaluate(einsql.grad(f, x), zero, con=db.con)
    np.testing.assert_array_equal(gradient, np.ones((2, 2)))
    hessian = einsql.evaluate(einsql.hessian(f, x), zero, con=db.con)
    np.testing.assert_array_equal(hessian, np.zeros((2, 2, 2, 2)))


@pytest.mark.parametrize(
    ("left", "right"),
    [((2, 3), (3,)), ((3,), (3, 4)), ((3,), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
     ((1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 2)), ((5, 2, 3), (3,))],
)  # fmt: skip
def test_matmul_and_transpose_follow_numpy(left: tuple[int, ...], right: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(left) * 10 + len(right))
    a, b = sparse(rng, *left), rng.standard_normal(right)
    A, B = var("A", left), var("B", right)
    values = {"A": a, "B": b}
    for expr, expected in [(A @ B, a @ b), (a @ B, a @ b), (A.T, a.T), (B.T, b.T)]:
        result = einsql.evaluate(expr, values, backend="numpy")
        assert expr.shape == expected.shape
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    assert einsql.matmul(a, B).shape == (a @ b).shape


def test_matmul_trace_diag_refuse_bad_shapes() -> None:
    with pytest.raises(einsql.ShapeError, match=r"at least one axis.*multiply by a scalar"):
        var("s", ()) @ var("x", (3,))
    with pytest.raises(einsql.ShapeError, match="has size 3, but the only axis"):
        var("A", (2, 3)) @ var("x", (4,))
    with pytest.raises(einsql.ShapeError, match=r"stacks of matrices .* do not broadcast"):
        var("A", (2, 2, 3)) @ var("B", (3, 3, 2))
    with pytest.raises(einsql.ShapeError, match="trace needs a matrix"):
        einsql.trace(var("x", (3,)))
    with pytest.raises(einsql.ShapeError, match="diag needs a vector or a matrix"):
        einsql.diag(var("T", (2, 2, 2)))


def test_kron_and_diag_follow_numpy_on_every_shape() -> None:
    rng = np.random.default_rng(7)
    pairs = [((2, 3), (4, 5)), ((3,), (2,)), ((2, 3), (4,)), ((3,), (2, 4)), ((1, 3), (2, 1)),
             ((2, 2, 2), (3, 1)), ((), (2, 3))]  # fmt: skip
    for left, right in pairs:
        a, b = sparse(rng, *left) if left else np.array(1.5), rng.standard_normal(right)
        expr = einsql.kron(var("a", left), var("b", right))
        result = einsql.evaluate(expr, {"a": a, "b": b}, backend="numpy")
        np.testing.assert_allclose(result, np.kron(a, b), err_msg=str((left, right)))
    for shape in [(3,), (3, 3), (2, 4), (4, 2)]:
        a = sparse(rng, *shape)
        result = einsql.evaluate(einsql.diag(var("a", shape)), {"a": a}, backend="numpy")
        np.testing.assert_array_equal(result, np.diag(a))


def test_latex_shows_every_index() -> None:
    x, A = var("x", (4,)), var("A", (4, 4))
    f = einsql.einsum("i,ij,j->", x, A, x)
    assert einsql.latex(einsql.hessian(f, x)) == r"A^\top + A"
    assert einsql.latex(A.T) == einsql.latex(einsql.einsum("ij->ji", A)) == r"A^\top"
    gradient = einsql.latex(einsql.grad(f, x))
    assert r"\left[\sum_{b} A_{ab} x_{b}\right]_{a}" in gradient
    assert r"\left[\sum_{a} x_{a} A_{ab}\right]_{b}" in gradient
    T = var("T", (2, 3, 4))
    assert einsql.latex(T.T) == r"\left[T_{abc}\right]_{cba}"
    assert einsql.latex(einsql.diag(x)) == r"\left[x_{a}\right]_{aa}"
    assert einsql.latex(einsql.trace(A)) == r"\sum_{a} A_{aa}"


def test_to_numpy_writes_solve() -> None:
    H, g = var("H", (3, 3)), var("g", (3,))
    f = einsql.solve(H @ H.T + einsql.diag(einsql.const(np.ones(3))), g)
    namespace: dict[str, Any] = {}
    exec(einsql.to_numpy(f, name="step"), namespace)
    rng = np.random.default_rng(3)
    values = {"H": rng.standard_normal((3, 3)), "g": rng.standard_normal(3)}
    expected = einsql.evaluate(f, values, backend="numpy")
    np.testing.assert_allclose(namespace["step"](values["H"], values["g"]), expected)
