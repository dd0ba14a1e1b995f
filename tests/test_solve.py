"""Linear solves in SQL (Gauss-Jordan with partial pivoting) against np.linalg.solve.

The solve node is what a Newton step uses: each test runs on DuckDB,
PostgreSQL and SQLite, and where it says so on the NumPy reference too.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from conftest import Database
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import einsql
from einsql.expr import var

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def solved(A: np.ndarray, b: np.ndarray, db: Database | None) -> np.ndarray:
    """``solve(A, b)`` through einsql: in ``db``, or on the NumPy reference without one."""
    n = len(b)
    expr = einsql.solve(var("A", (n, n)), var("b", (n,)))
    values = {"A": A, "b": b}
    if db is None:
        return np.asarray(einsql.evaluate(expr, values, backend="numpy"))
    return np.asarray(einsql.evaluate(expr, values, con=db.con))


def assert_solves(A: Any, b: Any, db: Database, rtol: float = 1e-12) -> None:
    """The solution in ``db`` is NumPy's, to ``rtol`` of its largest entry."""
    A, b = np.asarray(A, dtype=float), np.asarray(b, dtype=float)
    expected = np.linalg.solve(A, b)
    result = solved(A, b, db)
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * scale)


# --- Newton steps ----------------------------------------------------------------------


def quadratic(Q: np.ndarray) -> tuple[einsql.Expr, einsql.Expr]:
    """``f(w) = 1/2 w.Q w + b.w`` over ``w``, with ``Q`` and ``b`` variables."""
    n = len(Q)
    w, Qv, bv = var("w", (n,)), var("Q", (n, n)), var("b", (n,))
    return 0.5 * einsql.einsum("i,ij,j->", w, Qv, w) + einsql.einsum("i,i->", bv, w), w


def newton_step(Q: np.ndarray, b: np.ndarray, **where: Any) -> np.ndarray:
    """One Newton step from zero on ``quadratic(Q)``."""
    f, w = quadratic(Q)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", einsql.LoopWarning)
        result = einsql.minimize(f, w, {"Q": Q, "b": b}, method="newton", steps=1, **where)
    return result.x


