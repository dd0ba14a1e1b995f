"""The public entry points: ``einsum``, ``to_sql`` and ``plan``.

Each takes NumPy's two calling forms: a subscripts string followed by operands,
or the interleaved form ``(op0, sublist0, op1, sublist1, ..., [output])``.

>>> import numpy as np
>>> a = np.arange(6.0).reshape(2, 3)
>>> einsum("ij,kj->ik", a, a)
array([[ 5., 14.],
       [14., 50.]])
>>> einsum(a, [0, 1], [1])
array([3., 5., 7.])
>>> einsum("ii", np.eye(3, dtype=int), backend="numpy")
np.int64(3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from einsql import results
from einsql.checks import TableFacts, inspect_table
from einsql.convention import Program, Relation, axis_columns, stored_values, value_columns
from einsql.dialect import INT64_MAX, Dialect, load_dialect
from einsql.display import SQL
from einsql.drivers import backend_of, open_driver
from einsql.drivers.base import Driver
from einsql.duplicates import MAX_KEYS, combine_duplicates, scatter_fits
from einsql.equation import from_sublists, parse
from einsql.errors import OperandError, OptionError, SubscriptError
from einsql.expr import Expr, variables
from einsql.expr import einsum as expr_einsum
from einsql.expr_lower import lower_expression, named_tables
from einsql.forms import as_form
from einsql.frames import resolve_sizes
from einsql.iteration import Iteration
from einsql.iteration_run import iteration_sql
from einsql.logger import public
from einsql.lower import Layout, lower
from einsql.names import generated
from einsql.numpy_args import (
    check_cast,
    check_out_dtype,
    check_out_shape,
    delivered,
    numpy_request,
)
from einsql.operands import (
    CooArray,
    Operand,
    Table,
    as_operand,
    dense_input,
    from_dense,
    value_kind,
)
from einsql.planner import Plan, make_plan
from einsql.reference import evaluate
from einsql.results import check_dense_size, to_coo, to_dense
from einsql.semiring import SUM_PRODUCT, Semiring, get_semiring
from einsql.sql import int64_values

#: What ``into=`` may do when its table exists.
IF_EXISTS = ("fail", "replace")

#: Where ``aggregate=`` sums the last step's products: chosen by the sparsity model, or fixed.
AGGREGATES = ("auto", "database", "client")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything known about an einsum before any database is involved.

    Attributes:
        plan: the contraction plan.
        operands: the operands, as COO arrays or tables.
        dtype: the NumPy dtype the result is computed in.
        kind: the value kind the SQL computes with.
        nonfinite: whether an array operand holds NaN or an infinity.
        semiring: the semiring it computes in.
        empty: a label has size 0, so every term of the sum is empty and the
            result is zeros (NaN and infinities in other operands meet nothing).
        returned: the dtype of the result returned: ``dtype``, or ``object``
            when an operand is an object array or ``dtype=object`` was asked.

    """

    plan: Plan
    operands: tuple[Operand, ...]
    dtype: np.dtype[Any]
    kind: str
    nonfinite: bool
    semiring: Semiring = SUM_PRODUCT
    empty: bool = False
    returned: np.dtype[Any] | None = None

    @property
    def result_dtype(self) -> np.dtype[Any]:
        """The dtype of the result returned to the caller."""
        return self.returned if self.returned is not None else self.dtype


