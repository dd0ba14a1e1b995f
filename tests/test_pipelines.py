"""einsql in a data pipeline: frames and files in, frames out, tables by name, replaced results.

Every value is checked against NumPy on the dense arrays the frames describe.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import fuzz_examples

import einsql

#: Each kind of source, made from a dict of columns (files are written to tmp_path).
SOURCES = ("pandas", "polars", "arrow", "batches", "parquet", "csv", "feather")


def make_source(kind: str, columns: dict[str, np.ndarray], tmp_path: Path) -> Any:
    table = pa.table(columns)
    if kind == "pandas":
        return pd.DataFrame(columns)
    if kind == "polars":
        return pl.DataFrame(columns)
    if kind == "arrow":
        return table
    if kind == "batches":
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
    path = tmp_path / f"source.{kind}"
    {"parquet": pq.write_table, "csv": pcsv.write_csv, "feather": feather.write_feather}[kind](
        table, path
    )
    return str(path)


def triples(dense: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The nonzeros of ``dense`` as columns ``names`` (axes first, then the value)."""
    coords = np.argwhere(dense)
    columns = {name: coords[:, k] for k, name in enumerate(names[:-1])}
    columns[names[-1]] = dense[dense != 0]
    return columns


@pytest.mark.parametrize("kind", SOURCES)
def test_frame_and_file_operands_match_numpy(db, kind, tmp_path) -> None:
    rng = np.random.default_rng(SOURCES.index(kind))
    a = rng.integers(-3, 4, (5, 4)) * (rng.random((5, 4)) < 0.5)
    b = rng.random((4, 3)) * (rng.random((4, 3)) < 0.6)
    left = einsql.coo(
        make_source(kind, triples(a, ("row", "col", "w")), tmp_path),
        axes=["row", "col"],
        values="w",
        shape=a.shape,
    )
    right = einsql.coo(make_source("arrow", triples(b, ("i0", "i1", "val")), tmp_path))
    result = einsql.einsum("ij,jk->ik", left, right, con=db.con)
    held = int(np.argwhere(b)[:, 1].max()) + 1  # k is sized by the indices b holds
    assert result.shape == (5, held)  # and j by a's shape, whatever b holds
    np.testing.assert_allclose(result, a @ b[:, :held])
    assert db.leftovers() == []


def test_shapes_are_inferred_per_label_across_operands(db) -> None:
    """Two frames sharing a label agree on its size (the CLI's old 28 against 30)."""
    a = einsql.coo(pa.table({"i": [0, 3], "k": [27, 1], "v": [1.5, 2.0]}), ["i", "k"], "v")
    b = einsql.coo(pa.table({"k": [29, 1], "j": [0, 4], "v": [3.0, 5.0]}), ["k", "j"], "v")
    result = einsql.einsum("ik,kj->ij", a, b, con=db.con)
    dense_a, dense_b = np.zeros((4, 30)), np.zeros((30, 5))
    dense_a[[0, 3], [27, 1]] = [1.5, 2.0]
    dense_b[[29, 1], [0, 4]] = [3.0, 5.0]
    np.testing.assert_array_equal(result, dense_a @ dense_b)


def test_an_inferred_axis_never_broadcasts() -> None:
    """An axis whose frame holds index 0 only is size 1 no more: it takes the label's size."""
    a = einsql.coo(pa.table({"i0": [0], "val": [2.0]}))
    b = np.arange(1.0, 5.0)
    assert einsql.einsum("i,i->i", a, b).tolist() == [2.0, 0.0, 0.0, 0.0]  # NumPy would give 2 * b


def test_edge_lists_have_value_one(db) -> None:
    edges = pd.DataFrame({"src": [0, 1, 2, 2], "dst": [1, 2, 0, 1]})
    adjacency = einsql.coo(edges, axes=["src", "dst"], values=None, shape=(3, 3))
    dense = np.zeros((3, 3), dtype=np.int64)
    dense[edges.src, edges.dst] = 1
    paths = einsql.einsum("ij,jk->ik", adjacency, adjacency, con=db.con)
    np.testing.assert_array_equal(paths, dense @ dense)
    assert paths.dtype == np.int64


def test_duplicates_are_refused_or_summed() -> None:
    frame = pa.table({"i0": [0, 1, 0], "val": [1.0, 2.0, 4.0]})
    with pytest.raises(einsql.OperandError, match='duplicates="sum"'):
        einsql.coo(frame)
    assert einsql.coo(frame, duplicates="sum").todense().tolist() == [5.0, 2.0]


