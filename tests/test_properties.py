"""Property-based tests: generated equations and data against numpy.einsum."""

from __future__ import annotations

import numpy as np
from conftest import assert_matches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import einsql

LABELS = "abcde"
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def einsum_cases(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    sizes = {c: draw(st.sampled_from([1, 2, 3, 3, 4])) for c in LABELS}
    terms = draw(st.lists(st.text(LABELS, max_size=3), min_size=1, max_size=4))
    used = sorted(set("".join(terms)))
    equation = ",".join(terms)
    if draw(st.booleans()):
        kept = draw(st.permutations(used))[: draw(st.integers(0, len(used)))]
        equation += "->" + "".join(kept)
    dtype = draw(st.sampled_from(["float64", "int64", "bool"]))
    arrays = [draw(_array(dtype, [_axis(draw, sizes[c]) for c in term])) for term in terms]
    return equation, arrays


def _axis(draw: st.DrawFn, size: int) -> int:
    return 1 if draw(st.integers(0, 9)) == 0 else size  # sometimes broadcast


def _array(dtype: str, shape: list[int]) -> st.SearchStrategy[np.ndarray]:
    if dtype == "float64":
        elements = st.one_of(st.just(0.0), st.floats(-5, 5, allow_nan=False, width=32))
    elif dtype == "int64":
        elements = st.one_of(st.just(0), st.integers(-5, 5))
    else:
        elements = st.booleans()
    return hnp.arrays(dtype, tuple(shape), elements=elements)


def _consistent(equation: str, arrays: list[np.ndarray]) -> bool:
    try:
        np.einsum(equation, *arrays)
    except ValueError:
        return False
    return True


@SETTINGS
@given(einsum_cases())
def test_generated_einsums_match_numpy(db, case) -> None:
    equation, arrays = case
    if not _consistent(equation, arrays):  # e.g. a diagonal over axes of different sizes
        try:
            einsql.einsum(equation, *arrays, con=db.con)
        except einsql.EinsqlError:
            return
        raise AssertionError(f"numpy rejects {equation} but einsql accepted it")
    assert_matches(einsql.einsum(equation, *arrays, con=db.con), np.einsum(equation, *arrays))


@SETTINGS
@given(einsum_cases())
def test_to_sql_text_runs_pasted_and_matches(db, case) -> None:
    equation, arrays = case
    if not _consistent(equation, arrays):
        return
    expected = np.asarray(np.einsum(equation, *arrays))
    rows = db.rows(einsql.to_sql(equation, *arrays, dialect=db.name).rstrip(";"))
    dense = np.zeros(expected.shape, dtype=expected.dtype)
    for row in rows:
        dense[tuple(row[:-1])] = row[-1]
    assert_matches(dense, expected)
