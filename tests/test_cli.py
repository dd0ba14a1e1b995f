"""The command line: every subcommand, its --help examples as written, and its errors."""

from __future__ import annotations

import importlib.metadata
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import einsql
from einsql.cli import EXAMPLES, version
from einsql.planner import strategies

A = np.arange(12.0).reshape(3, 4) - 4
B = sp.random(4, 2, density=0.5, random_state=1, format="csr")
EDGES = [(0, 1, 2.5), (1, 2, 1.0), (2, 0, 4.0), (0, 2, -1.0)]  # src, dst, weight


def edge_matrix(weighted: bool = True) -> np.ndarray:
    dense = np.zeros((3, 3))
    for src, dst, weight in EDGES:
        dense[src, dst] = weight if weighted else 1
    return dense


def einsql_cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "einsql", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """Files and a database the examples name."""
    np.save(tmp_path / "a.npy", A)
    sp.save_npz(tmp_path / "b.npz", B)
    np.save(tmp_path / "m.npy", np.arange(9.0).reshape(3, 3))
    coo = sp.coo_matrix(A)
    np.savetxt(
        tmp_path / "a.csv",
        np.column_stack([coo.row, coo.col, coo.data]),
        delimiter=",",
        header="i0,i1,val",
        comments="",
        fmt=["%d", "%d", "%.17g"],
    )
    b = B.tocoo()
    pq.write_table(pa.table({"i0": b.row, "i1": b.col, "val": b.data}), tmp_path / "b.parquet")
    edges = "\n".join(f"{s},{d},{w}" for s, d, w in EDGES)
    (tmp_path / "edges.csv").write_text(f"src,dst,weight\n{edges}\n", encoding="utf-8")
    np.save(tmp_path / "rank.npy", np.array([1.0, 2.0, 3.0]))
    con = duckdb.connect(str(tmp_path / "data.db"))
    einsql.einsum("ij->ij", A, con=con, into="a")
    einsql.einsum("ij->ij", B, con=con, into="b")
    con.close()
    return tmp_path


def help_examples() -> list[str]:
    text = EXAMPLES.replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("example", help_examples())
