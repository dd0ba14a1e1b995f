"""The differential fuzzer: generated einsums against NumPy on every database.

Each example draws an equation in one of NumPy's forms (explicit, implicit,
ellipsis with size-1 broadcasting, labels past NumPy's 52, interleaved with NumPy's
52 integers), operands
of every dtype (mixed too) holding zeros, NaN, infinities, -0.0 and integers
whose sums pass 2**63, given as arrays, ``CooArray``, pydata ``sparse`` or
scipy matrices, or tables the test loads itself under hostile names; and every
``optimize=``, ``staged=`` and ``out=``. The oracle is ``numpy.einsum`` (exact
Python integers for integer sums), or a brute-force loop for the semirings.

The number of examples per database is ``--fuzz-examples N`` or the
``EINSQL_FUZZ_EXAMPLES`` environment variable (default 300, what CI runs).
"""

from __future__ import annotations

import collections
import itertools
import math
import os
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sps
import sparse
from conftest import Database, oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opt_einsum import get_symbol

import einsql
from einsql.api import AGGREGATES

DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]

#: Names of tables the fuzzer loads: each looks like something einsql could generate.
HOSTILE_NAMES = ["t0", "t1", "a0", "e0", "x0", "x1", "u", "v", "state", 'we"ird;', "Ü t"]

STRATEGIES = ["auto", "greedy", "optimal", "dp", "sparse", "branch-2"]


def fuzz_examples(config: pytest.Config | None = None) -> int:
    option = config.getoption("--fuzz-examples") if config is not None else None
    return int(option or os.environ.get("EINSQL_FUZZ_EXAMPLES", 300))


def _settings(request: pytest.FixtureRequest) -> settings:
    return settings(
        max_examples=fuzz_examples(request.config),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,  # each backend draws afresh; no replay across backends
    )


# --- equations ---------------------------------------------------------------------------


@st.composite
def equations(draw: st.DrawFn) -> dict[str, Any]:
    """An equation, its operands' shapes and the form to call it in."""
    letters = draw(st.lists(st.integers(0, 60), min_size=1, max_size=5, unique=True))
    sizes = {label: draw(st.sampled_from([0, 1, 1, 2, 2, 3])) for label in letters}
    if draw(st.integers(0, 3)):  # size 0 only sometimes: it makes every result zero
        sizes = {k: v or 2 for k, v in sizes.items()}
    count = draw(st.integers(1, 4))
    terms = [
        draw(st.lists(st.sampled_from(letters), max_size=3)) for _ in range(count)
    ]  # repeats make diagonals; a label in 3+ terms is a hyperedge
    used = sorted({label for term in terms for label in term})
    ellipsis = draw(st.integers(0, 4)) == 0
    broadcast = draw(st.lists(st.sampled_from([1, 2]), max_size=2)) if ellipsis else []
    form = draw(st.sampled_from(["explicit", "implicit", "interleaved", "interleaved-implicit"]))
    output = None
    if form in ("explicit", "interleaved"):
        kept = draw(st.permutations(used))[: draw(st.integers(0, len(used)))]
        if form == "explicit" and kept and draw(st.integers(0, 5)) == 0:
            kept = [*kept, kept[0]]  # einsql's extension: a repeated output label
        output = list(kept)
    shapes = []
    for term in terms:
        dims = [1 if draw(st.integers(0, 7)) == 0 else sizes[label] for label in term]
        lead = (
            broadcast[len(broadcast) - draw(st.integers(0, len(broadcast))) :] if ellipsis else []
        )
        shapes.append(tuple([*lead, *dims]))
    return {"terms": terms, "output": output, "form": form, "ellipsis": ellipsis, "shapes": shapes}


def _symbol(label: int) -> str:
    return str(get_symbol(label))


def call_arguments(case: dict[str, Any], operands: list[Any]) -> list[Any]:
    """The arguments of an einsum call in the case's form."""
    ellipsis = case["ellipsis"]
    if case["form"].startswith("interleaved"):  # NumPy's labels 0..51, in the same order
        number = {x: k for k, x in enumerate(sorted({x for t in case["terms"] for x in t}))}
        args: list[Any] = []
        for operand, term in zip(operands, case["terms"]):
            args += [operand, ([Ellipsis] if ellipsis else []) + [number[x] for x in term]]
        if case["output"] is not None:
            args.append(([Ellipsis] if ellipsis else []) + [number[x] for x in case["output"]])
        return args
    head = ",".join(("..." if ellipsis else "") + "".join(map(_symbol, t)) for t in case["terms"])
    if case["output"] is not None:
        head += "->" + ("..." if ellipsis else "") + "".join(map(_symbol, case["output"]))
    return [head, *operands]


