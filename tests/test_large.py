"""Large generated instances, sparsity-aware planning, and the benchmark runner.

The instances come from the generators of the Einsum Benchmark (the
``einsum_benchmark`` package) and are filled by the benchmark runner's own
workload code, so the tests and the runner exercise the same thing.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import opt_einsum
import pytest

import einsql
from einsql.dialect import load_dialect
from einsql.equation import parse
from einsql.planner import make_plan
from einsql.sparsity import path_cost, sparse_greedy

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import runner
import workloads

LARGE = {
    "lattice 2x1000": lambda g: g.structured.lattice((2, 1_000), d_min=2, d_max=3, seed=2),
    "tree 2000": lambda g: g.structured.tree(2_000, d_min=2, d_max=4, seed=2),
}


def dense_reference(w: workloads.Workload) -> np.ndarray:
    arrays = [op.todense() for op in w.operands()]
    return np.asarray(opt_einsum.contract(w.equation, *arrays, optimize="greedy"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LARGE))
def test_instances_with_2000_tensors_match_opt_einsum(name, db) -> None:
    w = workloads.generated(name, lambda: LARGE[name](workloads.generators), 0.8, "")
    assert w.num_tensors >= 2_000
    expected = dense_reference(w)
    result = einsql.einsum(w.equation, *w.operands(), con=db.con)
    assert np.count_nonzero(expected) > 0
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=0)
    plan = einsql.plan(w.equation, *w.operands())
    assert len(plan.steps) > load_dialect(db.name).max_statement_steps  # it ran staged
    assert db.leftovers() == []


def test_the_sparse_model_prefers_the_cheap_join_first() -> None:
    inputs, sizes = ["ij", "jk", "kl"], {"i": 1000, "j": 10, "k": 1000, "l": 10}
    nnz = [10_000, 10_000, 10_000]
    greedy = sparse_greedy(inputs, "il", sizes, nnz)
    assert greedy[0] == (1, 2)
    assert path_cost(inputs, "il", sizes, nnz, greedy) < path_cost(
        inputs, "il", sizes, nnz, [(0, 1), (0, 1)]
    )


@pytest.mark.parametrize("density", [0.001, 0.01, 0.3])
def test_auto_keeps_the_path_the_sparse_model_prices_lower(density) -> None:
    w = workloads.generated(
        "p_first_and_last",
        lambda: workloads.generators.language_model.p_first_and_last(1, 12, 24),
        density,
        "",
    )
    nnz = [op.nnz for op in w.operands()]
    equation = parse(w.equation, list(w.shapes))
    inputs, output = w.equation.split("->")
    model = (inputs.split(","), output, equation.size_of, nnz)
    dense = opt_einsum.contract_path(w.equation, *w.shapes, shapes=True)[0]
    greedy = sparse_greedy(*model)
    cheaper = greedy if path_cost(*model, greedy) < path_cost(*model, dense) else dense
    chosen = make_plan(equation, "auto", nnz=nnz)
    assert chosen.steps == make_plan(equation, cheaper).steps
    assert make_plan(equation, "auto").steps == make_plan(equation, dense).steps


@pytest.mark.parametrize("optimize", ["sparse", "auto"])
def test_sparse_aware_plans_give_the_same_result(optimize, db) -> None:
    w = workloads.generated(
        "lattice",
        lambda: workloads.generators.structured.lattice((3, 3), d_min=4, seed=3),
        0.3,
        "3x3",
    )
    expected = dense_reference(w)
    tables = runner.load_tables(db.con, w)
    try:
        result = einsql.einsum(w.equation, *tables, con=db.con, optimize=optimize)
    finally:
        runner.drop_tables(db.con, tables)
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=0)


def test_table_nnz_must_be_a_count() -> None:
    with pytest.raises(einsql.OperandError, match="nnz"):
        einsql.Table("t", (2, 2), nnz=-1)


def test_the_runner_checks_every_system_and_writes_its_files(tmp_path) -> None:
    systems = "einsql-duckdb,einsql-sqlite,naive-duckdb,opt_einsum-numpy,opt_einsum-sparse,scipy"
    args = ["--quick", "--repeat", "1", "--systems", systems, "--out", str(tmp_path)]
    measurements = runner.main(args)
    ran = [m for m in measurements if m.seconds is not None]
    assert {m.system for m in ran} == set(systems.split(","))
    assert all(m.matches for m in ran), [(m.workload.name, m.system) for m in ran if not m.matches]
    with open(tmp_path / "runner.csv") as f:
        assert len(list(csv.DictReader(f))) == len(measurements)
    assert (tmp_path / "runner.svg").read_text().startswith("<?xml")


def test_the_benchmark_modules_examples_run() -> None:
    import doctest

    import naive

    for module in (naive, workloads):
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
