"""Inverses, determinants and solves with matrix right-hand sides, and their derivatives.

``einsql.inv``, ``det``, ``logdet`` and ``solve`` run as Gauss-Jordan elimination
in SQL. Here: the models the calculus issue names (gradient and Hessian against
central finite differences on DuckDB, PostgreSQL and SQLite), singular matrices
(the same answer on every backend and on the reference, which runs the same
elimination), the per-dialect size limit, printing, and a differential property
test of values and gradients against NumPy's LAPACK-based answers. The number of
property examples per backend is ``EINSQL_INVERSE_EXAMPLES`` (default 40).
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import Database
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_matrix_calculus import assert_close, check_model, numeric_gradient

import einsql
from einsql import var
from einsql.dialect import load_dialect

Values = dict[str, np.ndarray]


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def sparse(rng: np.random.Generator, *shape: int, density: float = 0.5) -> np.ndarray:
    values = rng.standard_normal(shape)
    mask = rng.random(shape) < density
    mask.flat[0] = True
    return np.where(mask, values, 0.0)


# --- the models of the calculus issue --------------------------------------------------


def low_rank_ridge() -> tuple[einsql.Expr, einsql.Var, Values, Callable[[Values], Any]]:
    """Multi-output ridge regression with a log-det rank penalty, over the weights ``W``.

    ``||X W - Y||^2 + lam ||W||^2 + mu logdet(I + W^T W)``: ``logdet(I + W^T W)``
    is the smooth log-det surrogate of ``rank(W)`` (Fazel, Hindi and Boyd, 2003),
    so the outputs are pulled toward shared directions on top of the ridge
    shrinkage; ``I + W^T W`` is positive definite for every ``W``, so the
    model is smooth everywhere (its log-det is MatrixCalculus.org's too).
    """
    rng = rng_for("low-rank ridge")
    n, d, k = 6, 4, 2
    X, Y, W = var("X", (n, d)), var("Y", (n, k)), var("W", (d, k))
    lam, mu = 0.3, 0.7
    eye = einsql.const(np.eye(k))
    f = einsql.norm2(X @ W - Y) ** 2.0 + lam * einsql.norm2(W) ** 2.0
    f = f + mu * einsql.logdet(eye + W.T @ W)
    values = {"X": sparse(rng, n, d), "Y": rng.standard_normal((n, k)), "W": sparse(rng, d, k)}

    def numpy_f(v: Values) -> Any:
        w = v["W"]
        residual = v["X"] @ w - v["Y"]
        return (
            (residual**2).sum()
            + lam * (w**2).sum()
            + mu * np.linalg.slogdet(np.eye(k) + w.T @ w)[1]
        )

    return f, W, values, numpy_f


def gaussian_nll(wrt: str) -> tuple[einsql.Expr, einsql.Var, Values, Callable[[Values], Any]]:
    """``logdet(S) + tr(inv(S) X)``: the Gaussian negative log-likelihood (up to constants).

    ``S`` is the covariance (positive definite), ``X`` the scatter matrix of
    sparse centred samples, ``Z^T Z / m``.
    """
    rng = rng_for("gaussian nll")
    n, m = 3, 5
    S, X = var("S", (n, n)), var("X", (n, n))
    f = einsql.logdet(S) + einsql.trace(einsql.inv(S) @ X)
    B = rng.standard_normal((n, n))
    Z = sparse(rng, m, n)
    values = {"S": B @ B.T / n + np.eye(n), "X": Z.T @ Z / m}

    def numpy_f(v: Values) -> Any:
        return np.linalg.slogdet(v["S"])[1] + np.trace(np.linalg.solve(v["S"], v["X"]))

    return f, S if wrt == "S" else X, values, numpy_f


def three_layer_network() -> tuple[einsql.Expr, einsql.Var, Values, Callable[[Values], Any]]:
    """Two tanh hidden layers and a linear output, squared loss, over the middle weights."""
    rng = rng_for("three-layer network")
    n, d, h1, h2 = 5, 4, 3, 3
    X, y = var("X", (n, d)), var("y", (n,))
    W1, W2, w3 = var("W1", (h1, d)), var("W2", (h2, h1)), var("w3", (h2,))
    hidden = einsql.tanh(einsql.tanh(X @ W1.T) @ W2.T)
    f = einsql.sum((hidden @ w3 - y) ** 2.0)
    values = {
        "X": sparse(rng, n, d),
        "y": rng.standard_normal(n),
        "W1": rng.standard_normal((h1, d)),
        "W2": sparse(rng, h2, h1),
        "w3": rng.standard_normal(h2),
    }

    def numpy_f(v: Values) -> Any:
        out = np.tanh(np.tanh(v["X"] @ v["W1"].T) @ v["W2"].T) @ v["w3"]
        return ((out - v["y"]) ** 2).sum()

    return f, W2, values, numpy_f


MODELS = {
    "low-rank ridge": low_rank_ridge,
    "gaussian nll, covariance": lambda: gaussian_nll("S"),
    "gaussian nll, scatter": lambda: gaussian_nll("X"),
    "three-layer network": three_layer_network,
}


@pytest.mark.parametrize("name", MODELS)
def test_models_match_finite_differences(db: Database, name: str) -> None:
    check_model(*MODELS[name](), db)


@pytest.mark.spark
def test_gaussian_nll_on_every_backend_including_spark(db: Database) -> None:
    """One model on Spark as well (each Spark query costs about 0.2 s)."""
    f, S, values, numpy_f = gaussian_nll("S")
    gradient = einsql.evaluate(einsql.grad(f, S), values, con=db.con)
    assert_close(gradient, numeric_gradient(numpy_f, values, "S"), "gradient")


def test_closed_forms_of_the_models() -> None:
    """The gradients are the textbook ones (NumPy reference)."""
    f, W, values, _ = low_rank_ridge()
    w, x, y = values["W"], values["X"], values["Y"]
    expected = 2 * x.T @ (x @ w - y) + 0.6 * w + 1.4 * w @ np.linalg.inv(np.eye(2) + w.T @ w)
    np.testing.assert_allclose(
        einsql.evaluate(einsql.grad(f, W), values, backend="numpy"), expected
    )
    f, S, values, _ = gaussian_nll("S")
    inverse = np.linalg.inv(values["S"])
    expected = (inverse - inverse @ values["X"] @ inverse).T
    np.testing.assert_allclose(
        einsql.evaluate(einsql.grad(f, S), values, backend="numpy"), expected
    )


# --- singular matrices -------------------------------------------------------------------

SINGULAR = {
    "zero": np.zeros((2, 2)),
    "equal rows": np.array([[1.0, 2.0], [1.0, 2.0]]),
    "zero column after a swap": np.array([[0.0, 1.0, 0.0], [2.0, 3.0, 0.0], [1.0, 0.0, 0.0]]),
    "rank 2 of 3": np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
}


@pytest.mark.parametrize("name", SINGULAR)
def test_singular_matrices_as_numpy_on_every_backend(db: Database, name: str) -> None:
    """det 0, logdet -inf (NumPy's answers), inv and solve NaN everywhere (no raise in SQL)."""
    a = SINGULAR[name]
    n = len(a)
    A = var("A", (n, n))
    assert np.linalg.det(a) == 0.0 and np.linalg.slogdet(a)[1] == -np.inf
    for where in ({"backend": "numpy"}, {"con": db.con}):
        assert einsql.evaluate(einsql.det(A), {"A": a}, **where) == 0.0
        assert einsql.evaluate(einsql.logdet(A), {"A": a}, **where) == -np.inf
        assert np.isnan(einsql.evaluate(einsql.inv(A), {"A": a}, **where)).all()
        B = einsql.const(np.ones((n, 2)))
        assert np.isnan(einsql.evaluate(einsql.solve(A, B), {"A": a}, **where)).all()
    assert db.leftovers() == []


def test_the_empty_matrix_folds_as_numpy() -> None:
    A = var("A", (0, 0))
    assert einsql.det(A) is einsql.const(1.0) and einsql.logdet(A) is einsql.const(0.0)
    assert einsql.inv(A).shape == (0, 0) and einsql.solve(A, var("b", (0,))).shape == (0,)


# --- shapes, limits, printing --------------------------------------------------------------


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(einsql.ShapeError, match="det needs a square matrix"):
        einsql.det(var("A", (2, 3)))
    with pytest.raises(einsql.ShapeError, match="logdet needs a square matrix"):
        einsql.logdet(var("x", (3,)))
    with pytest.raises(einsql.ShapeError, match="inv needs a square matrix"):
        einsql.inv(var("T", (2, 2, 2)))
    with pytest.raises(einsql.ShapeError, match="vector or matrix of as many rows"):
        einsql.solve(var("A", (2, 2)), var("B", (3, 2)))
    with pytest.raises(einsql.ShapeError, match="vector or matrix of as many rows"):
        einsql.solve(var("A", (2, 2)), var("B", (2, 2, 2)))


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "sqlite"])
def test_the_size_limit_is_the_dialects_and_named(dialect: str) -> None:
    limit = load_dialect(dialect).max_solve_size
    assert limit == (32 if dialect == "sqlite" else 64)
    for build in (einsql.det, einsql.logdet, einsql.inv):
        einsql.to_sql(build(var("A", (limit, limit))), dialect=dialect)
        big = build(var("A", (limit + 1, limit + 1)))
        with pytest.raises(einsql.OptionError, match=f"at most {limit} rows.*not {limit + 1}"):
            einsql.to_sql(big, dialect=dialect)