def prepare(
    args: Sequence[Any],
    optimize: Any = "auto",
    semiring: str = "sum-product",
    dtype: np.dtype[Any] | None = None,
    casting: str = "safe",
    out_dtype: np.dtype[Any] | None = None,
) -> Prepared:
    """Parse, read operands and plan; every input error is raised here.

    ``dtype`` and ``casting`` are NumPy's: operands are cast to ``dtype`` under
    the casting rule (see :mod:`einsql.numpy_args`). Without ``dtype``, an
    ``out`` array's dtype (``out_dtype``) joins the operands' in the type the
    result is computed in, as in NumPy (``uint8`` operands into an ``int16``
    array are multiplied as ``int16``).

    >>> prepare(["ij,jk", np.ones((2, 3)), np.ones((3, 4), dtype=np.float32)]).dtype
    dtype('float64')
    >>> prepare(["i->", np.arange(3, dtype=np.int16)], dtype=np.dtype(np.float32)).dtype
    dtype('float32')
    """
    ring = get_semiring(semiring)
    subscripts, raw = _split_args(args)
    raw = [dense_input(value, k) for k, value in enumerate(raw)]
    operands = tuple(as_operand(value, k, ring.zero) for k, value in enumerate(raw))
    operands = resolve_sizes(subscripts, operands)
    sources = [_source_dtype(value, op) for value, op in zip(raw, operands)]
    if dtype is None and out_dtype is not None and ring.kind is None:
        dtype = np.result_type(*sources, out_dtype)  # NumPy computes in the common type, out's too
    if dtype is not None:
        if ring.kind is not None:
            raise OptionError(f"dtype= casts the operands of a sum-product einsum, not {ring.name}")
        pairs = enumerate(zip(operands, sources))
        operands = tuple(_cast(op, source, dtype, casting, k) for k, (op, source) in pairs)
    elif ring.kind is None:  # each operand becomes the result's dtype, under the casting rule
        common = np.result_type(*sources)
        for k, source in enumerate(sources):
            check_cast(source, common, casting, f"operand {k}")
    equation = parse(subscripts, [op.shape for op in operands])
    automatic = isinstance(optimize, str) and optimize == "auto"
    overflow = ring is SUM_PRODUCT and automatic and _may_overflow(operands)
    if overflow:  # multiply as NumPy does, left to right, so inf * 0 happens where it does
        plan = make_plan(equation, [(0, 1)] * (len(operands) - 1), local_sums=False)
    else:
        plan = make_plan(equation, optimize, ring.name, [op.nnz for op in operands])
    if ring.kind is not None:  # the semiring fixes the values: float, or bool for or-and
        fixed = np.dtype(np.bool_ if ring.kind == "bool" else np.float64)
        for k, op in enumerate(operands):
            value_kind(np.dtype(op.dtype), f"operand {k}")
        if out_dtype is not None:
            check_out_dtype(out_dtype, fixed, casting)
        return Prepared(plan, operands, fixed, ring.kind, False, ring)
    returned: np.dtype[Any] = dtype if dtype is not None else np.result_type(*sources)
    if out_dtype is not None:
        check_out_dtype(out_dtype, returned, casting)
    if returned.kind == "O":  # NumPy computes with Python numbers: exact integers, doubles
        operands = tuple(_widened(op, k) for k, op in enumerate(operands))
    computed = np.result_type(*[np.dtype(op.dtype) for op in operands])
    kind = value_kind(computed, "the result")
    kept = None if returned == computed else returned
    if 0 in equation.size_of.values():  # every product is empty: the result is all zeros
        emptied = tuple(_emptied(op) for op in operands)
        return Prepared(plan, emptied, computed, kind, False, empty=True, returned=kept)
    nonfinite = overflow or any(
        isinstance(op, CooArray) and op.dtype.kind in "fc" and not np.isfinite(op.values).all()
        for op in operands
    )
    return Prepared(plan, operands, computed, kind, nonfinite, returned=kept)


def _source_dtype(value: Any, operand: Operand) -> np.dtype[Any]:
    """The dtype NumPy sees for an operand: an object array's is ``object``."""
    return value.dtype if isinstance(value, np.ndarray) else np.dtype(operand.dtype)


#: The dtype an object computation gives each kind: Python's ints, floats and complex numbers.
_PYTHON_NUMBERS = {"b": np.int64, "i": np.int64, "u": np.int64, "f": np.float64, "c": np.complex128}


def _widened(operand: Operand, k: int) -> Operand:
    """Operand ``k`` as an object computation sees it (Python numbers; ``True + True`` is 2).

    Raises:
        OperandError: ``uint64`` values past 2**63, which int64 does not hold.

    """
    if isinstance(operand, Table):
        return operand
    values = operand.values
    if values.dtype == np.uint64 and values.size and int(values.max()) > INT64_MAX:
        raise OperandError(
            f"operand {k} holds uint64 values past 2**63 in an object computation; "
            "einsql computes exact integers in int64 columns"
        )
    target = _PYTHON_NUMBERS[values.dtype.kind]
    return CooArray(operand.coords, values.astype(target), operand.shape)