def numpy_subscripts(case: dict[str, Any]) -> str:
    """The same equation in NumPy's letters (the oracle; labels renumbered below 52)."""
    order = sorted({label for term in case["terms"] for label in term})
    letters = dict(zip(order, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    dots = "..." if case["ellipsis"] else ""
    head = ",".join(dots + "".join(letters[x] for x in term) for term in case["terms"])
    if case["output"] is None:  # implicit: once-used labels by integer (sublists), by symbol
        counts = {x: sum(term.count(x) for term in case["terms"]) for x in order}
        kept = [x for x in order if counts[x] == 1]
        if case["form"] == "implicit":
            kept.sort(key=_symbol)
        return f"{head}->{dots}" + "".join(letters[x] for x in kept)
    return f"{head}->{dots}" + "".join(letters[x] for x in case["output"])


# --- values ------------------------------------------------------------------------------


def values(draw: st.DrawFn, shape: tuple[int, ...], dtype: str, special: bool) -> np.ndarray:
    size = math.prod(shape)
    kind = np.dtype(dtype).kind
    if kind == "b":
        flat = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        return np.array(flat, dtype=bool).reshape(shape)
    if kind in "iu":
        info = np.iinfo(dtype)
        big = dtype == "int64" and draw(st.integers(0, 4)) == 0  # sums past 2**63
        low, high = (info.min, info.max) if big else (max(info.min, -4), min(info.max, 4))
        choices = st.one_of(st.just(0), st.integers(low, high))
        flat = draw(st.lists(choices, min_size=size, max_size=size))
        return np.array(flat, dtype=dtype).reshape(shape)
    finite = st.floats(-4, 4, allow_nan=False, width=16).map(lambda x: round(x, 2))
    pool = [st.just(0.0), finite]
    if special:
        pool.append(st.sampled_from([math.nan, math.inf, -math.inf, -0.0]))
    reals = st.one_of(*pool)
    real = np.array(draw(st.lists(reals, min_size=size, max_size=size)), dtype=np.float64)
    if kind == "c":
        imag = np.array(draw(st.lists(reals, min_size=size, max_size=size)), dtype=np.float64)
        parts = np.empty(size, dtype=np.complex128)
        parts.real, parts.imag = real, imag
        return parts.astype(dtype).reshape(shape)
    return real.astype(dtype).reshape(shape)


def as_kind(array: np.ndarray, kind: str) -> Any:
    """``array`` as the operand kind asked for (ndarray, CooArray, pydata or scipy)."""
    if kind == "coo":
        coords = np.argwhere(array != 0) if array.ndim else np.zeros((int(array != 0), 0), int)
        return einsql.CooArray(coords, array[array != 0].reshape(-1), array.shape)
    if kind == "pydata":
        return sparse.COO.from_numpy(array)
    if kind == "scipy" and array.ndim == 2 and array.dtype != np.float16:
        return sps.coo_array(array)
    return array


# --- tables the test loads itself ----------------------------------------------------------


def hostile_names(db: Database) -> list[str]:
    """The names this database can give a table (Spark: letters, digits and ``_`` only)."""
    if db.name == "spark":
        return [name for name in HOSTILE_NAMES if name.isascii() and name.isidentifier()]
    return HOSTILE_NAMES


def quoted(name: str, db: Database) -> str:
    mark = "`" if db.name == "spark" else '"'
    return mark + name.replace(mark, mark * 2) + mark


def drop_tables(db: Database, names: list[str]) -> None:
    db.execute(*[f"DROP TABLE IF EXISTS {quoted(name, db)}" for name in names])


def load_table(db: Database, name: str, array: np.ndarray) -> einsql.Table:
    """``array`` stored as table ``name``; a failure leaves no transaction open."""
    try:
        return _load_table(db, name, array)
    except BaseException:
        db.end(commit=False)
        raise


def _load_table(db: Database, name: str, array: np.ndarray) -> einsql.Table:
    """``array``'s nonzeros as table ``name`` (axis columns ``i0..``, value columns by dtype)."""
    kind = array.dtype.kind
    axes = [f"i{k}" for k in range(array.ndim)]
    value_names = ["val_re", "val_im"] if kind == "c" else ["val"]
    value_type = {"b": "BOOLEAN", "i": "BIGINT", "u": "BIGINT", "f": "DOUBLE PRECISION"}
    sql_type = value_type.get(kind, "DOUBLE PRECISION")
    if db.name == "sqlite":
        sql_type = "INTEGER" if kind in "biu" else "REAL"
    if db.name == "spark":
        sql_type = sql_type.replace("DOUBLE PRECISION", "DOUBLE")
    table = quoted(name, db)
    columns = [f"{a} BIGINT" for a in axes] + [f"{v} {sql_type}" for v in value_names]
    db.execute(f"DROP TABLE IF EXISTS {table}", f"CREATE TABLE {table} ({', '.join(columns)})")
    mask = array != 0 if kind != "f" else ~((array == 0) & ~np.signbit(array))
    mask |= np.isnan(array) if kind in "fc" else False
    rows = []
    for index in np.argwhere(mask) if array.ndim else ([()] if mask else []):
        value = array[tuple(index)]
        parts = [value.real, value.imag] if kind == "c" else [value]
        cells = [_cell(p, kind, db.name) for p in parts]
        rows.append((*[int(i) for i in index], *cells))
    if rows and db.name == "spark":
        schema = ", ".join(f"`{c.split()[0]}` {c.split(' ', 1)[1]}" for c in columns)
        db.con.createDataFrame(rows, schema=schema).write.insertInto(name)
    elif rows:
        marks = ", ".join(["?" if db.name != "postgres" else "%s"] * len(rows[0]))
        insert = f"INSERT INTO {table} VALUES ({marks})"
        if db.name == "postgres":
            with db.con.cursor() as cursor:
                cursor.executemany(insert, rows)
        else:
            db.con.executemany(insert, rows)
        db.end(commit=True)
    return einsql.Table(name, array.shape, dtype=array.dtype.name)


def _cell(value: Any, kind: str, backend: str) -> Any:
    if kind == "b":
        return bool(value) if backend != "sqlite" else int(bool(value))
    if kind in "iu":
        return int(value)
    x = float(value)
    return None if (math.isnan(x) and backend == "sqlite") else x


# --- the oracle and the comparison --------------------------------------------------------


def expected(case: dict[str, Any], arrays: list[np.ndarray]) -> np.ndarray:
    subscripts = numpy_subscripts(case)
    if np.result_type(*arrays).kind in "iu":  # exact, as einsql is
        exact = oracle(subscripts, [a.astype(object) for a in arrays])
        return np.asarray(exact, dtype=object)
    with np.errstate(all="ignore"):
        return np.asarray(oracle(subscripts, arrays))


def check(result: Any, want: np.ndarray, arrays: list[np.ndarray]) -> None:
    result = np.asarray(result)
    assert result.shape == want.shape, (result.shape, want.shape)
    if want.dtype == object:  # integers: exact; einsql keeps Python ints past int64
        target = np.result_type(*arrays)
        fits = all(-(2**63) <= int(v) < 2**63 for v in want.flat)
        if target.itemsize < 8 or fits:
            wrapped = np.array([int(v) % 2**64 for v in want.flat], dtype=np.uint64)
            np.testing.assert_array_equal(
                result.astype(target), wrapped.astype(np.int64).astype(target).reshape(want.shape)
            )
            assert result.dtype == target
        else:
            assert [int(v) for v in result.flat] == [int(v) for v in want.flat]
        return
    assert result.dtype == want.dtype, (result.dtype, want.dtype)
    if want.dtype.kind == "b":
        np.testing.assert_array_equal(result, want)
        return
    parts = (
        [(result.real, want.real), (result.imag, want.imag)]
        if want.dtype.kind == "c"
        else [(result, want)]
    )
    rtol = 1e-9 if want.dtype.itemsize >= 8 and want.dtype != np.complex64 else 2e-3
    for got, wanted in parts:
        got, wanted = np.asarray(got, np.float64), np.asarray(wanted, np.float64)
        if want.dtype.kind == "c":  # inf in complex products: NaN parts differ by formula
            finite = np.isfinite(wanted)
            assert (np.isfinite(got) == finite).all() or not finite.all()
            got, wanted = got[finite & np.isfinite(got)], wanted[finite & np.isfinite(got)]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(wanted))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(wanted))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(wanted))
        both = np.isfinite(wanted)
        np.testing.assert_allclose(got[both], wanted[both], rtol=rtol, atol=rtol * 16)


