"""Spark: connections, exact integers, errors, staged plans, tables; NumPy is the oracle.

The backend-parametrized suite runs its ``spark``-marked part there too (see
``conftest.runs_on``); these tests are about what only Spark has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Database, assert_matches, database_url, open_database, oracle

import einsql
from einsql.drivers.spark import SETTINGS

pytestmark = pytest.mark.spark


@pytest.fixture()
def spark(databases: dict[str, Database]) -> Database:
    """The suite's Spark session (a Spark Connect one in CI), shared as ``db``'s."""
    if "spark" not in databases:
        databases["spark"] = Database("spark", open_database("spark"))
    return databases["spark"]


def test_a_session_and_its_url_give_numpys_answer_and_stay_open(spark: Database) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    settings = {key: spark.con.conf.get(key, None) for key in SETTINGS}
    assert_matches(einsql.einsum("ij,jk->ik", a, b, con=spark.con), a @ b)
    assert_matches(einsql.einsum("ij,jk->ik", a, b, con=database_url("spark")), a @ b)
    assert {key: spark.con.conf.get(key, None) for key in SETTINGS} == settings  # put back
    assert spark.con.sql("SELECT 1 AS one").collect()[0][0] == 1  # not stopped
    assert spark.leftovers() == []


def test_integer_sums_are_exact_past_int64_and_refused_past_decimal38(spark: Database) -> None:
    big = np.full(3, 2**62, dtype=np.int64)
    four = np.full(3, 4, dtype=np.int64)
    assert einsql.einsum("i,i->", big, four, con=spark.con) == 3 * 2**64  # DECIMAL(38, 0)
    with pytest.raises(einsql.ExactnessError):
        einsql.einsum("i,i,i->", big, big, four, con=spark.con)  # the plan's bound: > 10**38
    assert spark.leftovers() == []


def test_database_errors_are_one_line_and_keep_the_original(spark: Database) -> None:
    missing = einsql.Table("no_such_table_here", (2,))
    with pytest.raises(einsql.DatabaseError) as caught:
        einsql.einsum("i->", missing, con=spark.con)
    assert "\n" not in str(caught.value) and "JVM" not in str(caught.value)
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(caught.value)
    assert caught.value.__cause__ is not None
    assert spark.leftovers() == []


def test_staged_plans_run_as_cached_views_and_leave_nothing(spark: Database) -> None:
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 3)) * (rng.random((3, 3)) < 0.6) for _ in range(6)]
    equation = "ab,bc,cd,de,ef,fg->ag"
    assert "CACHE TABLE" in einsql.to_sql(equation, *arrays, dialect="spark", staged=True)
    result = einsql.einsum(equation, *arrays, con=spark.con, staged=True)
    assert_matches(result, oracle(equation, arrays))
    assert spark.leftovers() == []


def test_results_go_into_a_managed_table_read_back_by_name(spark: Database) -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 4)) * (rng.random((6, 4)) < 0.5)
    try:
        stored = einsql.einsum("ij->ji", a, con=spark.con, into="einsql_spark_t")
        table = einsql.table("einsql_spark_t", spark.con)
        assert table.shape[0] <= 4 and stored.name == "einsql_spark_t"
        again = einsql.einsum("ji->ij", einsql.Table("einsql_spark_t", (4, 6)), con=spark.con)
        assert_matches(again, a)
    finally:
        spark.drop("einsql_spark_t")
    assert spark.leftovers() == []


def test_expressions_with_shared_nodes_run_staged(spark: Database) -> None:
    """Spark copies a CTE into each reader; a Hessian's shared nodes become cached views."""
    x, A = einsql.var("x", (4,)), einsql.var("A", (5, 4))
    f = einsql.sum(einsql.softplus(einsql.einsum("ij,j->i", A, x)))
    rng = np.random.default_rng(4)
    values = {"x": rng.standard_normal(4), "A": rng.standard_normal((5, 4))}
    hessian = einsql.hessian(f, x)
    assert "CACHE TABLE" in einsql.to_sql(hessian, dialect="spark")
    expected = einsql.evaluate(hessian, values, backend="numpy")
    np.testing.assert_allclose(einsql.evaluate(hessian, values, con=spark.con), expected)
    assert spark.leftovers() == []