def test_complex_and_decimal_values() -> None:
    frame = pa.table({"i0": [0, 1], "re": [1.0, 0.5], "im": [2.0, -1.0]})
    z = einsql.coo(frame, values=["re", "im"])
    assert z.todense().tolist() == [1 + 2j, 0.5 - 1j]
    decimals = pa.table({"i0": [0, 1], "val": pa.array([3, 4], type=pa.decimal128(38, 0))})
    with pytest.raises(einsql.OperandError, match="dtype="):
        einsql.coo(decimals)
    assert einsql.coo(decimals, dtype="int64").values.tolist() == [3, 4]
    halves = pa.table({"i0": [0], "val": pa.array([Decimal("1.5")], type=pa.decimal128(5, 1))})
    with pytest.raises(einsql.OperandError, match="does not fit dtype int64"):
        einsql.coo(halves, dtype="int64")


@pytest.mark.parametrize(
    ("columns", "options", "message"),
    [
        ({"i0": [0.0, 1.0], "val": [1.0, 2.0]}, {}, "must be integers"),
        ({"i0": [0, None], "val": [1.0, 2.0]}, {}, "NULL"),
        ({"i0": [0, 1], "val": [1.0, None]}, {}, "NULL"),
        ({"i0": [-1, 1], "val": [1.0, 2.0]}, {}, "negative"),
        ({"i0": [0, 1], "val": ["a", "b"]}, {}, "must be numbers"),
        ({"i0": [0, 1], "w": [1.0, 2.0]}, {}, "values=None for an edge list"),
        ({"i0": [0, 1], "val": [1.0, 2.0]}, {"axes": ["x"]}, "no column 'x'"),
        ({"i0": [0, 5], "val": [1.0, 2.0]}, {"shape": (3,)}, "outside its shape"),
        ({"i0": [0, 1], "val": [1.0, 2.0]}, {"shape": (3, 3)}, "has 2 axes"),
        ({"i0": [0, 1], "val": [1.0, 2.0]}, {"duplicates": "keep"}, "duplicates="),
    ],
)
def test_bad_frames_are_refused_clearly(columns, options, message) -> None:
    with pytest.raises(einsql.EinsqlError, match=message):
        einsql.coo(pa.table(columns), **options)


def test_sources_einsql_does_not_read(tmp_path) -> None:
    with pytest.raises(einsql.OperandError, match="files, not"):
        einsql.coo(tmp_path / "m.xlsx")
    with pytest.raises(einsql.OperandError, match="no file"):
        einsql.coo(tmp_path / "missing.parquet")
    with pytest.raises(einsql.OperandError, match="data frames, Arrow data"):
        einsql.coo(np.eye(2))
    with pytest.raises(einsql.OperandError, match=r"einsql\.coo"):
        einsql.einsum("ij->i", pd.DataFrame({"i0": [0]}))  # never read as a dense matrix


def test_inferred_axes_under_an_ellipsis_are_refused() -> None:
    a = einsql.coo(pa.table({"i0": [0], "i1": [1], "val": [1.0]}))
    with pytest.raises(einsql.OperandError, match="ellipsis"):
        einsql.einsum("...j->j", a)


def test_a_frame_is_a_variable_value_of_the_variable_shape() -> None:
    x = einsql.var("x", (4,))
    value = einsql.coo(pa.table({"i0": [1], "val": [3.0]}))
    assert einsql.evaluate(einsql.sum(x * x), {"x": value}) == pytest.approx(9.0)
    too_big = einsql.coo(pa.table({"i0": [6], "val": [3.0]}))
    with pytest.raises(einsql.OperandError, match="needs at least"):
        einsql.evaluate(einsql.sum(x * x), {"x": too_big})


# --- results in the form asked ---------------------------------------------------------------