def test_det_does_not_overflow_or_underflow_where_numpy_does_not(db: Database) -> None:
    """The pivots' logs are summed, not the pivots multiplied (a running product of 1e-400)."""
    A = var("A", (4, 4))
    for diagonal in ([1e-200, 1e-200, 1e200, 1e200], [1e200, 1e200, 1e-300, -1.0]):
        a = np.diag(diagonal)[[1, 0, 2, 3]]  # a row swap too
        for build, expected in ((einsql.det, np.linalg.det(a)), (einsql.logdet, None)):
            want = np.linalg.slogdet(a)[1] if expected is None else expected
            got = einsql.evaluate(build(A), {"A": a}, con=db.con)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    assert db.leftovers() == []


def test_a_matrix_past_the_limit_is_refused_before_anything_reaches_the_database(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The check runs before the connection is used: no table loaded, nothing left."""
    limit = load_dialect(db.name).max_solve_size
    A = var("A", (limit + 1, limit + 1))
    values = {"A": np.eye(limit + 1)}
    for build in (einsql.det, einsql.inv, lambda m: einsql.solve(m, np.ones(limit + 1))):
        with caplog.at_level("DEBUG", logger="einsql"), pytest.raises(einsql.OptionError) as error:
            einsql.evaluate(einsql.sum(build(A)), values, con=db.con)
        assert f"not {limit + 1}: " in str(error.value) and "(A" in str(error.value)
        assert not [r for r in caplog.records if getattr(r, "sql", None)]  # no statement ran
    assert db.leftovers() == []


@pytest.mark.parametrize("backend", ["numpy", "duckdb", "sqlite"])
def test_hvp_substitutes_through_solves_and_determinants(backend: str) -> None:
    """``hvp`` rebuilds the gradient with its direction put in: solve and det nodes too."""
    n = 3
    rng = rng_for("hvp")
    a, b, v = sparse(rng, n, n) + 4 * np.eye(n), rng.standard_normal(n), rng.standard_normal(n)
    x, A = var("x", (n,)), var("A", (n, n))
    shifted = A + einsql.diag(x)
    f = einsql.logdet(shifted) + einsql.det(shifted) + einsql.sum(einsql.solve(shifted, b) ** 2.0)
    values = {"A": a, "x": rng.standard_normal(n)}
    hv = einsql.evaluate(einsql.hvp(f, x, v), values, backend=backend)
    hessian = einsql.evaluate(einsql.hessian(f, x), values, backend="numpy")
    np.testing.assert_allclose(hv, hessian @ v, rtol=1e-9)


def test_chained_eliminations_at_sqlites_limit_run_staged() -> None:
    """Two chained eliminations in one statement would pass SQLite's depth limit of 1,000."""
    n = load_dialect("sqlite").max_solve_size
    rng = rng_for("chained")
    a = sparse(rng, n, n) + n * np.eye(n)
    A = var("A", (n, n))
    result = einsql.evaluate(einsql.logdet(einsql.inv(A)), {"A": a}, backend="sqlite")
    assert np.isclose(result, -np.linalg.slogdet(a)[1], rtol=1e-10)


def test_printing_latex_and_numpy_source() -> None:
    A, B = var("A", (3, 3)), var("B", (3, 2))
    assert str(einsql.inv(A)) == "inv(A)"
    assert str(einsql.solve(A, B)) == "solve(A, B)"
    assert str(einsql.det(A)) == "det(A)" and str(einsql.logdet(A)) == "logdet(A)"
    assert einsql.latex(einsql.inv(A)) == "A^{-1}"
    assert einsql.latex(einsql.logdet(A)) == r"\log\left|\det\left(A\right)\right|"
    assert str(einsql.grad(einsql.logdet(A), A)) == "(inv(A)[ab] -> [ba])"
    source = einsql.to_numpy(einsql.det(A), einsql.logdet(A), einsql.inv(A), einsql.solve(A, B))
    for call in ("np.linalg.det(A)", "np.linalg.slogdet(A)[1]", "np.linalg.inv(A)"):
        assert call in source
    assert "np.linalg.solve(A, B)" in source
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # einsql's own text
    a, b = np.diag([2.0, -1.0, 4.0]) + 0.1, np.arange(6.0).reshape(3, 2)
    det, logdet, inverse, solution = namespace["f"](a, b)
    assert np.isclose(det, np.linalg.det(a)) and np.isclose(logdet, np.log(abs(det)))
    np.testing.assert_allclose(inverse, np.linalg.inv(a))
    np.testing.assert_allclose(solution, np.linalg.solve(a, b))


def test_the_cli_reads_the_new_functions() -> None:
    from einsql.expression_text import parse_expression

    A, b = var("A", (2, 2)), var("b", (2,))
    f = parse_expression(
        "logdet(A) + det(A) + sum(inv(A) @ b) + sum(solve(A, b))", {"A": A, "b": b}
    )
    assert "logdet(A)" in str(f) and "inv(A)" in str(f) and "solve(A, b)" in str(f)


def test_a_long_derivative_runs_staged(db: Database) -> None:
    """The Hessian of a logdet of a 6 x 6 matrix: several eliminations, staged statements."""
    n = 6
    rng = rng_for("staged")
    a = sparse(rng, n, n) + 5 * np.eye(n)
    A = var("A", (n, n))
    hessian = einsql.hessian(einsql.logdet(A) + einsql.det(A), A)
    inverse, det = np.linalg.inv(a), np.linalg.det(a)
    # d2 logdet: -inv[l,i] inv[j,k]; d2 det: det (inv[j,i] inv[l,k] - inv[l,i] inv[j,k])
    expected = -np.einsum("li,jk->ijkl", inverse, inverse) + det * (
        np.einsum("ji,lk->ijkl", inverse, inverse) - np.einsum("li,jk->ijkl", inverse, inverse)
    )
    result = einsql.evaluate(hessian, {"A": a}, con=db.con, staged=True)
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-9 * abs(det))
    assert db.leftovers() == []