def _cast(
    operand: Operand, source: np.dtype[Any], dtype: np.dtype[Any], casting: str, k: int
) -> Operand:
    """Operand ``k`` cast to ``dtype`` as NumPy's ``dtype=`` does (object: left as it is).

    Raises:
        ArgumentError: ``casting`` forbids the cast.
        OptionError: the cast would narrow a table's values, which stay in the database.

    """
    check_cast(source, dtype, casting, f"operand {k}")
    if dtype.kind == "O":
        return operand
    if isinstance(operand, Table):
        if np.result_type(np.dtype(operand.dtype), dtype) != dtype:
            raise OptionError(
                f"dtype={dtype} would narrow table {operand.name!r} ({operand.dtype}); "
                "einsql narrows array operands only"
            )
        return operand
    return CooArray(operand.coords, operand.values.astype(dtype), operand.shape)


def _may_overflow(operands: Sequence[Operand]) -> bool:
    """Whether a product of finite float array entries could pass the largest double.

    Then a term's partial product may overflow to inf before it meets a
    missing zero, which NumPy's dense product turns into NaN. (NaN and
    infinities already in the operands are handled by the NaN terms alone.)
    """
    magnitude = 0.0  # log10 of the largest possible product of finite magnitudes
    for op in operands:
        if isinstance(op, CooArray) and op.dtype.kind in "fc" and op.nnz:
            finite = np.abs(op.values[np.isfinite(op.values)])
            largest = float(finite.max()) if finite.size else 0.0
            magnitude += math.log10(largest) if largest > 1 else 0.0
    return magnitude > math.log10(np.finfo(np.float64).max)


def _emptied(operand: Operand) -> Operand:
    """An array operand without its entries (a table of a size-0 axis has none to drop)."""
    if isinstance(operand, Table):
        return operand
    return CooArray(operand.coords[:0], operand.values[:0], operand.shape)


