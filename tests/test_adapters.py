"""Dialect adapters: loaded by name as einsql.dialects.NAME, their doctests run from there."""

from __future__ import annotations

import doctest
import importlib

import pytest

from einsql.dialect import DIALECTS, Dialect, load_dialect


@pytest.mark.parametrize("name", DIALECTS)
def test_adapter_doctests(name) -> None:
    module = importlib.import_module(f"einsql.dialects.{name}")
    failed, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0


@pytest.mark.parametrize("name", DIALECTS)
def test_adapter_flags_are_documented_data(name) -> None:
    dialect = load_dialect(name)
    assert isinstance(dialect, Dialect) and dialect.name == name
    assert load_dialect(name) is dialect
    assert dialect.sqlglot_dialect