def dense_of(form: str, result: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The dense array a result form describes (the reader of each form)."""
    if form == "scipy":
        return np.asarray(result.toarray())
    table = result if form == "arrow" else pa.table(result) if form == "polars" else None
    if form == "pandas":
        columns = {name: result[name].to_numpy() for name in result.columns}
    else:
        assert table is not None
        columns = {name: np.asarray(table.column(name).to_pylist()) for name in table.column_names}
    values = (
        columns.pop("val")
        if "val" in columns
        else columns.pop("val_re") + 1j * columns.pop("val_im")
    )
    dense = np.zeros(shape, dtype=np.asarray(values).dtype)
    dense[tuple(columns[f"i{k}"] for k in range(len(shape)))] = values
    return dense


@pytest.mark.parametrize("form", ["arrow", "pandas", "polars", "scipy"])
@pytest.mark.parametrize("dtype", ["int64", "float64", "complex128", "bool"])
def test_result_forms_match_numpy(db, form, dtype) -> None:
    rng = np.random.default_rng(7)
    a = (rng.integers(-2, 3, (4, 5)) * (rng.random((4, 5)) < 0.5)).astype(dtype)
    b = (rng.integers(-2, 3, (5, 3)) * (rng.random((5, 3)) < 0.5)).astype(dtype)
    expected = np.einsum("ij,jk->ik", a, b)
    result = einsql.einsum("ij,jk->ik", a, b, con=db.con, out=form)
    np.testing.assert_array_equal(dense_of(form, result, (4, 3)), expected)
    if dtype == "int64" and form in ("arrow", "polars"):
        value_type = (result if form == "arrow" else result.to_arrow()).schema.field("val").type
        assert value_type == pa.int64()  # not the database's decimal128(38, 0)
    if dtype == "int64" and form == "pandas":
        assert result["val"].dtype == np.int64  # not float64


@pytest.mark.notimpl(
    ["sqlite"], raises=einsql.ExactnessError, reason="SQLite's integers are 64-bit"
)
def test_integer_results_past_int64_stay_exact(db) -> None:
    big = np.full(3, 2**62, dtype=np.int64)
    exact = 3 * 2**62
    arrow = einsql.einsum("i->", big, con=db.con, out="arrow")
    assert arrow.schema.field("val").type == pa.decimal128(38, 0)
    assert arrow.column("val").to_pylist() == [exact]
    assert einsql.einsum("i->", big, con=db.con, out="pandas")["val"].tolist() == [exact]
    assert einsql.einsum("i->", big, con=db.con, out="coo").values.tolist() == [exact]
    with pytest.raises(einsql.ArgumentError, match=r"scipy\.sparse cannot hold"):
        einsql.einsum("i,j->ij", big, np.array([3]), con=db.con, out="scipy")


def test_scipy_form_has_any_number_of_dimensions_but_not_zero() -> None:
    a = np.arange(24.0).reshape(2, 3, 4) % 5
    result = einsql.einsum("ijk->kji", a, out="scipy")
    assert isinstance(result, sp.coo_array)
    np.testing.assert_array_equal(result.toarray(), a.transpose())
    with pytest.raises(einsql.ArgumentError, match="0-d"):
        einsql.einsum("ijk->", a, out="scipy")


# --- tables by name, replaced results ---------------------------------------------------------


def test_tables_by_name_read_their_layout(db) -> None:
    db.drop("pl_a", "pl_b")
    db.execute(
        "CREATE TABLE pl_a (r BIGINT, k BIGINT, w DOUBLE PRECISION)",
        "INSERT INTO pl_a VALUES (0, 27, 1.5), (3, 1, 2.0)",
        "CREATE TABLE pl_b (i0 BIGINT, i1 BIGINT, val BIGINT)",
        "INSERT INTO pl_b VALUES (29, 0, 3), (1, 4, 5)",
    )
    try:
        a = einsql.table("pl_a", db.con, axes=["r", "k"], values="w")
        b = einsql.connect(db.con).table("pl_b")
        assert (a.dtype, a.shape, a.nnz, b.dtype, b.shape) == (
            "float64",
            (4, 28),
            2,
            "int64",
            (30, 5),
        )
        dense_a, dense_b = np.zeros((4, 30)), np.zeros((30, 5), dtype=np.int64)
        dense_a[[0, 3], [27, 1]] = [1.5, 2.0]
        dense_b[[29, 1], [0, 4]] = [3, 5]
        result = einsql.einsum("ik,kj->ij", a, b, con=db.con)
        np.testing.assert_array_equal(result, dense_a @ dense_b)
        fixed = einsql.table("pl_a", db.con, shape=(10, None), axes=["r", "k"], values="w")
        assert fixed.shape == (10, 28) and fixed.inferred == (1,)
    finally:
        db.drop("pl_a", "pl_b")
    assert db.leftovers() == []


def test_table_layout_errors(db) -> None:
    db.drop("pl_c")
    db.execute(
        "CREATE TABLE pl_c (i0 BIGINT, label VARCHAR(5))", "INSERT INTO pl_c VALUES (0, 'x')"
    )
    try:
        with pytest.raises(einsql.OperandError, match="no value column 'val'"):
            einsql.table("pl_c", db.con)
        with pytest.raises(einsql.OperandError, match=r"numbers|dtype="):
            einsql.table("pl_c", db.con, values="label")
        with pytest.raises(einsql.DatabaseError):
            einsql.table("pl_missing", db.con)
    finally:
        db.drop("pl_c")
    with pytest.raises(einsql.OperandError, match=r"einsql\.table"):
        einsql.Table("pl_c")
    assert db.leftovers() == []


def test_into_replace_is_atomic(db) -> None:
    db.drop("pl_r")
    a = np.arange(4).reshape(2, 2)
    try:
        einsql.einsum("ij,jk->ik", a, a, con=db.con, into="pl_r")
        with pytest.raises(einsql.DatabaseError, match="if_exists='replace'"):
            einsql.einsum("ij,jk->ik", a, a, con=db.con, into="pl_r")
        stored = einsql.einsum("ij,jk->ik", a, 2 * a, con=db.con, into="pl_r", if_exists="replace")
        np.testing.assert_array_equal(einsql.einsum("ij", stored, con=db.con), a @ (2 * a))
        huge = np.array([2**62, 1])  # the sum does not fit the int64 table: the new result fails
        with pytest.raises(einsql.ExactnessError):
            einsql.einsum(
                "i,i->i", huge, np.array([4, 1]), con=db.con, into="pl_r", if_exists="replace"
            )
        np.testing.assert_array_equal(einsql.einsum("ij", stored, con=db.con), a @ (2 * a))
        assert db.leftovers() == []  # no staging table left behind
        with pytest.raises(einsql.OptionError, match="if_exists"):
            einsql.einsum("ij", a, con=db.con, into="pl_r", if_exists="append")
    finally:
        db.drop("pl_r")


def test_stored_integer_results_are_int64(db) -> None:
    db.drop("pl_i")
    try:
        t = einsql.einsum(
            "ij,jk->ik",
            np.ones((2, 2), dtype=int),
            np.ones((2, 2), dtype=int),
            con=db.con,
            into="pl_i",
        )
        assert einsql.table("pl_i", db.con).dtype == "int64" == t.dtype
    finally:
        db.drop("pl_i")


def test_duckdb_replace_inside_the_callers_transaction(duck) -> None:
    duck.execute("DROP TABLE IF EXISTS pl_t")
    duck.begin()
    einsql.einsum("i->i", np.arange(3), con=duck, into="pl_t")
    einsql.einsum("i->i", np.arange(4), con=duck, into="pl_t", if_exists="replace")
    duck.rollback()  # the caller's transaction decides: nothing was stored
    assert duck.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'pl_t'"
    ).fetchall() == [(0,)]


# --- contract_expression ------------------------------------------------------------------------


def test_contract_expression_reuses_its_path(db) -> None:
    shapes = [(3, 4), (4, 5), (5, 2)]
    expr = einsql.contract_expression("ij,jk,kl->il", *shapes)
    rng = np.random.default_rng(3)
    for _ in range(2):
        arrays = [rng.random(s) * (rng.random(s) < 0.5) for s in shapes]
        np.testing.assert_allclose(expr(*arrays, con=db.con), np.einsum("ij,jk,kl->il", *arrays))
    assert (
        einsql.plan("ij,jk,kl->il", *arrays, optimize=["einsum_path", *expr.plan.path]).path
        == expr.plan.path
    )
    with pytest.raises(einsql.ShapeError, match="made for"):
        expr(np.ones((3, 4)), np.ones((4, 6)), np.ones((6, 2)))
    with pytest.raises(einsql.ArgumentError, match="3 operand"):
        expr(np.ones((3, 4)))
    frame = einsql.coo(pa.table({"i0": [0], "i1": [1], "val": [2.0]}))  # sized by the expression
    assert expr(frame, *arrays[1:], con=db.con).shape == (3, 2)
    assert "WITH" in expr.to_sql(*arrays)


# --- generated ---------------------------------------------------------------------------------


@st.composite
def frame_cases(draw: st.DrawFn) -> tuple[str, list[np.ndarray], list[dict[str, Any]]]:
    """An einsum over 1-3 frames of random layouts: names, index types, given or inferred sizes."""
    sizes = {c: draw(st.integers(1, 4)) for c in "abc"}
    term = st.text("abc", min_size=1, max_size=2).filter(lambda t: len(set(t)) == len(t))
    terms = draw(st.lists(term, min_size=1, max_size=3))
    used = sorted(set("".join(terms)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    arrays, specs = [], []
    for term in terms:
        shape = tuple(sizes[c] for c in term)
        dtype = draw(st.sampled_from(["int64", "float64", "int32", "bool"]))
        array = np.asarray(
            draw(
                st.lists(
                    st.integers(-3, 3), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
                )
            )
        ).reshape(shape)
        array = array * (
            np.asarray(
                draw(st.lists(st.booleans(), min_size=array.size, max_size=array.size))
            ).reshape(shape)
        )
        arrays.append(array.astype(dtype))
        specs.append(
            {
                "names": [
                    draw(st.sampled_from(["r", "c", "x", "i0", "k"])) + str(k)
                    for k in range(len(shape))
                ],
                "index_type": draw(st.sampled_from([pa.int64(), pa.int32(), pa.uint16()])),
                "given": [draw(st.booleans()) for _ in shape],
                "source": draw(st.sampled_from(["pandas", "polars", "arrow"])),
            }
        )
    return f"{','.join(terms)}->{output}", arrays, specs


def frame_operand(array: np.ndarray, spec: dict[str, Any]) -> Any:
    coords = np.argwhere(array)
    columns: dict[str, Any] = {
        name: pa.array(coords[:, k], type=spec["index_type"])
        for k, name in enumerate(spec["names"])
    }
    columns["v"] = pa.array(array[array != 0])
    table = pa.table(columns)
    source = (
        table.to_pandas()
        if spec["source"] == "pandas"
        else pl.from_arrow(table)
        if spec["source"] == "polars"
        else table
    )
    shape = [n if given else None for n, given in zip(array.shape, spec["given"])]
    return einsql.coo(source, axes=spec["names"], values="v", shape=shape)


def test_generated_frames_match_numpy(db, request) -> None:
    @settings(
        max_examples=fuzz_examples(request.config) // 3,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=frame_cases())
    def check(case: tuple[str, list[np.ndarray], list[dict[str, Any]]]) -> None:
        equation, arrays, specs = case
        operands = [frame_operand(a, s) for a, s in zip(arrays, specs)]
        expected = np.einsum(equation, *arrays)
        # Inferred sizes come from the indices held: an all-zero label shrinks to what is held.
        result = einsql.einsum(equation, *operands, con=db.con, out="coo")
        assert all(n <= m for n, m in zip(result.shape, expected.shape))
        dense = np.zeros(expected.shape, dtype=result.values.dtype)
        dense[tuple(slice(0, n) for n in result.shape)] = result.todense()
        assert np.array_equal(dense, expected.astype(dense.dtype)) or np.allclose(dense, expected)

    check()
    assert db.leftovers() == []


@st.composite
def table_cases(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    """Two sparse integer matrices sharing a label, with random sizes (their last rows may be 0)."""
    n, k, m = (draw(st.integers(1, 5)) for _ in range(3))
    shapes = [(n, k), (k, m)]
    arrays = []
    for shape in shapes:
        size = int(np.prod(shape))
        entries = draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size))
        arrays.append(np.asarray(entries, dtype=np.int64).reshape(shape))
    return draw(st.sampled_from(["ik,kj->ij", "ik,kj->ji", "ik,kj->k", "ik,kj->"])), arrays


def test_generated_tables_by_name_match_numpy(db, request) -> None:
    """Results stored with into= (replaced each time), read back by einsql.table, contracted."""
    examples = max(fuzz_examples(request.config) // 6, 10)

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=table_cases())
    def check(case: tuple[str, list[np.ndarray]]) -> None:
        equation, arrays = case
        for name, array in zip(("pl_g0", "pl_g1"), arrays):
            einsql.einsum("ij->ij", array, con=db.con, into=name, if_exists="replace")
        tables = [einsql.table(name, db.con) for name in ("pl_g0", "pl_g1")]
        assert all(t.dtype == "int64" for t in tables)
        result = einsql.einsum(equation, *tables, con=db.con, out="coo")
        expected = np.einsum(equation, *arrays)
        assert all(n <= m for n, m in zip(result.shape, expected.shape))
        dense = np.zeros(expected.shape, dtype=np.int64)
        dense[tuple(slice(0, n) for n in result.shape)] = result.todense()
        np.testing.assert_array_equal(dense, expected)

    try:
        check()
    finally:
        db.drop("pl_g0", "pl_g1")
    assert db.leftovers() == []


# --- found in review ----------------------------------------------------------------------------


def test_an_ellipsis_operand_sizes_its_labels_from_the_right() -> None:
    a = einsql.coo(pa.table({"i0": [3], "val": [1.0]}))  # i inferred: 4 at least
    for shape in [(2, 9, 1), (2, 9, 4)]:
        dense = np.arange(np.prod(shape), dtype=float).reshape(shape)
        expected = np.einsum("...i,i->...i", dense, np.array([0.0, 0.0, 0.0, 1.0]))
        np.testing.assert_array_equal(einsql.einsum("...i,i->...i", dense, a), expected)


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([300, 5], "int8"),
        ([1.7, -2.5], "int64"),
        ([float("nan"), 5.0], "int64"),
        ([-1, 2], "uint8"),
    ],
)
def test_dtype_casts_are_checked(values, dtype) -> None:
    with pytest.raises(einsql.OperandError, match=f"does not fit dtype {dtype}"):
        einsql.coo(pa.table({"i0": [0, 1], "val": values}), dtype=dtype)


def test_summed_duplicates_are_exact() -> None:
    with pytest.raises(einsql.ExactnessError, match="int64 does not hold"):
        einsql.coo(pa.table({"i0": [0, 0], "val": [2**62, 2**62]}), duplicates="sum")
    summed = einsql.coo(pa.table({"i0": [0, 0], "val": [2**62, -(2**62) + 1]}), duplicates="sum")
    assert summed.values.tolist() == [1]
    scalar = einsql.coo(pa.table({"v": [1.5, 2.0]}), axes=[], values="v", duplicates="sum")
    assert scalar.values.tolist() == [3.5] and scalar.shape == ()


def test_sources_that_are_not_tables_are_refused() -> None:
    with pytest.raises(einsql.OperandError, match="as a table"):
        einsql.coo(pa.chunked_array([[1, 2]]))
    # pandas 3's Series speaks Arrow and fails as a table; pandas 2's is not a table source
    with pytest.raises(einsql.OperandError, match="the pandas Series"):
        einsql.coo(pd.Series([1, 2]))
    with pytest.raises(einsql.OperandError, match=r"(?i)duplicate|repeat"):
        einsql.coo(pd.DataFrame([[0, 1.0]], columns=["i0", "i0"]))


def test_empty_tables_and_bad_index_columns(db) -> None:
    db.drop("pl_e", "pl_s")
    db.execute(
        "CREATE TABLE pl_e (i0 BIGINT, val DOUBLE PRECISION)",
        "CREATE TABLE pl_s (i0 VARCHAR(8), val DOUBLE PRECISION)",
        "INSERT INTO pl_s VALUES ('abc', 1.0)",
    )
    try:
        empty = einsql.table("pl_e", db.con)
        assert empty.shape == (0,) and empty.nnz == 0
        assert einsql.einsum("i->i", empty, con=db.con).shape == (0,)
        with pytest.raises(einsql.OperandError, match="index columns must be integers"):
            einsql.table("pl_s", db.con)
        with pytest.raises(einsql.OperandError, match="a view can add 1 AS val"):
            einsql.table("pl_e", db.con, values=None)
    finally:
        db.drop("pl_e", "pl_s")


def test_stored_narrow_integers_say_int64(db) -> None:
    db.drop("pl_n")
    try:
        t = einsql.einsum("ij->i", np.ones((2, 2), np.int32), con=db.con, into="pl_n")
        assert t.dtype == "int64" == einsql.table("pl_n", db.con).dtype
        np.testing.assert_array_equal(einsql.einsum("i", t, con=db.con), [2, 2])
    finally:
        db.drop("pl_n")


def test_polars_refuses_what_it_cannot_hold() -> None:
    from einsql.forms import as_form

    huge = einsql.CooArray(np.array([[0]]), np.array([10**40], dtype=object), (1,))
    assert as_form(huge, "arrow").schema.field("val").type == pa.decimal256(76, 0)
    with pytest.raises(einsql.ArgumentError, match="polars cannot hold"):
        as_form(huge, "polars")


def test_contract_expressions_keep_their_path() -> None:
    expr = einsql.contract_expression("ij,jk->ik", (2, 3), (3, 2))
    with pytest.raises(einsql.ArgumentError, match="runs the path it was made with"):
        expr(np.ones((2, 3)), np.ones((3, 2)), optimize="greedy")
