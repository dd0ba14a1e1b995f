"""Large random networks (hyperedges, diagonals, 20 to 60 operands) and a 1,000-operand chain."""

from __future__ import annotations

import numpy as np
import opt_einsum
import pytest
from conftest import assert_matches, random_operand, run_script

import einsql
from einsql.api import load_relations, prepare
from einsql.drivers import open_driver
from einsql.lower import Layout, lower
from einsql.results import to_coo, to_dense


def random_network(num_operands: int, seed: int) -> tuple[str, list[tuple[int, ...]]]:
    """A banded hypergraph: operand k draws labels near position k.

    Neighbouring operands share labels, so a label can join three or four of
    them (hyperedges); a label drawn twice into one operand is a diagonal. The
    band keeps the treewidth, and so the dense oracle, small.
    """
    rng = np.random.default_rng(seed)
    symbols = [opt_einsum.get_symbol(k) for k in range(num_operands + 4)]
    sizes = {s: int(rng.integers(2, 4)) for s in symbols}
    terms = []
    for k in range(num_operands):
        rank = int(rng.integers(1, 4))
        terms.append("".join(rng.choice(symbols[k : k + 4], size=rank)))
    used = sorted(set("".join(terms)))
    output = "".join(rng.choice(used, size=min(2, len(used)), replace=False))
    shapes = [tuple(sizes[c] for c in term) for term in terms]
    return ",".join(terms) + "->" + output, shapes


@pytest.mark.parametrize("num_operands", [20, 35, 60])
@pytest.mark.parametrize("seed", range(3))
def test_random_network_matches_opt_einsum(num_operands, seed, db) -> None:
    equation, shapes = random_network(num_operands, seed)
    rng = np.random.default_rng(seed)
    arrays = [random_operand(s, "float64", 0.8, rng) for s in shapes]
    expected = opt_einsum.contract(equation, *arrays)
    assert_matches(einsql.einsum(equation, *arrays, con=db.con), expected)
    assert_matches(einsql.einsum(equation, *arrays, backend="numpy"), expected)
    terms = equation.split("->")[0].split(",")
    assert any(sum(c in t for t in terms) >= 3 for c in set("".join(terms)))  # a hyperedge
    assert any(len(set(t)) < len(t) for t in terms)  # a diagonal


@pytest.mark.parametrize("optimize", ["greedy", "dp", "random-greedy", "branch-2"])
def test_strategies_give_the_same_answer(optimize, db) -> None:
    equation, shapes = random_network(12, 4)
    rng = np.random.default_rng(4)
    arrays = [random_operand(s, "int64", 0.7, rng) for s in shapes]
    expected = opt_einsum.contract(equation, *arrays)
    assert_matches(einsql.einsum(equation, *arrays, con=db.con, optimize=optimize), expected)


def test_explicit_path_is_followed(db) -> None:
    rng = np.random.default_rng(6)
    arrays = [random_operand((3, 3), "float64", 0.8, rng) for _ in range(4)]
    path = [(2, 3), (0, 2), (0, 1)]
    plan = einsql.plan("ab,bc,cd,de->ae", *arrays, optimize=path)
    assert [step.equation for step in plan.steps] == ["cd,de->ce", "ab,ce->abce", "bc,abce->ae"]
    result = einsql.einsum("ab,bc,cd,de->ae", *arrays, con=db.con, optimize=path)
    assert_matches(result, arrays[0] @ arrays[1] @ arrays[2] @ arrays[3])


def test_a_path_entry_of_three_operands_is_split_into_binary_steps(db) -> None:
    rng = np.random.default_rng(8)
    arrays = [random_operand((3, 3), "float64", 0.8, rng) for _ in range(3)]
    plan = einsql.plan("ab,bc,cd->ad", *arrays, optimize=[(0, 1, 2)])
    assert [len(step.args) for step in plan.steps] == [2, 2]
    result = einsql.einsum("ab,bc,cd->ad", *arrays, con=db.con, optimize=[(0, 1, 2)])
    assert_matches(result, arrays[0] @ arrays[1] @ arrays[2])


