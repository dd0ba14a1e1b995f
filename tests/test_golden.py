"""Golden SQL: the exact text einsql writes for a handful of equations, per dialect.

A change in generated SQL shows up here in review. To accept a change on
purpose, run ``EINSQL_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``
and commit the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import einsql
from einsql.dialect import DIALECTS, TEXT_DIALECTS

GOLDEN = Path(__file__).parent / "golden"
T = einsql.Table

CASES = {
    "matmul": ("ij,jk->ik", T("a", (3, 4)), T("b", (4, 5))),
    "trace": ("ii->", T("a", (4, 4))),
    "mttkrp": ("ijk,jr,kr->ir", T("x", (5, 6, 7)), T("b", (6, 2)), T("c", (7, 2))),
    "hyperedge": ("ij,ik,il->ijkl", T("a", (3, 2)), T("b", (3, 4)), T("c", (3, 2))),
    "permute_and_diagonal_out": ("ij->jii", T("a", (3, 3))),
    "mapped_columns": (
        "ij,j->i",
        T("edges", (9, 9), axes=("src", "dst"), values=("weight",)),
        T("rank", (9,)),
    ),
    "complex_and_int": ("ij,j->i", T("z", (2, 3), dtype="complex128"), T("n", (3,), dtype="int64")),
    "inline_values": ("ij,j->i", np.array([[0.0, 1.5], [np.inf, 0.0]]), np.array([2, 0])),
    "scalar_output": ("i,i->", T("x", (3,)), T("y", (3,))),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_sql(name, dialect) -> None:
    sql = einsql.to_sql(*CASES[name], dialect=dialect, optimize="optimal") + "\n"
    path = GOLDEN / dialect / f"{name}.sql"
    if os.environ.get("EINSQL_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_staged_golden_sql(dialect) -> None:
    sql = einsql.to_sql(*CASES["mttkrp"], optimize="optimal", staged=True, dialect=dialect) + "\n"
    path = GOLDEN / dialect / "mttkrp_staged.sql"
    if os.environ.get("EINSQL_UPDATE_GOLDEN"):
        path.write_text(sql, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == sql


@pytest.mark.parametrize("dialect", TEXT_DIALECTS)
def test_text_dialect_golden_sql(dialect) -> None:
    """Written for sqlglot's other dialects; not executed by the test suite."""
    sql = einsql.to_sql(*CASES["mttkrp"], optimize="optimal", dialect=dialect) + "\n"
    path = GOLDEN / "text" / f"{dialect}.sql"
    if os.environ.get("EINSQL_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == sql
    assert "MATERIALIZED" not in sql


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_is_deterministic(name) -> None:
    assert einsql.to_sql(*CASES[name]) == einsql.to_sql(*CASES[name])