# --- the fuzz tests ------------------------------------------------------------------------


@pytest.fixture()
def fuzz_settings(request: pytest.FixtureRequest) -> settings:
    return _settings(request)


#: Examples per test and database: drawn, and checked against an oracle (printed with -s).
COUNTS: collections.Counter[str] = collections.Counter()


def report(test: str, backend: str) -> None:
    drawn, checked = COUNTS[f"{test} {backend} drawn"], COUNTS[f"{test} {backend} checked"]
    planned = COUNTS[f"{test} {backend} plan reference"]
    print(
        f"\nfuzz {test} on {backend}: {drawn} examples drawn, {checked} checked "
        f"({planned} of them against the plan on dense arrays)"
    )


def test_fuzz_einsum_against_numpy(db: Database, fuzz_settings: settings) -> None:
    @fuzz_settings
    @given(st.data())
    def run(data: st.DataObject) -> None:
        COUNTS[f"einsum {db.name} drawn"] += 1
        case = data.draw(equations())
        mixed = data.draw(st.booleans())
        dtype = data.draw(st.sampled_from(DTYPES))
        special = data.draw(st.integers(0, 3)) == 0
        arrays = [
            values(
                data.draw, shape, data.draw(st.sampled_from(DTYPES)) if mixed else dtype, special
            )
            for shape in case["shapes"]
        ]
        if not _numpy_accepts(case, arrays):
            return
        kinds = [
            data.draw(st.sampled_from(["array", "array", "coo", "pydata", "scipy", "table"]))
            for _ in arrays
        ]
        names = iter(data.draw(st.permutations(hostile_names(db))))
        optimize = data.draw(st.sampled_from(STRATEGIES))
        staged = data.draw(st.sampled_from([None, True, False]))
        out = data.draw(st.sampled_from(["dense", "coo"]))
        aggregate = data.draw(st.sampled_from(AGGREGATES))
        want = expected(case, arrays)
        operands, tables = [], []
        try:
            for array, kind in zip(arrays, kinds):
                if kind == "table":
                    tables.append(next(names))
                    operands.append(load_table(db, tables[-1], array))
                else:
                    operands.append(as_kind(array, kind))
            result = einsql.einsum(
                *call_arguments(case, operands),
                con=db.con,
                optimize=optimize,
                staged=staged,
                out=out,
                aggregate=aggregate,
            )
            reference = None
            if want.dtype.kind in "fc" and not all(np.isfinite(a).all() for a in arrays):
                reference = einsql.einsum(  # the same plan on dense arrays
                    *call_arguments(case, operands), con=db.con, optimize=optimize, backend="numpy"
                )
        except einsql.ExactnessError:
            assert want.dtype == object and _beyond(db.name, want), "ExactnessError without cause"
            return
        finally:
            drop_tables(db, tables)
        if out == "coo":
            result = result.todense()
            result = result[()] if result.ndim == 0 else result
        try:
            check(result, want, arrays)
        except AssertionError:
            # NaN and infinities: einsql sums a label of one operand before the
            # joins, as NumPy's own kernels do for one or two operands but not its
            # loop over three or more; there, 0 * inf inside a term NumPy
            # multiplies out may be summed away first (README: NaN and
            # infinities). The promise is then the same plan on dense arrays.
            if reference is None:
                raise
            check(result, np.asarray(reference), arrays)
            COUNTS[f"einsum {db.name} plan reference"] += 1
        COUNTS[f"einsum {db.name} checked"] += 1
        assert db.leftovers() == []

    run()
    report("einsum", db.name)