@pytest.mark.slow
def test_a_thousand_operands_run_staged(db) -> None:
    num = 1000
    symbols = [opt_einsum.get_symbol(k) for k in range(num + 1)]
    equation = (
        ",".join(symbols[k] + symbols[k + 1] for k in range(num)) + "->" + symbols[0] + symbols[-1]
    )
    rng = np.random.default_rng(9)
    arrays = [random_operand((2, 2), "float64", 0.9, rng) * 0.9 for _ in range(num)]
    plan = einsql.plan(equation, *arrays)
    assert len(plan.steps) == num - 1
    result = einsql.einsum(equation, *arrays, con=db.con)
    assert_matches(result, opt_einsum.contract(equation, *arrays))
    assert db.leftovers() == []


def greedy_network(count: int, seed: int):
    """A random network of ``count`` operands at 80% density, prepared on the greedy path."""
    equation, shapes = random_network(count, seed)
    rng = np.random.default_rng(seed)
    arrays = [random_operand(s, "float64", 0.8, rng) for s in shapes]
    return equation, arrays, prepare([equation, *arrays], optimize="greedy")


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_staged_groups_of_any_size_give_the_same_answer(limit, db) -> None:
    equation, arrays, prepared = greedy_network(40, 5)
    with open_driver(db.con) as driver:
        relations = [driver.load(op, "float") for op in prepared.operands]
        layout = Layout(max_statement_steps=limit, prefix=driver.prefix)
        program = lower(prepared.plan, relations, "float", driver.dialect, layout=layout)
        creates = [s for s in program.setup if s.key == "create"]
        assert len(creates) >= len(prepared.plan.steps) / limit
        rows = driver.run(program)
    result = to_dense(to_coo(rows, prepared.plan.equation.shape, np.dtype("float64")))
    assert_matches(result, opt_einsum.contract(equation, *arrays))
    assert db.leftovers() == []


@pytest.mark.parametrize("limit", [1, 3, 64])
def test_inlined_operands_of_a_staged_plan_ride_in_the_statements_reading_them(limit, db) -> None:
    equation, arrays, prepared = greedy_network(30, 7)
    with open_driver(db.con) as driver:
        loaded = load_relations(driver, prepared)
        inlined = sum(rel.rows is not None for rel in loaded.relations)
        layout = Layout(max_statement_steps=limit, prefix=driver.prefix)
        program = lower(prepared.plan, loaded.relations, "float", driver.dialect, layout=layout)
        creates = [s for s in program.setup if s.key == "create"]
        assert len(creates) == len(program.temporaries)
        steps = {name.removeprefix(driver.prefix) for name in program.temporaries}
        assert all(name.startswith("t") for name in steps)  # a table per group, none per operand
        assert len(creates) <= len(prepared.plan.steps)
        assert inlined == (len(arrays) if driver.dialect.inline_rows else 0)
        rows = driver.run(program)
    result = to_dense(to_coo(rows, prepared.plan.equation.shape, np.dtype("float64")))
    assert_matches(result, opt_einsum.contract(equation, *arrays))
    assert db.leftovers() == []


def test_a_staged_script_writes_each_array_into_the_statement_reading_it(db) -> None:
    equation = ",".join(f"{a}{b}" for a, b in zip("abcdefgh", "bcdefghi")) + "->ai"
    rng = np.random.default_rng(3)
    arrays = [random_operand((2, 2), "float64", 0.9, rng) for _ in range(8)]
    script = einsql.to_sql(equation, *arrays, staged=True, dialect=db.name)
    statements = [s for s in script.split(";\n") if s.strip()]
    creates = [s for s in statements if s.lstrip().startswith("CREATE")]
    assert len(creates) == 1 and script.count("VALUES") == len(arrays)
    expected = opt_einsum.contract(equation, *arrays)
    rows = run_script(db, script)
    result = np.zeros((2, 2))
    for i, k, value in rows:
        result[i, k] = value
    assert_matches(result, expected)
    assert db.leftovers() == []