def test_a_gradient_adding_a_constant_to_a_staged_node_runs(spark: Database) -> None:
    """A union over a checkpoint of a join: Spark's constraint propagation failed on it."""
    n, d = 30, 4
    rng = np.random.default_rng(7)
    X, y, w = einsql.var("X", (n, d)), einsql.var("y", (n,)), einsql.var("w", (d,))
    loss = einsql.sum(einsql.log1p(einsql.exp(-y * einsql.einsum("ij,j->i", X, w)))) / n
    values = {
        "X": rng.standard_normal((n, d)) * (rng.random((n, d)) < 0.5),
        "y": np.where(rng.random(n) < 0.5, 1.0, -1.0),
        "w": rng.standard_normal(d),
    }
    gradient = einsql.grad(loss, w)
    expected = einsql.evaluate(gradient, values, backend="numpy")
    np.testing.assert_allclose(einsql.evaluate(gradient, values, con=spark.con), expected)
    assert spark.leftovers() == []


def test_tables_are_read_and_written_by_three_part_names(spark: Database) -> None:
    """``catalog.schema.table``: ``into=`` writes it, ``Table`` and ``einsql.table`` read it."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 3)) * (rng.random((5, 3)) < 0.5)
    name = "spark_catalog.default.einsql_spark_three"
    try:
        einsql.einsum("ij->ij", a, con=spark.con, into=name)
        assert einsql.table(name, spark.con).shape[1] <= 3
        read = einsql.einsum("ij,ij->j", einsql.Table(name, (5, 3)), a, con=spark.con)
        assert_matches(read, np.einsum("ij,ij->j", a, a))
    finally:
        spark.drop(name)
    assert spark.leftovers() == []


CLASSIC_SESSION = """
import json, sys
import numpy as np
import einsql

rng = np.random.default_rng(6)
a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
x = einsql.var("x", (5,))
loss = einsql.sum(einsql.softplus(einsql.einsum("ij,j->i", einsql.var("A", (4, 5)), x)))
values = {"x": rng.standard_normal(5), "A": a}
found = {
    "product": einsql.einsum("ij,jk->ik", a, b, con=sys.argv[1]).tolist(),
    "gradient": einsql.evaluate(einsql.grad(loss, x), values, con=sys.argv[1]).tolist(),
}
print(json.dumps({"a": a.tolist(), "b": b.tolist(), "x": values["x"].tolist(), **found}))
"""


def test_a_master_url_opens_a_classic_session_in_the_process(
    spark: Database, tmp_path: Path
) -> None:
    """``con="local[1]"``: a classic (non-Connect) session, in a child process of its own.

    The child starts its own JVM (about 25 s), so this path runs once; the rest
    of the suite uses the Spark Connect server.
    """
    connect = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")  # this process's Connect mode
    env = {k: v for k, v in os.environ.items() if k not in connect}
    done = subprocess.run(
        [sys.executable, "-c", CLASSIC_SESSION, "local[1]"],
        cwd=tmp_path,  # the classic session's warehouse directory goes here
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    a, b, x = (np.array(found[k]) for k in ("a", "b", "x"))
    np.testing.assert_allclose(found["product"], a @ b, rtol=1e-12)
    expected_gradient = a.T @ (1.0 / (1.0 + np.exp(-(a @ x))))  # d/dx sum softplus(A x)
    np.testing.assert_allclose(found["gradient"], expected_gradient, rtol=1e-10)


def test_a_master_url_after_a_connect_session_is_refused_clearly(spark: Database) -> None:
    """pyspark makes only Connect sessions once a process has one: einsql says so."""
    if "SPARK_CONNECT_MODE_ENABLED" not in os.environ:
        pytest.skip("the suite's Spark session is a classic one")
    with pytest.raises(einsql.OptionError, match="classic Spark session"):
        einsql.einsum("i->", np.ones(2), con="local[1]")


def test_the_benchmark_runner_times_spark_in_phases(
    spark: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``einsql-spark`` in the runner: checked against scipy, with load, query and fetch apart."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "benchmarks"))
    monkeypatch.setenv("EINSQL_BENCH_SPARK", database_url("spark"))
    import runner

    systems = "einsql-duckdb,einsql-spark,scipy"
    args = ["--quick", "--repeat", "1", "--systems", systems, "--only", "spmm"]
    measurements = runner.main([*args, "--out", str(tmp_path)])
    (on_spark,) = [m for m in measurements if m.system == "einsql-spark"]
    assert on_spark.matches and on_spark.seconds is not None
    assert set(on_spark.phases) == {"load", "query", "fetch"}
    assert all(seconds > 0 for seconds in on_spark.phases.values())
    assert spark.leftovers() == []