def _numpy_accepts(case: dict[str, Any], arrays: list[np.ndarray]) -> bool:
    if not _repeats_fit(case, arrays):
        return False
    try:
        with np.errstate(all="ignore"):
            oracle(numpy_subscripts(case), arrays)
    except ValueError:
        return False
    return True


def _repeats_fit(case: dict[str, Any], arrays: list[np.ndarray]) -> bool:
    """Whether each label repeated within an operand has one size there.

    NumPy's rule, which NumPy 2.4 itself breaks: ``einsum("aa->a")`` of a (0, 1)
    array gives shape (1,) holding memory it never wrote (the trace of the same
    array is refused). einsql refuses both, so the oracle skips such operands.
    """
    for term, array in zip(case["terms"], arrays):
        named = array.shape[array.ndim - len(term) :] if term else ()
        sizes: dict[Any, int] = {}
        if any(sizes.setdefault(label, n) != n for label, n in zip(term, named)):
            return False
    return True


def _beyond(backend: str, want: np.ndarray) -> bool:
    """Whether an exact integer result passes what the backend holds exactly."""
    limit = {"duckdb": 2**127, "sqlite": 2**63, "postgres": math.inf}[backend]
    return any(abs(int(v)) >= limit for v in want.flat) or backend != "postgres"