@public("einsum")
def einsum(
    *operands: Any,
    out: Any = None,
    dtype: Any = None,
    order: str = "K",
    casting: str = "safe",
    optimize: Any = "auto",
    backend: str | None = None,
    con: Any = None,
    into: str | None = None,
    if_exists: str = "fail",
    staged: bool | None = None,
    nonfinite: bool | None = None,
    semiring: str = "sum-product",
    echo: bool = False,
    aggregate: str = "auto",
) -> Any:
    """Evaluate an einsum in a database (or with the NumPy reference).

    Takes ``numpy.einsum``'s whole signature (``out``, ``dtype``, ``order``,
    ``casting``, ``optimize``; see :mod:`einsql.numpy_args`) and einsql's own
    arguments after it.

    Args:
        *operands: ``subscripts, op0, op1, ...`` or the interleaved form. An
            operand is a NumPy array (or array-like), a scipy.sparse matrix, a
            pydata ``sparse`` array, an :class:`einsql.Table` (or
            :func:`einsql.table`), or :func:`einsql.coo` of a data frame,
            Arrow data or a file (its unsized axes take their label's size
            across the operands). An object
            array of Python numbers is read by the rule of
            :func:`einsql.operands.numeric_objects` and gives an object array.
        out: None, a NumPy array to write the result into (as NumPy's ``out``,
            returned), or einsql's result form: ``"dense"`` (what
            ``numpy.einsum`` returns), ``"coo"`` (a :class:`einsql.CooArray`
            of the nonzeros), or a table of the nonzeros as ``"arrow"``,
            ``"pandas"``, ``"polars"`` or ``"scipy"`` (see :mod:`einsql.forms`).
        dtype: cast every operand to this dtype (under ``casting``) first.
        order: the memory layout of a dense result: ``"C"``, ``"F"``, ``"A"``
            (Fortran if every array operand is) or ``"K"`` (C order).
        casting: NumPy's casting rule for ``dtype`` and ``out``.
        optimize: the contraction-path strategy (a name from
            :func:`einsql.planner.strategies`, an opt_einsum ``PathOptimizer``)
            or an explicit path; NumPy's ``True`` (``"greedy"``), ``False``
            (left to right), ``(strategy, memory_limit)`` and
            ``["einsum_path", ...]`` too. The default ``"auto"`` is opt_einsum's.
        backend: ``"duckdb"``, ``"postgres"``, ``"sqlite"`` or ``"numpy"`` (the
            reference). None takes the backend of ``con`` (DuckDB without one).
        con: where to run: None (a new in-memory database), a duckdb, psycopg 3
            or sqlite3 connection, a SQLAlchemy ``Engine`` or ``Connection``, or
            a URL (``duckdb:///path``, ``postgresql://...``, ``sqlite:///path``).
            einsql never closes a connection it did not open, and leaves no
            transaction it started open.
        into: store the result as a table of this name (in ``con``) and
            return an :class:`einsql.Table` naming it. Integer results are
            stored as ``BIGINT`` (a sum past 2**63 is an ``ExactnessError``).
        if_exists: what ``into=`` does when the table exists: ``"fail"`` (an
            error, the default) or ``"replace"``. A replacement is built
            beside the old table and swapped in within one transaction, so a
            failed einsum leaves the old table as it was.
        staged: force staged (True) or single-statement (False) execution.
        nonfinite: whether values may be NaN or infinite, so that ``inf * 0``
            gives NaN as in NumPy. By default True when an array operand holds
            NaN or an infinity; table operands are taken to be finite unless
            this is True.
        semiring: ``"sum-product"`` (the ordinary einsum), ``"min-plus"``,
            ``"max-plus"``, ``"max-product"``, ``"or-and"`` or ``"log-sum-exp"``
            (see :mod:`einsql.semiring`). Missing entries, and entries equal to
            the semiring's zero, are that zero; a dense result has it filled in.
        echo: print each SQL statement, and the call's timings, on standard
            error (see :mod:`einsql.logger`).
        aggregate: where a fetched result's last step sums its products:
            ``"database"`` (``GROUP BY``), ``"client"`` (the database joins and
            multiplies, NumPy sums the repeated index tuples; see
            :mod:`einsql.duplicates`), or ``"auto"``: the client where the
            dialect says it is faster for the sparsity model's estimate of the
            step's products and nonzeros (DuckDB, for large results). Results
            stored with ``into=``, non-finite values and integer sums that
            could leave int64 are always summed in the database.

    Returns:
        The result in the requested form (``out`` itself when it is an
        array); with a symbolic operand (an :func:`einsql.var` or any
        expression), an expression instead.

    >>> import scipy.sparse as sp
    >>> m = sp.random(50, 50, density=0.1, random_state=0, format="csr")
    >>> bool(np.allclose(einsum("ij,jk->ik", m, m), (m @ m).toarray()))
    True
    >>> c = np.zeros(2, dtype=np.int32)
    >>> einsum("ij->i", np.ones((2, 3)), out=c, casting="unsafe") is c, c.tolist()
    (True, [3, 3])

    """
    if any(isinstance(op, Expr) for op in operands):
        return _symbolic_einsum(operands)
    request = numpy_request(out, dtype, order, casting)
    out_dtype = request.out.dtype if request.out is not None else None
    prepared = prepare(operands, optimize, semiring, request.dtype, request.casting, out_dtype)
    shape = prepared.plan.equation.shape
    if into is not None and (con is None or request.out is not None):
        raise OptionError(
            "into= stores a table in a database: pass that database as con=, and no out= array"
        )
    if if_exists not in IF_EXISTS:
        raise OptionError(
            f"if_exists= is one of {', '.join(map(repr, IF_EXISTS))}, not {if_exists!r}"
        )
    if aggregate not in AGGREGATES:
        raise OptionError(
            f"aggregate= is one of {', '.join(map(repr, AGGREGATES))}, not {aggregate!r}"
        )
    if request.out is not None:
        check_out_shape(request.out, shape)  # its dtype was checked by prepare
    elif request.form == "dense" and into is None:
        check_dense_size(shape, prepared.dtype)
    coo: CooArray | None
    if backend == "numpy":
        if into is not None:
            raise OptionError("into= needs a database backend, not the NumPy reference")
        coo = _run_reference(prepared, con)
    else:
        dialect = load_dialect(backend_of(con, backend))
        check_names(prepared, into, dialect)
        client = into is None and sums_in_client(prepared, dialect, aggregate)
        with open_driver(con, backend) as driver:
            coo = _run_sql(prepared, driver, into, staged, nonfinite, if_exists, client)
        if into is not None:  # integer results are stored as int64 (see int64_values)
            stored = "int64" if prepared.kind == "int" else prepared.dtype.name
            return Table(into, shape, stored)
        assert coo is not None  # rows come back whenever they are not stored
    if request.form != "dense":
        returned = prepared.returned  # None: as computed (exact Python ints past 2**63 too)
        values = coo.values if returned is None else coo.values.astype(returned)
        entries = CooArray(coo.coords, values, coo.shape)
        return entries if request.form == "coo" else as_form(entries, request.form)
    dense = to_dense(coo, prepared.semiring.zero, prepared.returned)
    return delivered(dense, request, _fortran(operands))