def test_newton_step_with_a_zero_pivot_matches_numpy(db: Database) -> None:
    Q, b = np.array([[0.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    expected = -np.linalg.solve(Q, b)
    np.testing.assert_allclose(expected, [3.0, -1.0])
    np.testing.assert_allclose(newton_step(Q, b, backend="numpy"), expected, rtol=1e-12)
    np.testing.assert_allclose(newton_step(Q, b, con=db.con), expected, rtol=1e-12)


def test_newton_step_with_a_singular_hessian_is_a_clear_error(db: Database) -> None:
    Q, b = np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([1.0, -1.0])
    with pytest.raises(einsql.OperandError, match="singular"):
        newton_step(Q, b, backend="numpy")
    with pytest.raises(einsql.OperandError, match="singular"):
        newton_step(Q, b, con=db.con)
    assert db.leftovers() == []


# --- pivoting --------------------------------------------------------------------------


def permutation_matrix(order: tuple[int, ...]) -> np.ndarray:
    return np.eye(len(order))[list(order)]


PERMUTATIONS = [
    (0,),
    (1, 0),
    (2, 0, 1),
    (3, 2, 1, 0),
    (1, 3, 0, 4, 2),
    (5, 4, 0, 1, 3, 2),
]


@pytest.mark.parametrize("order", PERMUTATIONS, ids=str)
def test_permutation_matrices(db: Database, order: tuple[int, ...]) -> None:
    n = len(order)
    P = permutation_matrix(order)
    b = np.arange(1.0, n + 1.0)
    assert_solves(P, b, db, rtol=0.0)  # every pivot is 1: exact
    signs = np.where(np.arange(n) % 2 == 0, 2.0, -0.5)
    assert_solves(P * signs[:, None], b, db)


def test_every_permutation_of_four_rows(db: Database) -> None:
    base = np.array(
        [[4.0, 1.0, 0.0, 2.0], [0.0, 3.0, 1.0, 0.0], [1.0, 0.0, 5.0, 1.0], [0.0, 2.0, 0.0, 6.0]]
    )
    b = np.array([1.0, -2.0, 3.0, 0.5])
    for order in itertools.permutations(range(4)):
        assert_solves(base[list(order)], b, db)


def gauss_jordan(A: Any, b: Any, last_of_ties: bool = False) -> tuple[np.ndarray, list[int]]:
    """The SQL's elimination in NumPy, operation for operation; and the steps that swap rows.

    The pivot row is the first of the largest magnitudes (the last with
    ``last_of_ties``); a zero pivot makes everything NaN.
    """
    M = np.column_stack([np.asarray(A, dtype=float), np.asarray(b, dtype=float)])
    n, steps = len(M), []
    for k in range(n):
        magnitudes = np.abs(M[k:, k])
        best = np.flatnonzero(magnitudes == magnitudes.max())
        p = k + int(best[-1] if last_of_ties else best[0])
        pivot = M[p, k]
        if pivot == 0.0:
            return np.full(n, np.nan), steps
        scaled = M[p] / pivot
        M = M - np.outer(M[:, k], scaled)
        M[p] = scaled
        if p != k:
            M[[k, p]] = M[[p, k]]
            steps.append(k)
    return M[:, n], steps


def swap_steps(A: Any) -> list[int]:
    """The steps at which Gauss-Jordan with partial pivoting swaps rows."""
    return gauss_jordan(A, np.zeros(len(A)))[1]


#: Systems that need row swaps (or ties), with the steps that swap.
SWAPPING: dict[str, tuple[list[list[float]], list[int]]] = {
    "anti-diagonal": ([[0.0, 0.0, 3.0], [0.0, -2.0, 0.0], [5.0, 0.0, 0.0]], [0]),
    "zero pivot after step 0": ([[1.0, 2.0, 3.0], [2.0, 4.0, 7.0], [1.0, 3.0, 1.0]], [0, 1]),
    "tiny pivot": ([[1e-20, 1.0], [1.0, 1.0]], [0]),
    "larger entry below": ([[1.0, 5.0, 2.0], [3.0, 1.0, 0.0], [-5.0, 2.0, 1.0]], [0, 1]),
    "three swaps": (
        [[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.1, 1.0], [0.0, 7.0, 1.0, 0.0], [3.0, 0.0, 0.0, 1.0]],
        [0, 1, 2],
    ),
    "ties": ([[1.0, 1.0, 0.0], [-1.0, 1.0, 1.0], [1.0, 0.0, 1.0]], []),
}


@pytest.mark.parametrize("name", SWAPPING)
def test_matrices_needing_row_swaps(db: Database, name: str) -> None:
    rows, swaps = SWAPPING[name]
    A = np.array(rows)
    assert swap_steps(A) == swaps
    b = np.linspace(-1.0, 2.0, len(A))
    assert_solves(A, b, db)
    np.testing.assert_allclose(solved(A, b, None), np.linalg.solve(A, b), rtol=1e-12)


def test_ties_take_the_lowest_row_bit_for_bit(db: Database) -> None:
    """Every entry of the first column has magnitude 1: the first row is the pivot.

    Taking another changes the rounding, so the result is compared bit for bit
    with the same elimination in NumPy (IEEE doubles in every database).
    """
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    A[:, 0] = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0]
    b = rng.normal(size=6)
    expected, _ = gauss_jordan(A, b)
    assert not np.array_equal(expected, gauss_jordan(A, b, last_of_ties=True)[0])
    np.testing.assert_array_equal(solved(A, b, db), expected)


def test_a_tiny_pivot_is_not_taken(db: Database) -> None:
    """Without pivoting, ``1 - 1e20`` loses the first unknown entirely."""
    result = solved(np.array([[1e-20, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0]), db)
    np.testing.assert_allclose(result, [1.0, 1.0], rtol=1e-15)


def test_missing_rows_of_a_sparse_system_are_zeros(db: Database) -> None:
    rows = np.array([0, 1, 2])
    cols = np.array([2, 0, 1])
    values = np.array([2.0, -4.0, 0.5])
    A = scipy.sparse.coo_matrix((values, (rows, cols)), shape=(3, 3))
    b = np.array([1.0, 2.0, 3.0])
    n = 3
    expr = einsql.solve(var("A", (n, n)), var("b", (n,)))
    result = einsql.evaluate(expr, {"A": A, "b": b}, con=db.con)
    np.testing.assert_allclose(result, np.linalg.solve(A.toarray(), b), rtol=1e-15)


# --- singular systems ------------------------------------------------------------------


SINGULAR = {
    "zero 1x1": [[0.0]],
    "zero matrix": [[0.0, 0.0], [0.0, 0.0]],
    "equal rows": [[1.0, 2.0], [1.0, 2.0]],
    "proportional rows": [[1.0, 2.0], [2.0, 4.0]],
    "zero column": [[1.0, 0.0, 2.0], [3.0, 0.0, 1.0], [0.0, 0.0, 5.0]],
    "zero row": [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [4.0, 0.0, 1.0]],
    "rank 2 of 4": [
        [1.0, 0.0, 1.0, 0.0],
        [0.0, 1.0, 0.0, 1.0],
        [2.0, 0.0, 2.0, 0.0],
        [0.0, 3.0, 0.0, 3.0],
    ],
}


@pytest.mark.parametrize("name", SINGULAR)
def test_a_singular_matrix_gives_nan_everywhere(db: Database, name: str) -> None:
    A = np.array(SINGULAR[name])
    b = np.ones(len(A))
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        np.linalg.solve(A, b)
    assert np.isnan(solved(A, b, None)).all()
    assert np.isnan(solved(A, b, db)).all()


def test_a_singular_system_with_solutions_is_still_singular(db: Database) -> None:
    """``b`` in the column space: NumPy still refuses, and so the result is NaN."""
    A = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert np.isnan(solved(A, np.array([2.0, 2.0]), db)).all()


# --- properties ------------------------------------------------------------------------


@st.composite
def systems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Well-conditioned ``n x n`` systems, ``n`` up to 8, with zeros (zero diagonals too).

    Nonzero entries are at least 1e-2 in magnitude: PostgreSQL raises where a
    product underflows (5e-324 * 0.5), a limit of its own, not of the solve.
    """
    n = draw(st.integers(1, 8))
    magnitude = st.floats(1e-2, 10.0)
    nonzero = st.builds(lambda x, s: x * s, magnitude, st.sampled_from([-1, 1]))
    entry = st.one_of(st.just(0.0), nonzero, nonzero)  # about a third zeros
    A = np.array(draw(st.lists(entry, min_size=n * n, max_size=n * n))).reshape(n, n)
    if draw(st.booleans()):  # a permutation-like part keeps sparse systems solvable
        order = draw(st.permutations(range(n)))
        A[np.arange(n), order] += draw(st.sampled_from([-3.0, 3.0]))
    if draw(st.booleans()):
        np.fill_diagonal(A, 0.0)
    b = np.array(draw(st.lists(entry, min_size=n, max_size=n)))
    assume(np.isfinite(np.linalg.cond(A)) and np.linalg.cond(A) < 1e6)
    return A, b


@SETTINGS
@given(systems())
def test_solves_match_numpy(db: Database, system: tuple[np.ndarray, np.ndarray]) -> None:
    A, b = system
    event("row swaps" if swap_steps(A) else "no row swap")
    event("a zero on the diagonal" if (np.diag(A) == 0).any() else "a full diagonal")
    assert_solves(A, b, db, rtol=1e-8)
