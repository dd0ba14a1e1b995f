"""Bad input raises an EinsqlError naming the problem, before any SQL runs."""

from __future__ import annotations

import re
import sqlite3
from fractions import Fraction

import numpy as np
import pytest

import einsql

A23, A33, A34 = np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 4))

CASES = [
    # (subscripts and operands, error class, words the message must contain)
    (("ij,jk->il", A23, A34), einsql.SubscriptError, "output label 'l' appears in no operand"),
    (("ij->j->i", A23), einsql.SubscriptError, "'->' only once"),
    (("ij->...ij", A23), einsql.SubscriptError, "ellipsis but no operand"),
    (("...ij->ij", np.ones((2, 2, 3))), einsql.SubscriptError, "add '...' to the output"),
    (("ij,jk->ik", A23), einsql.SubscriptError, "2 operand(s) but 1"),
    (("ij->ij", A23, A23), einsql.SubscriptError, "1 operand(s) but 2"),
    (("ijk->i", A23), einsql.ShapeError, "operand 0 has 2 dimension(s)"),
    (("i...jk->i", A23), einsql.ShapeError, "fewer than the 3"),
    (("ij,jk->ik", A23, np.ones((4, 2))), einsql.ShapeError, "label 'j' has size 3 in operand 0"),
    (("ii->i", A23), einsql.ShapeError, "operand 0 repeats label 'i'"),
    (("i.j->i", A23), einsql.SubscriptError, "invalid label '.'"),
    (("ij-k", A23), einsql.SubscriptError, "'-' may only appear"),
    (("i..j", A23), einsql.SubscriptError, "invalid label '.'"),
    (("i...j...", np.ones((2, 2, 2))), einsql.SubscriptError, "more than one ellipsis"),
    (("ij,jk->i,k", A23, A34), einsql.SubscriptError, "may not contain ','"),
    (("i\x00j", A23), einsql.SubscriptError, "invalid label"),
    (("i", np.array(["a", "b"])), einsql.OperandError, "non-numeric"),
    (("i", [[1.0, 2.0], [3.0]]), einsql.OperandError, "not a rectangular array"),
    (("i", np.array([None, 1])), einsql.ArgumentError, "holding a NoneType; einsum needs numbers"),
    (("i", np.array([Fraction(1, 3)])), einsql.OperandError, "holds no Fraction exactly"),
    (("i", np.array([2**70], dtype=object)), einsql.OperandError, "integers beyond int64"),
    ((A23, [0, -1]), einsql.SubscriptError, "outside [0, 52)"),
    ((A23, [0, 52]), einsql.SubscriptError, "outside [0, 52)"),
    ((A23, [0, "x"]), einsql.ArgumentError, "must be integers or Ellipsis"),
    ((), einsql.SubscriptError, "needs subscripts"),
    ((3, "ij"), einsql.ArgumentError, "must be a list of integers"),
    ((3, None), einsql.ArgumentError, "must be a list of integers"),
]


@pytest.mark.parametrize(("args", "error", "words"), CASES, ids=[c[2] for c in CASES])
def test_bad_input_is_named(args, error, words, db) -> None:
    with pytest.raises(error) as info:
        einsql.einsum(*args, con=db.con)
    assert words in str(info.value)
    assert isinstance(info.value, einsql.EinsqlError) and isinstance(info.value, ValueError)
    assert db.leftovers() == []


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"backend": "oracle"}, "unknown backend 'oracle'"),
        ({"optimize": "fastest"}, "unknown optimize strategy 'fastest'"),
        ({"optimize": [(0, 5)]}, "outside 0..1"),
        ({"optimize": [(0,)]}, "leaves 2 operands uncontracted"),
        ({"optimize": [(0, 0)]}, "distinct operand positions"),
        ({"optimize": ("greedy", -1)}, "memory limit that is a non-negative integer"),
        ({"casting": "blah"}, "casting must be one of"),
        ({"order": "W"}, "order must be one of"),
        ({"out": np.zeros((3, 3))}, "out= has shape (3, 3), but the result has shape (2, 4)"),
        ({"out": np.zeros((2, 4), dtype=np.int64)}, "cannot be cast to int64"),
        ({"dtype": "bad_data_type"}, "is not a NumPy dtype"),
        ({"dtype": np.int8}, "cannot be cast to int8 under casting='safe'"),
        ({"out": "sparse"}, "out= takes a NumPy array"),
    ],
)
def test_bad_options_are_named(options, words) -> None:
    """Each is an EinsqlError, and the built-in exception NumPy raises for the same mistake."""
    with pytest.raises(einsql.EinsqlError, match=re.escape(words)) as info:
        einsql.einsum("ij,jk->ik", A23, A34, **options)
    numpy_raises = TypeError if {"dtype", "out"} & set(options) else ValueError
    if "out" in options and isinstance(options["out"], np.ndarray) and words.startswith("out="):
        numpy_raises = ValueError  # a wrong shape
    assert isinstance(info.value, numpy_raises)