def _fortran(args: Sequence[Any]) -> bool:
    """Whether ``order="A"`` means Fortran order: every array operand is Fortran-contiguous.

    >>> _fortran(["ij", np.ones((2, 3), order="F")]), _fortran(["ij", np.ones((2, 3))])
    (True, False)
    """
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    fortran = [a.flags.f_contiguous for a in arrays]
    return bool(arrays) and all(fortran) and not all(a.flags.c_contiguous for a in arrays)


def einsum_path(*operands: Any, optimize: Any = "greedy") -> tuple[list[Any], str]:
    """NumPy's ``einsum_path``: the contraction path einsql takes, and a report.

    ``optimize`` takes every form :func:`einsum` takes; the default is NumPy's
    ``"greedy"``. Strategies are opt_einsum's (NumPy's ``"greedy"`` and
    ``"optimal"`` choose the same paths unless NumPy's default memory limit,
    the largest operand, binds). The path, NumPy's ``["einsum_path", (i, j),
    ...]`` list, can be passed back as ``optimize=``; the report lists the steps
    einsql runs, including the sums of labels only one operand has.

    >>> a = np.ones((2, 3)); b = np.ones((3, 4)); c = np.ones((4, 5))
    >>> path, report = einsum_path("ij,jk,kl->il", a, b, c)
    >>> path
    ['einsum_path', (1, 2), (0, 1)]
    >>> print(report.splitlines()[-1])
       3                   ij,jl->il                                   il->il
    """
    plan = prepare(operands, optimize).plan
    return ["einsum_path", *plan.path], plan.report()


def to_sql(
    *operands: Any,
    dialect: str = "duckdb",
    optimize: Any = "auto",
    staged: bool | None = None,
    nonfinite: bool | None = None,
    tables: dict[str, Table] | None = None,
    semiring: str = "sum-product",
    trace: bool = False,
) -> str:
    """The SQL text of an einsum, to paste into a database.

    Array operands are inlined as typed ``VALUES`` lists, so the text runs as it
    is; :class:`einsql.Table` operands are referenced by name. The query returns
    the result's nonzeros as ``i0, i1, ..., val`` rows.

    ``dialect`` is one of ``duckdb``, ``postgres`` and ``sqlite``, which the
    test suite runs, or one of sqlglot's ``trino``, ``spark``, ``bigquery`` and
    ``snowflake``, written as text only and not executed by the test suite.

    ``to_sql(expr)`` writes one statement for an expression (a derivative too):
    each variable reads the table named after it in the COO convention, or the
    :class:`einsql.Table` that ``tables`` maps its name to. An expression of
    more than the dialect's ``max_statement_steps`` CTEs (or any, with
    ``staged=True``) is written as a staged script instead, as a long einsum is.

    ``to_sql(program)`` writes an :class:`einsql.Iteration` (from
    :func:`einsql.descent` or :func:`einsql.power_method`) as one ``WITH
    RECURSIVE`` statement returning the last iterate as ``step, variable, i0,
    ..., val`` rows, data variables read as for an expression; with
    ``trace=True`` it returns ``step, loss`` rows instead.

    >>> print(to_sql("i,i->", Table("x", (3,)), Table("y", (3,))))
    WITH "__einsql_t0" AS (
      SELECT
        SUM("x0"."val" * "x1"."val") AS "val"
      FROM "x" AS "x0"
      JOIN "y" AS "x1"
        ON "x0"."i0" = "x1"."i0"
      HAVING
        COUNT(*) > 0
    )
    SELECT
      "__einsql_t0"."val" AS "val"
    FROM "__einsql_t0" AS "__einsql_t0";
    """
    if operands and isinstance(operands[0], Iteration):
        return iteration_sql(operands[0], dialect, tables, trace)
    if operands and isinstance(operands[0], Expr):
        return _expression_sql(operands, dialect, optimize, tables, staged)
    program = compile_program(operands, dialect, optimize, staged, nonfinite, semiring)
    return SQL(program.render(load_dialect(dialect)))