SEMIRINGS = {
    "min-plus": (np.min, np.add, math.inf),
    "max-plus": (np.max, np.add, -math.inf),
    "max-product": (np.max, np.multiply, 0.0),
    "log-sum-exp": (lambda x: np.logaddexp.reduce(x) if len(x) else -math.inf, np.add, -math.inf),
    "or-and": (np.any, np.logical_and, False),
}


def brute_force(subscripts: str, arrays: list[np.ndarray], ring: str) -> np.ndarray:
    """The semiring einsum by enumerating every index tuple (the oracle)."""
    plus, times, zero = SEMIRINGS[ring]
    head, output = subscripts.split("->")
    terms = head.split(",")
    sizes: dict[str, int] = {}
    for term, array in zip(terms, arrays):
        sizes.update(zip(term, array.shape))
    labels = sorted(sizes)
    dtype = bool if ring == "or-and" else np.float64
    result = np.full([sizes[c] for c in output], zero, dtype=dtype)
    groups: dict[tuple[int, ...], list[Any]] = {}
    for index in itertools.product(*[range(sizes[c]) for c in labels]):
        at = dict(zip(labels, index))
        factors = [array[tuple(at[c] for c in term)] for term, array in zip(terms, arrays)]
        value = factors[0]
        for factor in factors[1:]:
            value = times(value, factor)
        groups.setdefault(tuple(at[c] for c in output), []).append(value)
    for key, terms_ in groups.items():
        result[key] = plus(np.array(terms_))
    return result


def test_fuzz_semirings_against_brute_force(db: Database, fuzz_settings: settings) -> None:
    @fuzz_settings
    @given(st.data())
    def run(data: st.DataObject) -> None:
        COUNTS[f"semirings {db.name} drawn"] += 1
        ring = data.draw(st.sampled_from(sorted(SEMIRINGS)))
        count = data.draw(st.integers(1, 3))
        letters = "abcd"
        sizes = {c: data.draw(st.integers(1, 3)) for c in letters}
        terms = [
            "".join(data.draw(st.lists(st.sampled_from(letters), max_size=3, unique=True)))
            for _ in range(count)
        ]
        used = sorted(set("".join(terms)))
        output = "".join(data.draw(st.permutations(used))[: data.draw(st.integers(0, len(used)))])
        subscripts = ",".join(terms) + "->" + output
        _, _, zero = SEMIRINGS[ring]
        if ring == "or-and":
            elements: st.SearchStrategy[Any] = st.booleans()
        elif ring == "max-product":
            elements = st.one_of(st.just(0.0), st.floats(0, 4, width=16))
        else:
            elements = st.one_of(st.just(zero), st.floats(-4, 4, width=16))
        arrays = [
            np.array(
                data.draw(
                    st.lists(
                        elements,
                        min_size=math.prod(sizes[c] for c in t),
                        max_size=math.prod(sizes[c] for c in t),
                    )
                ),
                dtype=bool if ring == "or-and" else np.float64,
            ).reshape([sizes[c] for c in t])
            for t in terms
        ]
        optimize = data.draw(st.sampled_from(["auto", "greedy", "optimal", "sparse"]))
        aggregate = data.draw(st.sampled_from(AGGREGATES))
        result = einsql.einsum(
            subscripts, *arrays, con=db.con, semiring=ring, optimize=optimize, aggregate=aggregate
        )
        want = brute_force(subscripts, arrays, ring)
        result = np.asarray(result)
        assert result.shape == want.shape
        if ring == "or-and":
            np.testing.assert_array_equal(result, want)
        else:
            np.testing.assert_allclose(result, want, rtol=1e-9, atol=1e-12)
        COUNTS[f"semirings {db.name} checked"] += 1
        assert db.leftovers() == []

    run()
    report("semirings", db.name)
