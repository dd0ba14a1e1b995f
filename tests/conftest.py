"""Shared fixtures: random sparse operands, the NumPy oracle, result comparison."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import opt_einsum
import pytest

DTYPES = ["float64", "float32", "int64", "bool", "complex128"]
DENSITIES = [0.0, 0.3, 1.0]


def random_operand(
    shape: Sequence[int], dtype: str, density: float, rng: np.random.Generator
) -> np.ndarray:
    """A random array with about ``density`` of its entries nonzero."""
    mask = rng.random(shape) < density
    if dtype == "bool":
        return mask
    if dtype.startswith("int"):
        values = rng.integers(1, 4, size=shape) * rng.choice([-1, 1], size=shape)
    elif dtype.startswith("complex"):
        values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape)
    return np.where(mask, values, 0).astype(dtype)


def oracle(equation: str, arrays: Sequence[np.ndarray]) -> Any:
    """What NumPy says (opt_einsum where NumPy rejects the labels).

    A label repeated in the output, einsql's extension, is computed once and
    then placed on the diagonal.
    """
    if "->" in equation:
        head, output = equation.split("->")
        output = "".join(output.split())
        distinct = "".join(dict.fromkeys(output))
        if distinct != output and "..." not in output:
            inner = np.asarray(oracle(f"{head}->{distinct}", arrays))
            sizes = dict(zip(distinct, inner.shape))
            full = np.zeros([sizes[c] for c in output], dtype=inner.dtype)
            np.einsum(f"{output}->{distinct}", full)[...] = inner
            return full
    try:
        return np.einsum(equation, *arrays)
    except ValueError:
        return opt_einsum.contract(equation, *arrays)


def assert_matches(result: Any, expected: Any) -> None:
    """Equal shape and dtype; exact for integers and bools, close for floats."""
    result, expected = np.asarray(result), np.asarray(expected)
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(result, expected)
    else:
        rtol = 1e-9 if expected.dtype in (np.float64, np.complex128) else 1e-4
        scale = float(np.nanmax(np.abs(expected), initial=1.0))
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * scale)


@pytest.fixture(scope="session")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB connection shared by the suite (einsql must leave it clean)."""
    con = duckdb.connect()
    yield con
    con.close()


def leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names einsql created in ``con`` and did not remove."""
    rows = con.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%einsql%'"
    ).fetchall()
    return [r[0] for r in rows]
