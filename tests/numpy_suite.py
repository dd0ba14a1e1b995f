"""A pytest plugin: NumPy's own einsum tests with ``einsql.einsum`` in place of ``numpy.einsum``.

NumPy ships its einsum tests in every wheel (``numpy/_core/tests/test_einsum.py``).
This plugin replaces ``numpy.einsum`` and ``numpy.einsum_path`` with einsql's
before that module is imported, so every call in it runs in a database, and
declares the tests that check NumPy's internals rather than einsum's results
as expected failures. From the repository root::

    python -m pytest -p tests.numpy_suite --pyargs numpy._core.tests.test_einsum -o addopts=

``EINSQL_NUMPY_SUITE_CON`` picks the database: unset, DuckDB in memory
(``con=None``); else a URL (``postgresql://...``, ``sqlite:///...``), opened
once for the run. A declared test must fail, and fail for its reason: the
text its entry names must be in the failure, or it counts as failed; one that
passes counts as failed too (the declaration is stale).
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest

import einsql
from einsql.drivers import backend_of

#: Tests that check NumPy's internals, not einsum's results: name -> (reason, text in failure).
DECLARED: dict[str, tuple[str, str]] = {
    "test_einsum_errors": (
        "einsql's extension: a label repeated in the output puts values on the diagonal "
        "('i->ii'); NumPy's test expects 'ij->jij' to raise",
        r"ij->jij",
    ),
    "test_einsum_views": (
        "NumPy returns a view of its operand for pure re-indexing (transposes, diagonals); "
        "einsql computes in the database and returns a new array",
        r"b\.base is a\.base",
    ),
    "test_einsum_object_errors": (
        "object arrays of objects with their own arithmetic: NumPy calls their methods; "
        "einsql computes in a database and refuses anything but Python numbers",
        r"object array holding a DestructoBox",
    ),
    "test_object_loop": (
        "object arrays of objects with their own arithmetic (see test_einsum_object_errors)",
        r"object array holding a Mult",
    ),
    "test_einsum_0d_out": (
        "NumPy's optimized path writes a float64 result into an int64 0-d out= unchecked "
        "(its unoptimized path raises TypeError under casting='safe'); einsql applies "
        "casting='safe' to out= always",
        r"cannot be cast to int64 under casting='safe'",
    ),
    "test_output_order": (
        "order='K' asks for the layout NumPy's iterator derives from the operands' strides; "
        "einsql builds the result from the database's rows, in C order",
        r"c_contiguous is False",
    ),
    "test_long_paths": (
        "checks the path NumPy's own 'optimal' search picks; einsql's strategies are "
        "opt_einsum's, which pick another path",
        r"optimize='optimal'",
    ),
    "test_edge_paths": (
        "NumPy's default memory limit (the largest operand) makes its search contract the "
        "rest at once; einsql's strategies have no memory limit unless one is given",
        r"\(0, 1, 2, 3, 4, 5\)",
    ),
    "test_einsum_chunking_precision": (
        "NumPy sums pairwise inside its buffered inner loop; the databases' SUM adds in "
        "sequence (1e6 equal terms: relative error 1.6e-12)",
        r"decimal=15",
    ),
}

#: Tests a database cannot pass, by backend: name -> (reason, text in failure).
DECLARED_ON: dict[str, dict[str, tuple[str, str]]] = {
    "sqlite": {
        "test_einsum_broadcast": (
            "int64 sums past 2**63: NumPy wraps around, SQLite's integers are 64-bit, so "
            "einsql refuses with ExactnessError (DuckDB and PostgreSQL return the exact sum)",
            r"ExactnessError: step t\d+ .* can reach",
        ),
    },
}

_session: Any = None
_declared: dict[str, tuple[str, str]] = dict(DECLARED)


def pytest_configure(config: pytest.Config) -> None:
    """Put einsql in NumPy's place before the test module is imported."""
    global _session
    url = os.environ.get("EINSQL_NUMPY_SUITE_CON")
    _session = einsql.connect(url) if url else None
    _declared.update(DECLARED_ON.get(backend_of(url), {}))
    run = _session.einsum if _session is not None else einsql.einsum
    np.einsum = lambda *args, **kwargs: run(*args, **kwargs)
    np.einsum_path = lambda *args, **kwargs: einsql.einsum_path(*args, **kwargs)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the database the run opened."""
    if _session is not None:
        _session.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    """A declared test that fails for its reason is an expected failure; else it fails."""
    outcome = yield
    report = outcome.get_result()
    declared = _declared.get(item.name.split("[")[0])
    if declared is None or report.when != "call":
        return
    reason, text = declared
    if report.passed:
        report.outcome = "failed"
        report.longrepr = f"declared as an expected failure ({reason}), but it passed"
    elif report.failed and re.search(text, str(report.longrepr)):
        report.outcome = "skipped"
        report.wasxfail = reason
    elif report.failed:
        note = f"it failed, but not for its declared reason: {reason}"
        report.longrepr = f"{report.longrepr}\n\n{note}"
