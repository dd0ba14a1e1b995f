"""Every equation of the core list, every dtype, several densities, on each backend."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from conftest import DENSITIES, DTYPES, assert_matches, oracle, random_operand
from equations import EQUATIONS

import einsql


def test_the_list_is_long_enough() -> None:
    assert len(EQUATIONS) >= 150
    assert len({(eq, str(shapes)) for eq, shapes in EQUATIONS}) == len(EQUATIONS)


@pytest.mark.spark
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_equation(equation, shapes, dtype, db) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{equation}{shapes}{dtype}".encode()))
    for density in db.sample(DENSITIES, f"{equation}{shapes}{dtype}"):
        arrays = [random_operand(shape, dtype, density, rng) for shape in shapes]
        result = einsql.einsum(equation, *arrays, con=db.con)
        assert_matches(result, oracle(equation, arrays))
    assert db.leftovers() == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_equation_on_the_reference(equation, shapes, dtype) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{equation}{shapes}{dtype}".encode()))
    for density in DENSITIES:
        arrays = [random_operand(shape, dtype, density, rng) for shape in shapes]
        result = einsql.einsum(equation, *arrays, backend="numpy")
        assert_matches(result, oracle(equation, arrays))


@pytest.mark.spark
@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS[::7], ids=[e for e, _ in EQUATIONS[::7]])
def test_mixed_dtypes_follow_numpy_promotion(equation, shapes, db) -> None:
    rng = np.random.default_rng(7)
    kinds = ["bool", "int64", "float32", "float64", "complex128"]
    arrays = [random_operand(s, kinds[k % len(kinds)], 0.5, rng) for k, s in enumerate(shapes)]
    assert_matches(einsql.einsum(equation, *arrays, con=db.con), oracle(equation, arrays))


EXTRA_DTYPES = ["int32", "uint8", "float16", "complex64", "int8"]


@pytest.mark.spark
@pytest.mark.parametrize("dtype", EXTRA_DTYPES)
@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS[::5], ids=[e for e, _ in EQUATIONS[::5]])
def test_other_dtypes_return_numpys_dtype(equation, shapes, dtype, db) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{equation}{dtype}".encode()))
    arrays = [random_operand(shape, dtype, 0.5, rng) for shape in shapes]
    result = np.asarray(einsql.einsum(equation, *arrays, con=db.con))
    expected = np.asarray(oracle(equation, arrays))
    assert result.dtype == expected.dtype
    if dtype == "float16":  # einsql sums in double precision, NumPy in half
        np.testing.assert_allclose(result, expected, rtol=1e-2, atol=1e-2)
    else:
        assert_matches(result, expected)