# --- properties --------------------------------------------------------------------------


def examples() -> int:
    return int(os.environ.get("EINSQL_INVERSE_EXAMPLES", 40))


SETTINGS = settings(
    max_examples=examples(),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

#: Examples checked per backend (printed with -s).
COUNTS: Counter[str] = Counter()


@st.composite
def systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned ``n x n`` matrix (``n`` up to 6) with zeros, and a right-hand side.

    The matrix is diagonally dominant with rows permuted, so elimination swaps
    rows and determinants take both signs; nonzero entries are at least 1e-2
    in magnitude (PostgreSQL raises where a product underflows). The right-hand
    side is a vector or a matrix of up to 3 columns, a third of it zeros.
    """
    n = draw(st.integers(1, 6))
    nonzero = st.builds(lambda x, s: x * s, st.floats(1e-2, 5.0), st.sampled_from([-1.0, 1.0]))
    entry = st.one_of(st.just(0.0), nonzero, nonzero)
    a = np.array(draw(st.lists(entry, min_size=n * n, max_size=n * n))).reshape(n, n)
    signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    np.fill_diagonal(a, signs * (np.abs(a).sum(axis=1) + draw(st.floats(0.5, 3.0))))
    a = a[list(draw(st.permutations(range(n))))]
    columns = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (n,) if columns is None else (n, columns)
    b = np.array(draw(st.lists(entry, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    return a, b.reshape(shape)


def cases(
    a: np.ndarray, b: np.ndarray
) -> dict[str, tuple[einsql.Expr, einsql.Expr, np.ndarray, np.ndarray]]:
    """For each function: the expression, its gradient and what NumPy says they are.

    A non-scalar function is summed against fixed weights ``c`` to give a
    gradient: ``sum(c * solve(A, B))`` has gradient ``-inv(A)^T c X^T`` in ``A``.
    """
    n = len(a)
    A, B = var("A", a.shape), var("B", b.shape)
    inverse = np.linalg.inv(a)
    solution = np.linalg.solve(a, b)
    c_b = np.linspace(-1.0, 1.0, b.size).reshape(b.shape)
    c_i = np.linspace(0.5, -1.5, n * n).reshape(n, n)
    sign, log_magnitude = np.linalg.slogdet(a)
    det = sign * np.exp(log_magnitude)
    weighted_solve = einsql.sum(einsql.const(c_b) * einsql.solve(A, B))
    weighted_inv = einsql.sum(einsql.const(c_i) * einsql.inv(A))
    return {
        "solve": (einsql.solve(A, B), einsql.grad(weighted_solve, A), solution,
                  -(inverse.T @ c_b.reshape(n, -1)) @ solution.reshape(n, -1).T),
        "solve rhs": (einsql.solve(A, B), einsql.grad(weighted_solve, B), solution,
                      inverse.T @ c_b),
        "inv": (einsql.inv(A), einsql.grad(weighted_inv, A), inverse,
                -inverse.T @ c_i @ inverse.T),
        "det": (einsql.det(A), einsql.grad(einsql.det(A), A), np.asarray(det), det * inverse.T),
        "logdet": (einsql.logdet(A), einsql.grad(einsql.logdet(A), A),
                   np.asarray(log_magnitude), inverse.T),
    }  # fmt: skip


def assert_near(result: Any, expected: np.ndarray, what: str) -> None:
    result = np.asarray(result)
    assert result.shape == expected.shape, what
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(result, expected, rtol=1e-8, atol=1e-8 * scale, err_msg=what)


def check_property(where: dict[str, Any], backend: str, data: st.DataObject) -> None:
    a, b = data.draw(systems())
    name = data.draw(st.sampled_from(["solve", "solve rhs", "inv", "det", "logdet"]))
    expr, gradient, value, expected_gradient = cases(a, b)[name]
    values = {"A": a, "B": b}
    event(name)
    event("vector right-hand side" if b.ndim == 1 else "matrix right-hand side")
    event("negative determinant" if np.linalg.det(a) < 0 else "positive determinant")
    assert_near(einsql.evaluate(expr, values, **where), value, f"{name} value")
    assert_near(einsql.evaluate(gradient, values, **where), expected_gradient, f"{name} gradient")
    COUNTS[backend] += 1


def test_values_and_gradients_match_numpy_on_the_reference() -> None:
    @SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check_property({"backend": "numpy"}, "numpy", data)

    run()
    print(f"\ninverse properties on numpy: {COUNTS['numpy']} examples")


def test_values_and_gradients_match_numpy_in_the_database(db: Database) -> None:
    @SETTINGS
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check_property({"con": db.con}, db.name, data)

    run()
    assert db.leftovers() == []
    print(f"\ninverse properties on {db.name}: {COUNTS[db.name]} examples")


@pytest.mark.spark
def test_one_property_example_on_every_backend_including_spark(db: Database) -> None:
    """A 3 x 3 system with a row swap and a matrix right-hand side, on Spark as well."""
    a = np.array([[0.0, 2.0, 0.5], [3.0, 0.1, 0.0], [0.2, 0.0, -4.0]])
    b = np.array([[1.0, 0.0], [0.0, -2.0], [0.5, 0.0]])
    for name in ("solve", "det"):
        expr, gradient, value, expected_gradient = cases(a, b)[name]
        assert_near(einsql.evaluate(expr, {"A": a, "B": b}, con=db.con), value, name)
        result = einsql.evaluate(gradient, {"A": a, "B": b}, con=db.con)
        assert_near(result, expected_gradient, f"{name} gradient")


def test_a_newton_step_past_the_limit_is_refused_before_the_connection_is_used(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """``minimize(method="newton")`` solves with the Hessian: its size is checked first."""
    d = load_dialect(db.name).max_solve_size + 1
    w, A = var("w", (d,)), var("A", (d, d))
    f = einsql.sum(w**2.0) + einsql.sum(einsql.exp(A @ w))
    with caplog.at_level("DEBUG", logger="einsql"), pytest.raises(einsql.OptionError) as error:
        einsql.minimize(f, w, {"A": 0.1 * np.eye(d)}, method="newton", steps=1, con=db.con)
    assert f"not {d}" in str(error.value)  # the Newton limit, or the dialect's (SQLite)
    assert not [r for r in caplog.records if getattr(r, "sql", None)]  # no statement ran
    assert db.leftovers() == []
