"""NumPy's own einsum test suite passes with ``einsql.einsum`` in place of ``numpy.einsum``.

The suite is read from the installed NumPy at test time (never copied here) and
run in a child pytest with the plugin ``tests/numpy_suite.py``, on DuckDB. The
same command runs it on PostgreSQL or SQLite (see the README); the tests the
plugin declares (NumPy internals, einsql's extensions) must fail for their
stated reason, everything else must pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.numpy_suite import DECLARED

ROOT = Path(__file__).resolve().parent.parent


def run_suite(con: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run NumPy's einsum tests with einsql in NumPy's place; ``con`` a database URL."""
    env = {k: v for k, v in os.environ.items() if k != "EINSQL_NUMPY_SUITE_CON"}
    if con is not None:
        env["EINSQL_NUMPY_SUITE_CON"] = con
    command = [
        sys.executable, "-m", "pytest", "-p", "tests.numpy_suite",
        "--pyargs", "numpy._core.tests.test_einsum",
        "-o", "addopts=", "-p", "no:cacheprovider", "-q", "-rfx",
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )


def counts(output: str) -> dict[str, int]:
    """The outcome counts of pytest's summary line (``66 passed, 12 xfailed in ...``)."""
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


@pytest.mark.slow
def test_numpy_einsum_suite_on_duckdb() -> None:
    result = run_suite()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    found = counts(result.stdout)
    print(f"\nNumPy's test_einsum.py on DuckDB: {found}")
    assert set(found) == {"passed", "xfailed"}, found
    declared = {name for name in DECLARED if name in result.stdout}
    assert declared == set(DECLARED), f"declared but not seen: {set(DECLARED) - declared}"
    assert found["passed"] >= 60, found