def compile_program(
    args: Sequence[Any],
    dialect: str = "duckdb",
    optimize: Any = "auto",
    staged: bool | None = None,
    nonfinite: bool | None = None,
    semiring: str = "sum-product",
) -> Program:
    """The SQL program of an einsum as sqlglot trees, arrays inlined (see ``to_sql``)."""
    prepared = prepare(args, optimize, semiring)
    target = load_dialect(dialect)
    check_names(prepared, None, target)
    relations = [_inline_relation(op, k, prepared.kind) for k, op in enumerate(prepared.operands)]
    return lower(
        prepared.plan,
        relations,
        prepared.kind,
        target,
        layout=Layout(staged=staged),
        nonfinite=_nonfinite(prepared, prepared.nonfinite, nonfinite),
    )


def plan(*operands: Any, optimize: Any = "auto", semiring: str = "sum-product") -> Plan:
    """The contraction plan of an einsum; ``print`` it to see each step.

    >>> print(plan("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))))
    einsum ij,jk,kl->il (auto, 128 flops)
    step  equation   inputs  flops  size
    t0    ij,jk->ik  a0 a1   48     8
    t1    kl,ik->il  a2 t0   80     10
    """
    return prepare(operands, optimize, semiring).plan


def _expression_sql(
    args: Sequence[Any],
    dialect: str,
    optimize: Any,
    tables: dict[str, Table] | None,
    staged: bool | None,
) -> str:
    if len(args) != 1:
        raise OptionError("to_sql takes one expression; put arrays in it with einsql.const")
    expr, target = args[0], load_dialect(dialect)
    relations = named_tables(variables(expr), tables, target)
    layout = Layout(staged=staged)
    return SQL(lower_expression(expr, relations, target, optimize, layout).render(target))


def _symbolic_einsum(args: Sequence[Any]) -> Expr:
    """An einsum over expressions is an expression (evaluated later, anywhere)."""
    subscripts, operands = _split_args(args)
    return expr_einsum(subscripts, *operands)


def _split_args(args: Sequence[Any]) -> tuple[str, list[Any]]:
    if not args:
        raise SubscriptError("einsum needs subscripts and at least one operand")
    if isinstance(args[0], str):
        return args[0], list(args[1:])
    return from_sublists(args)


def _nonfinite(prepared: Prepared, found: bool, nonfinite: bool | None) -> bool:
    """Whether steps add NaN terms: as asked, else as found; never when a label has size 0."""
    return (found if nonfinite is None else nonfinite) and not prepared.empty


def check_names(prepared: Prepared, into: str | None, dialect: Dialect) -> None:
    """Raise if a table or column name cannot be used as it is in ``dialect``.

    Raises:
        OperandError: a name is reserved, empty, holds a NUL or is too long for
            the database.

    """
    for k, op in enumerate(prepared.operands):
        if isinstance(op, Table):
            dialect.check_table(op, f"table operand {k}")
    if into is not None:
        dialect.check_table_name(into, "the into= table")


