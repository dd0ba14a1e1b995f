"""Spark: connections, exact integers, errors, staged plans, tables; NumPy is the oracle.

The backend-parametrized suite runs its ``spark``-marked part there too (see
``conftest.runs_on``); these tests are about what only Spark has.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Database, assert_matches, database_url, open_database, oracle

import einsql

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
    ansi = spark.con.conf.get("spark.sql.ansi.enabled")
    assert_matches(einsql.einsum("ij,jk->ik", a, b, con=spark.con), a @ b)
    assert_matches(einsql.einsum("ij,jk->ik", a, b, con=database_url("spark")), a @ b)
    assert spark.con.conf.get("spark.sql.ansi.enabled") == ansi  # put back
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