def test_an_invalid_explicit_path_is_a_runtime_error_as_in_numpy() -> None:
    with pytest.raises(RuntimeError, match="leaves 2 operands uncontracted") as info:
        einsql.einsum("ij,jk,kl->il", A23, A34, np.ones((4, 2)), optimize=["einsum_path", (0, 1)])
    assert isinstance(info.value, einsql.PathError) and isinstance(info.value, ValueError)


def test_unknown_dialect_lists_the_valid_ones() -> None:
    with pytest.raises(einsql.OptionError, match="use one of duckdb"):
        einsql.to_sql("i->", np.ones(2), dialect="oracle")


def test_table_shape_must_match_its_axes() -> None:
    with pytest.raises(einsql.OperandError, match="maps 1 column"):
        einsql.Table("t", (2, 2), axes=("a",))


def test_reference_reads_tables_only_through_a_connection() -> None:
    with pytest.raises(einsql.OptionError, match="reads table operands through con="):
        einsql.einsum("i->", einsql.Table("t", (2,)), backend="numpy")


def test_into_needs_a_database_backend(duck) -> None:
    with pytest.raises(einsql.OptionError, match="needs a database backend"):
        einsql.einsum("i->i", np.ones(2), backend="numpy", con=duck, into="t")


def test_a_backend_that_does_not_match_the_connection_is_named() -> None:
    con = sqlite3.connect(":memory:")
    with pytest.raises(einsql.OptionError, match="backend='duckdb' does not match a sqlite"):
        einsql.einsum("i->", np.ones(2), con=con, backend="duckdb")
    con.close()


@pytest.mark.parametrize(
    ("con", "words"),
    [
        (object(), r"no driver for connections of type builtins\.object"),
        ("mysql://localhost/db", r"cannot open 'mysql://localhost/db': use a URL starting with"),
        ("just a name", "cannot open 'just a name'"),
    ],
)
def test_unknown_connections_are_named(con, words) -> None:
    with pytest.raises(einsql.OptionError, match=words):
        einsql.einsum("i->", np.ones(2), con=con)
    with pytest.raises(einsql.OptionError, match=words):
        einsql.einsum("i->", einsql.Table("t", (2,)), backend="numpy", con=con)


def test_postgres_needs_a_connection() -> None:
    with pytest.raises(einsql.OptionError, match="postgres backend needs con="):
        einsql.einsum("i->", np.ones(2), backend="postgres")


def test_text_dialects_do_not_run() -> None:
    assert "SUM" in einsql.to_sql("i->", np.ones(2), dialect="trino")
    with pytest.raises(einsql.OptionError, match="unknown backend 'trino'"):
        einsql.einsum("i->", np.ones(2), backend="trino")


def test_a_dense_result_over_the_limit_is_refused_before_the_database(db, monkeypatch) -> None:
    monkeypatch.setattr(einsql.results, "MAX_DENSE_BYTES", 8 * 100)
    a = einsql.Table("no_such_table", (20, 20))  # never read: the check comes first
    with pytest.raises(einsql.ResultSizeError, match=r'shape \(20, 20\).*out="coo"'):
        einsql.einsum("ij,jk->ik", a, a, con=db.con)
    x = einsql.var("x", (20, 20))
    with pytest.raises(einsql.ResultSizeError, match='into="name"'):
        einsql.evaluate(x * 2.0, {"x": a}, con=db.con)
    assert db.leftovers() == []


def test_the_limit_leaves_coo_and_table_results_alone(db, monkeypatch) -> None:
    monkeypatch.setattr(einsql.results, "MAX_DENSE_BYTES", 8 * 100)
    a = np.arange(400.0).reshape(20, 20)
    coo = einsql.einsum("ij,jk->ik", a, a, con=db.con, out="coo")
    assert np.allclose(coo.todense(), a @ a)
    stored = einsql.einsum("ij,jk->ik", a, a, con=db.con, into="limit_product")
    assert np.allclose(einsql.einsum("ij->", stored, con=db.con), (a @ a).sum())
    db.drop("limit_product")