def test_help_examples_run_as_written(example, workdir) -> None:
    done = subprocess.run(
        ["bash", "-c", example], cwd=workdir, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout or "wrote" in done.stderr


def test_run_writes_every_format_and_matches_numpy(workdir) -> None:
    expected = A @ B.toarray()
    for out in ("c.npy", "c.csv", "c.parquet"):
        done = einsql_cli("run", "ij,jk->ik", "a.npy", "b.npz", "--out", out, cwd=workdir)
        assert done.returncode == 0, done.stderr
        assert f"wrote {out}" in done.stderr and done.stdout == ""
    np.testing.assert_allclose(np.load(workdir / "c.npy"), expected)
    for name in ("c.csv:3x2", "c.parquet:3x2"):
        back = einsql_cli("run", "ij->ij", name, "--out", "back.npy", cwd=workdir)
        assert back.returncode == 0, back.stderr
        np.testing.assert_allclose(np.load(workdir / "back.npy"), expected)


def test_run_reads_coo_files_on_every_backend(workdir) -> None:
    for backend in ("duckdb", "sqlite", "numpy"):
        done = einsql_cli(
            "run", "ij,jk->", "a.csv:3x4", "b.parquet:4x2", "--backend", backend, cwd=workdir
        )
        assert done.returncode == 0, done.stderr
        assert np.isclose(float(done.stdout), (A @ B.toarray()).sum())


def test_run_and_sql_in_a_semiring(workdir) -> None:
    done = einsql_cli(
        "run",
        "ij,jk->ik",
        "m.npy",
        "m.npy",
        "--semiring",
        "min-plus",
        "--out",
        "d.npy",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    m = np.arange(9.0).reshape(3, 3)  # m[0, 0] = 0 is a distance under min-plus, not missing
    np.testing.assert_array_equal(np.load(workdir / "d.npy"), (m[:, :, None] + m[None]).min(1))
    sql = einsql_cli(
        "sql",
        "ij,jk->ik",
        "--table",
        "a:3x3",
        "--table",
        "b:3x3",
        "--semiring",
        "or-and",
        cwd=workdir,
    )
    assert "BOOL_OR" in sql.stdout


def test_equation_from_standard_input(workdir) -> None:
    done = einsql_cli("run", "-", "m.npy", cwd=workdir, stdin="ii->\n")
    assert done.returncode == 0 and float(done.stdout) == 12.0


def test_sql_is_what_to_sql_prints(workdir) -> None:
    done = einsql_cli(
        "sql",
        "ij,jk->ik",
        "--table",
        "a:3x4",
        "--table",
        "b:4x2",
        "--dialect",
        "sqlite",
        cwd=workdir,
    )
    tables = [einsql.Table("a", (3, 4)), einsql.Table("b", (4, 2))]
    assert done.stdout == einsql.to_sql("ij,jk->ik", *tables, dialect="sqlite") + "\n"


def test_sql_reads_shapes_from_the_database(workdir) -> None:
    done = einsql_cli(
        "sql",
        "ij,jk->ik",
        "--table",
        "a",
        "--table",
        "b",
        "--con",
        "duckdb:///data.db",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(workdir / "data.db"))
    rows = con.sql(done.stdout.rstrip().rstrip(";")).fetchall()
    con.close()
    dense = np.zeros((3, 2))
    for i, j, v in rows:
        dense[i, j] = v
    np.testing.assert_allclose(dense, A @ B.toarray())


def test_tables_and_files_sharing_a_label_agree_on_its_size(tmp_path) -> None:
    """Sizes come from the label across operands: k is 30 in both (it was 28 against 30)."""
    a, b = np.zeros((4, 30)), np.zeros((30, 5))
    a[[0, 3], [27, 1]] = [1.5, 2.0]
    b[[29, 1], [0, 4]] = [3.0, 5.0]
    con = duckdb.connect(str(tmp_path / "k.db"))
    einsql.einsum("ij->ij", a[:, :28], con=con, into="a")  # its largest k is 27
    einsql.einsum("ij->ij", b, con=con, into="b")
    con.close()
    for name, dense in (("a.csv", a), ("b.csv", b)):
        coords = np.argwhere(dense)
        columns = {"i0": coords[:, 0], "i1": coords[:, 1], "val": dense[dense != 0]}
        pa_csv.write_csv(pa.table(columns), tmp_path / name)
    tables = ("--table", "a", "--table", "b", "--con", "duckdb:///k.db")
    done = einsql_cli("sql", "ik,kj->ij", *tables, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    dense = np.zeros((4, 5))
    for i, j, v in rows_of(f"duckdb:///{tmp_path / 'k.db'}", done.stdout):
        dense[i, j] = v
    np.testing.assert_allclose(dense, a @ b)
    done = einsql_cli("run", "ik,kj->ij", "a.csv", "b.csv", "--out", "c.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), a @ b)


CUBE = np.zeros((2, 3, 4))
CUBE[0, 1, 2], CUBE[1, 2, 3], CUBE[1, 0, 0] = 1.5, -2.0, 4.0  # each axis reaches its end


@contextmanager
def cube_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URL whose table ``cli_cube`` holds ``CUBE`` as COO rows i0, i1, i2, val."""
    rows = [(*map(int, index), float(CUBE[index])) for index in zip(*np.nonzero(CUBE))]
    create = "CREATE TABLE cli_cube (i0 INTEGER, i1 INTEGER, i2 INTEGER, val DOUBLE PRECISION)"
    insert = "INSERT INTO cli_cube VALUES " + ", ".join(str(row) for row in rows)
    if backend == "postgres":
        import psycopg

        url = request.getfixturevalue("pg_url")  # skips without a server
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP TABLE IF EXISTS cli_cube")
            con.execute(create)
            con.execute(insert)
        try:
            yield url
        finally:
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("DROP TABLE cli_cube")
        return
    path = tmp_path / "cube.db"
    con: Any = duckdb.connect(str(path)) if backend == "duckdb" else sqlite3.connect(path)
    con.execute(create)
    con.execute(insert)
    if backend == "sqlite":
        con.commit()
    con.close()
    yield f"{backend}:///{path}"


def rows_of(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of pasted SQL, run in the database at ``url``."""
    sql = sql.rstrip().rstrip(";")
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url) as con:
            return list(con.execute(sql).fetchall())
    if url.startswith("duckdb"):
        with duckdb.connect(url.removeprefix("duckdb:///")) as con:
            return con.sql(sql).fetchall()
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("backend", ["duckdb", "sqlite", "postgres"])
def test_sql_reads_the_shape_of_a_table_of_three_axes(backend, tmp_path, request) -> None:
    with cube_database(backend, tmp_path, request) as url:
        assert einsql.table("cli_cube", url).shape == (2, 3, 4)
        done = einsql_cli("sql", "ijk->ki", "--table", "cli_cube", "--con", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        dense = np.zeros((4, 2))
        for k, i, v in rows_of(url, done.stdout):
            dense[k, i] = v
        np.testing.assert_allclose(dense, CUBE.sum(axis=1).T)
        explained = einsql_cli(
            "explain",
            "ijk,kl->il",
            "--table",
            "cli_cube",
            "--table",
            "m:4x5",
            "--con",
            url,
            cwd=tmp_path,
        )
        assert explained.returncode == 0, explained.stderr
        assert "ijk,kl->il" in explained.stdout


def test_grad_prints_the_derivative_its_hessian_and_its_sql(workdir) -> None:
    args = ["grad", "einsum('i,ij,j->', x, A, x)", "--var", "x:3", "--var", "A:3x3", "--wrt", "x"]
    assert einsql_cli(*args, cwd=workdir).stdout.strip() == (
        "((A[ab] x[b] -> [a]) + (x[a] A[ab] -> [b]))"
    )
    assert einsql_cli(*args, "--hessian", cwd=workdir).stdout.strip() == "((A[ab] -> [ba]) + A)"
    sql = einsql_cli(*args, "--sql", "--dialect", "postgres", cwd=workdir).stdout
    assert sql.startswith("WITH") and 'FROM "A"' in sql


def test_explain_runs_and_measures_each_step(workdir) -> None:
    done = einsql_cli(
        "explain",
        "ij,jk->ik",
        "--table",
        "a",
        "--table",
        "b",
        "--con",
        "duckdb:///data.db",
        "--run",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    header, step = done.stdout.splitlines()[1:3]
    assert header.split()[-2:] == ["rows", "seconds"]
    assert int(step.split()[-2].replace(",", "")) == np.count_nonzero(A @ B.toarray())


def test_explain_prints_the_plan(workdir) -> None:
    done = einsql_cli(
        "explain",
        "ij,jk,kl->il",
        "--table",
        "a:10x20",
        "--table",
        "b:20x30",
        "--table",
        "c:30x5",
        cwd=workdir,
    )
    assert done.stdout.splitlines()[1].split() == ["step", "equation", "inputs", "flops", "size"]
    assert "jk,kl->jl" in done.stdout


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        (["sql", "ij,jk->ik", "--table", "a:3x4"], 2, "2 operand(s) but 1 --table"),
        (["sql", "ij->", "--table", "a:3y4"], 2, "cannot read the shape in 'a:3y4'"),
        (["sql", "ij->", "--table", "a"], 2, "give NAME:SHAPE or --con"),
        (["sql", "ij,jk->ik", "--table", "a:3x4", "--table", "b:5x2"], 2, "label 'j' has size"),
        (["sql", "ij->", "--table", "nope", "--con", "duckdb://"], 1, "nope"),
        (["run", "ij->", "a.txt"], 2, "einsql reads .npy, .npz, .csv, .parquet files"),
        (["run", "ij->", "missing.npy"], 2, "no such file: 'missing.npy'"),
        (["run", "ij->", "a.csv:2x2"], 2, "outside its shape (2, 2)"),
        (["run", "ij->", "a.npy", "--backend", "oracle"], 2, "unknown backend 'oracle'"),
        (["grad", "sum(x", "--var", "x:3", "--wrt", "x"], 2, "cannot read the expression"),
        (["grad", "sum(x)", "--var", "x:3", "--wrt", "y"], 2, "--wrt 'y' is not a --var"),
        (["grad", "exp(x)", "--var", "x:3", "--wrt", "x", "--hessian"], 2, "scalar function"),
        (["grad", "__import__('os')", "--var", "x:3", "--wrt", "x"], 2, "cannot read"),
        (["grad", "sum(x)", "--var", "3:3", "--wrt", "x"], 2, "cannot read --var '3:3'"),
        (["explain", "ij->", "--table", "a:2x2", "--run"], 2, "give its URL with --con"),
    ],
)
def test_errors_are_one_line_with_a_status(args, status, message, workdir) -> None:
    done = einsql_cli(*args, cwd=workdir)
    assert done.returncode == status, done.stderr
    assert message in done.stderr and done.stderr.count("\n") <= 2
    assert done.stdout == ""


def test_version_prints_the_installed_version(workdir) -> None:
    done = einsql_cli("--version", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"einsql {version()}\n"
    assert version() in (importlib.metadata.version("einsql"), einsql.__version__)
    assert version("no-such-distribution") == einsql.__version__


def test_help_names_every_strategy_the_planner_accepts(workdir) -> None:
    # Strategies as a fresh interpreter has them (cotengra, once imported, registers more).
    listing = "from einsql.planner import strategies; print(', '.join(strategies()))"
    fresh = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True)
    listed = fresh.stdout.strip()
    named = "--optimize OPTIMIZE path strategy: " + listed
    assert "sparse" in listed.split(", ") and set(listed.split(", ")) <= set(strategies())
    for command in ("sql", "run", "explain"):
        done = einsql_cli(command, "--help", cwd=workdir)
        assert named in " ".join(done.stdout.split())  # as argparse wraps it


def test_explain_run_without_con_says_what_is_needed(workdir) -> None:
    for tables in (["--table", "a:3x4", "--table", "b:4x2"], ["--table", "a", "--table", "b"]):
        done = einsql_cli("explain", "ij,jk->ik", *tables, "--run", cwd=workdir)
        assert done.returncode == 2 and done.stdout == ""
        assert "in the database that holds them: give its URL with --con" in done.stderr


def write_columns(path: Path, columns: dict[str, list[Any]]) -> None:
    """A .csv or .parquet file with these columns."""
    if path.suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
        return
    rows = zip(*columns.values())
    lines = [",".join(columns), *(",".join(map(str, row)) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("backend", ["duckdb", "sqlite", "numpy"])
def test_run_maps_the_columns_of_a_file(suffix, backend, tmp_path) -> None:
    src, dst, weight = (list(c) for c in zip(*EDGES))
    write_columns(tmp_path / f"g{suffix}", {"src": src, "dst": dst, "weight": weight})
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 3.0]))
    weighted = f"g{suffix}:3x3:src,dst:weight"
    done = einsql_cli("run", "ij,j->i", weighted, "x.npy", "--backend", backend, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = edge_matrix() @ [1.0, 2.0, 3.0]
    np.testing.assert_allclose(np.fromstring(done.stdout.strip("[]\n"), sep=" "), expected)
    transposed = f"g{suffix}::dst,src:weight"  # axes in another order; shape from the data
    done = einsql_cli("run", "ij->ij", transposed, "--out", "t.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "t.npy"), edge_matrix().T)


def test_an_edge_list_is_ones_when_asked(workdir) -> None:
    done = einsql_cli(
        "run",
        "ij,jk->ik",
        "edges.csv::src,dst:1",
        "edges.csv::src,dst:1",
        "--out",
        "two.npy",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    ones = edge_matrix(weighted=False)
    two_hops = np.load(workdir / "two.npy")
    np.testing.assert_array_equal(two_hops, ones @ ones)
    assert two_hops.dtype.kind == "i"  # counts of paths
    write_columns(workdir / "pairs.parquet", {"a": [0, 1], "b": [1, 1]})  # no value column
    done = einsql_cli("run", "ij->", "pairs.parquet", cwd=workdir)
    assert done.returncode == 2 and "pairs.parquet::src,dst:1 for an edge list" in done.stderr


def test_run_reads_complex_values_from_two_columns(tmp_path) -> None:
    columns = {"i0": [0, 1], "i1": [1, 1], "val_re": [1.0, 3.0], "val_im": [2.0, -1.0]}
    write_columns(tmp_path / "z.parquet", columns)
    write_columns(tmp_path / "w.csv", {"r": [0, 1], "c": [1, 1], "re": [1.0, 3.0], "im": [2, -1]})
    for spec in ("z.parquet", "w.csv::r,c:re,im"):
        done = einsql_cli("run", "ij->", spec, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert complex(done.stdout.strip().replace(" ", "")) == 4 + 1j


@pytest.mark.parametrize(
    ("spec", "columns", "message"),
    [
        ("f.csv", {"src": [0], "dst": [1], "val": [1.0]}, "src, dst that are neither axes"),
        (
            "f.csv",
            {"src": [0], "dst": [1]},
            "has no value column 'val' (its columns: ['src', 'dst']",
        ),
        ("f.csv", {"i0": [0], "i2": [1], "val": [1.0]}, "index columns i0, i2, not i0, i1"),
        ("f.csv::src,dest:w", {"src": [0], "dst": [1], "w": [1.0]}, "no column 'dest' named in"),
        ("f.csv::src,,dst:w", {"src": [0], "dst": [1], "w": [1.0]}, "an empty column name"),
        ("f.csv:2x2:s,d:w:x", {"s": [0], "d": [1], "w": [1.0]}, "use FILE[:SHAPE[:AXES[:VALUE"),
        ("f.csv:2x2:s,d:w,v,u", {"s": [0], "d": [1], "w": [1.0]}, "names 3 value columns"),
        (
            "f.csv::s,d:w",
            {"s": [0], "d": [1.5], "w": [1.0]},
            "index column 'd' of file 'f.csv' has type double",
        ),
        (
            "f.csv::s,d:w",
            {"s": [0], "d": [1], "w": ["x"]},
            "value column 'w' of file 'f.csv' has type string",
        ),
        ("f.csv:2x2:s,d:w", {"s": [0], "d": [2], "w": [1.0]}, "outside its shape (2, 2)"),
        ("f.csv:2:s,d:w", {"s": [0], "d": [1], "w": [1.0]}, "shape=(2,) has 1 axes but"),
        ("f.npy::a,b:c", None, "AXES and VALUE map the columns of .csv and .parquet files"),
        ("f.npy:4x4", None, "gives shape (4, 4) but the file holds (3, 3)"),
    ],
)
def test_bad_operand_specs_are_clear_errors(spec, columns, message, tmp_path) -> None:
    if columns is None:
        np.save(tmp_path / "f.npy", np.eye(3))
    else:
        write_columns(tmp_path / "f.csv", columns)
    done = einsql_cli("run", "ij->", spec, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1 and done.stdout == ""


def test_a_table_cannot_take_value_one(workdir) -> None:
    done = einsql_cli("sql", "ij->", "--table", "e:2x2:a,b:1", cwd=workdir)
    assert done.returncode == 2 and "a table needs a value column" in done.stderr


def test_a_file_of_a_header_alone_is_all_zeros(tmp_path) -> None:
    (tmp_path / "e.csv").write_text("src,dst,weight\n", encoding="utf-8")
    done = einsql_cli("run", "ij->ij", "e.csv:2x3:src,dst:weight", "--out", "z.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    zeros = np.load(tmp_path / "z.npy")
    assert zeros.shape == (2, 3) and zeros.dtype == np.float64 and not zeros.any()