def _run_sql(
    prepared: Prepared,
    driver: Driver,
    into: str | None,
    staged: bool | None,
    nonfinite: bool | None,
    if_exists: str = "fail",
    client_sum: bool = False,
) -> CooArray | None:
    loaded = load_relations(driver, prepared)
    client_sum = client_sum and _finite(prepared, loaded)
    program = lower(
        prepared.plan,
        loaded.relations,
        prepared.kind,
        driver.dialect,
        layout=Layout(staged=staged, prefix=driver.prefix, client_sum=client_sum),
        nonfinite=_nonfinite(prepared, loaded.nonfinite, nonfinite),
    )
    if into is not None and prepared.kind == "int":  # stored as the int64 its Table says
        program = replace(program, query=int64_values(program.query, driver.dialect))
    rows = driver.run(program, into, if_exists=if_exists)
    if rows is None:
        return None
    shape, ring = prepared.plan.equation.shape, prepared.semiring
    if program.duplicates:
        driver.doing = "summing the last step's products"
        rows = combine_duplicates(rows, shape, ring.client_plus)
    return to_coo(rows, shape, prepared.dtype, ring.zero)


def _finite(prepared: Prepared, loaded: Loaded) -> bool:
    """Whether every value is finite, in any semiring (summing in the client needs it).

    SQL's ``MIN``, ``MAX`` and ``SUM`` treat NaN as each database does (DuckDB's
    ``MIN`` skips it, SQLite's NULL is skipped by all), NumPy's ufuncs carry it:
    a result must not depend on where it was summed.
    """
    arrays = [op.values for op in prepared.operands if isinstance(op, CooArray)]
    inexact = [v for v in arrays if v.dtype.kind in "fc"]
    return not loaded.nonfinite and all(bool(np.isfinite(v).all()) for v in inexact)


def sums_in_client(prepared: Prepared, dialect: Dialect, aggregate: str = "auto") -> bool:
    """Whether the last step's products are fetched and summed in the client (``aggregate=``).

    ``"auto"`` asks the sparsity model for the step's products and result
    nonzeros, given every operand's nonzeros, and the dialect for where the
    client's sum is faster (:attr:`Dialect.client_sum_rows`,
    :attr:`Dialect.client_sum_ratio`, or :attr:`Dialect.client_scatter_ratio`
    for float sums into few enough cells to scatter into), fetching no more
    bytes of products than a dense result may take (``MAX_DENSE_BYTES``). The
    database still sums where a value is not finite (``_finite``), and where
    the lowering says so (``Layout.client_sum``).

    >>> import scipy.sparse as sp
    >>> a = sp.random(5_000, 5_000, density=0.004, random_state=0, format="coo")
    >>> prepared = prepare(["ij,jk->ik", a, a])
    >>> [sums_in_client(prepared, load_dialect(name)) for name in ("duckdb", "postgres")]
    [True, False]
    """
    if aggregate == "database" or not prepared.plan.steps[-1].needs_sum:
        return False
    if math.prod(prepared.plan.equation.shape) >= MAX_KEYS:
        return False
    if aggregate == "client":
        return True
    products, nonzeros = estimated_last_step(prepared)
    if not products or not dialect.client_sum_rows:
        return False
    ratio = dialect.client_sum_ratio
    size = math.prod(prepared.plan.equation.shape)
    if (
        prepared.semiring is SUM_PRODUCT
        and prepared.kind == "float"
        and scatter_fits(size, products)
    ):
        ratio = dialect.client_scatter_ratio  # no sort: a scatter-add into a dense array
    fetched = products * 8 * (len(prepared.plan.equation.shape) + 1)  # bytes, at most
    few = fetched <= results.MAX_DENSE_BYTES  # no more fetched than a dense result may take
    return few and products >= dialect.client_sum_rows and products <= ratio * nonzeros


def estimated_last_step(prepared: Prepared) -> tuple[float, float]:
    """The sparsity model's products and nonzeros of the last step (0, 0: an nnz is unknown)."""
    nnz = [op.nnz for op in prepared.operands]
    if any(n is None for n in nnz):
        return 0.0, 0.0
    return prepared.plan.estimated_rows([float(n or 0) for n in nnz])[-1]


@dataclass(frozen=True)
class Loaded:
    """The operands of an einsum where SQL reads them.

    Attributes:
        relations: one relation per operand.
        nonfinite: whether some value may be NaN or infinite (an array holds
            one, or a table's check found one).

    """

    relations: list[Relation]
    nonfinite: bool


def load_relations(driver: Driver, prepared: Prepared, inline: bool = True) -> Loaded:
    """Load every array operand through ``driver``; check each table where it is.

    Array operands of at most ``inline_rows`` nonzeros (the dialect's) are not
    loaded: they are written into the statement as ``VALUES`` lists, which on
    PostgreSQL saves a temporary table, a ``COPY`` and an ``ANALYZE`` each.
    ``inline=False`` loads them all (``explain`` times each step's table, and
    only those).
    """
    relations, nonfinite = [], prepared.nonfinite
    for k, operand in enumerate(prepared.operands):
        if isinstance(operand, Table):
            facts = inspect_table(driver, operand, f"table operand {k}")
            relations.append(table_relation(operand, facts))
            nonfinite |= facts.nonfinite and not prepared.empty
        elif inline and operand.nnz <= driver.dialect.inline_rows and driver.dialect.inline_rows:
            relations.append(_inline_relation(operand, k, prepared.kind))
        else:
            driver.doing = f"loading operand {k}"
            relations.append(replace(driver.load(operand, prepared.kind), bound=_bound(operand)))
    return Loaded(relations, nonfinite)


def table_relation(table: Table, facts: TableFacts | None = None) -> Relation:
    """Where SQL reads ``table``: its columns, declared kind and (checked) stored kind."""
    kind = value_kind(np.dtype(table.dtype), f"table {table.name!r}")
    bound = 1 if kind == "bool" else None  # integer tables may hold anything
    stored = _stored(facts.kinds) if facts is not None else None
    return Relation(table.name, table.axes, table.values, kind, bound=bound, stored=stored)


def _stored(kinds: tuple[str, ...]) -> str | None:
    """One stored kind for the value columns: the widest (a complex table's may differ)."""
    order = ("dynamic", "bool", "int", "decimal", "float")
    return max(kinds, key=order.index) if kinds else None


def _inline_relation(operand: Operand, k: int, kind: str) -> Relation:
    if isinstance(operand, Table):
        return table_relation(operand)
    axes = axis_columns(len(operand.shape))
    name = generated(f"a{k}")
    return Relation(name, axes, value_columns(kind), kind, rows=operand, bound=_bound(operand))


def _bound(coo: CooArray) -> int | None:
    """The largest magnitude of an integer or boolean array's values."""
    if coo.dtype.kind not in "biu":
        return None
    if coo.nnz == 0:
        return 0
    values = stored_values(coo.values, "int")  # uint64 as stored: its two's complement
    return max(abs(int(values.min())), abs(int(values.max())))


def _run_reference(prepared: Prepared, con: Any) -> CooArray:
    tables = [op for op in prepared.operands if isinstance(op, Table)]
    fetched: dict[int, CooArray] = {}
    if tables:
        if con is None:
            raise OptionError("the NumPy reference reads table operands through con=")
        for table in tables:
            check_dense_size(table.shape, prepared.dtype)
        with open_driver(con) as driver:
            fetched = {
                id(t): _fetched(driver, t, k)
                for k, t in enumerate(prepared.operands)
                if isinstance(t, Table)
            }
    coos = [fetched[id(op)] if isinstance(op, Table) else op for op in prepared.operands]
    zero = prepared.semiring.zero
    arrays = [coo.todense(zero).astype(prepared.dtype) for coo in coos]
    return from_dense(np.asarray(evaluate(prepared.plan, arrays)), 0, zero)


def _fetched(driver: Driver, table: Table, k: int) -> CooArray:
    """The rows of table operand ``k``, checked first as for the databases."""
    facts = inspect_table(driver, table, f"table operand {k}")
    driver.doing = f"reading table {table.name!r}"
    rows = driver.fetch(table, table_relation(table, facts))
    return to_coo(rows, table.shape, np.dtype(table.dtype))
