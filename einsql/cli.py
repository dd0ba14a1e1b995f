"""The ``einsql`` command line: SQL to paste, einsums on files, derivatives, plans.

SQL and results go to standard output, messages to standard error. Bad usage
and bad input exit with status 2 and a one-line message; a database error exits
with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from sqlglot import exp

import einsql
from einsql import backends
from einsql.coo import VALUE, axis_column, axis_columns
from einsql.dialect import TEXT_DIALECTS
from einsql.drivers import backend_of, open_driver
from einsql.errors import DatabaseError, EinsqlError, OperandError, OptionError, redact
from einsql.expression_text import parse_expression
from einsql.operands import CooArray, Table
from einsql.planner import strategies
from einsql.semiring import SEMIRINGS
from einsql.sql import table_ref

EXAMPLES = """\
examples:
  einsql sql "ij,jk->ik" --table a:300x400 --table b:400x50 --dialect postgres
  einsql sql "ij,j->i" --table edges:9x9:src,dst:weight --table rank:9
  einsql sql "ij,jk->ik" --table a --table b --con duckdb:///data.db   # shapes from the data
  einsql run "ij,jk->ik" a.npy b.npz --out c.npy
  einsql run "ij,jk->ik" m.npy m.npy --semiring min-plus --backend sqlite
  einsql run "ij,jk->ik" a.csv:3x4 b.parquet:4x2 --con sqlite:///work.db --out c.csv
  echo "ii->" | einsql run - m.npy --backend numpy
  einsql grad "sum((einsum('ij,j->i', A, x) - b) ** 2)" --var A:5x3 --var x:3 --var b:5 --wrt x
  einsql grad "sum(log1p(exp(-y * einsum('ij,j->i', X, w))))" --var X:100x20 --var y:100 \\
      --var w:20 --wrt w --sql --dialect postgres
  einsql explain "ij,jk,kl->il" --table a:10x20 --table b:20x30 --table c:30x5
  einsql explain "ij,jk->ik" --table a --table b --con duckdb:///data.db --run --analyze
"""

#: The file types ``einsql run`` reads, and how each holds a tensor.
FILE_TYPES = {
    ".npy": "a dense NumPy array",
    ".npz": "a scipy.sparse matrix (scipy.sparse.save_npz)",
    ".csv": "COO rows with a header i0,i1,...,val",
    ".parquet": "COO rows with columns i0,i1,...,val",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="einsql",
        description="Einstein summation and its derivatives, compiled to SQL.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sql = _subcommand(commands, "sql", "print SQL over existing tables")
    _equation_argument(sql)
    _table_arguments(sql)
    sql.add_argument(
        "--dialect",
        default=None,
        help=f"{', '.join(backends.names())}, or a text target: {', '.join(TEXT_DIALECTS)} "
        f"(default: the --con's, or {backends.default().name})",
    )
    sql.add_argument("--staged", action="store_true", help="a script of staged statements")
    run = _subcommand(commands, "run", "evaluate an einsum on files")
    _equation_argument(run)
    run.add_argument(
        "files",
        nargs="+",
        metavar="FILE[:SHAPE]",
        help="operands: " + "; ".join(f"{k} {v}" for k, v in FILE_TYPES.items()),
    )
    run.add_argument("--backend", default=None, help=f"{', '.join(backends.names())} or numpy")
    run.add_argument(
        "--con", default=None, help=f"a database URL (default: in-memory {backends.default().name})"
    )
    run.add_argument(
        "--out", default=None, help="write the result to .npy, .csv or .parquet (default: print it)"
    )
    _optimize_argument(run)
    grad = _subcommand(commands, "grad", "differentiate an expression")
    grad.add_argument(
        "expression",
        help="an expression over the variables: numbers, + - * / **, einsum, sum, exp, "
        "log, ... in Python syntax, read but never run (or - for standard input)",
    )
    grad.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME:SHAPE",
        help="a variable and its shape, e.g. X:100x20 (a scalar: x:)",
    )
    grad.add_argument("--wrt", required=True, help="the variable to differentiate by")
    grad.add_argument("--hessian", action="store_true", help="the Hessian instead")
    grad.add_argument("--sql", action="store_true", help="print its SQL instead")
    grad.add_argument("--dialect", default=backends.default().name, help="the dialect of --sql")
    explain = _subcommand(commands, "explain", "print the contraction plan")
    _equation_argument(explain)
    _table_arguments(explain)
    explain.add_argument(
        "--run",
        action="store_true",
        help="run each step on --con: actual rows and seconds per step",
    )
    explain.add_argument(
        "--analyze",
        action="store_true",
        help="add the database's own EXPLAIN ANALYZE (needs --con)",
    )
    return parser


def _subcommand(commands: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the examples."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _equation_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("equation", help='einsum subscripts such as "ij,jk->ik" (- reads stdin)')


def _optimize_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--optimize",
        default="auto",
        help=f"path strategy: {', '.join(strategies())}",
    )
    parser.add_argument(
        "--semiring",
        default="sum-product",
        help=", ".join(SEMIRINGS),
    )


def _table_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="NAME[:SHAPE[:AXES[:VALUE]]]",
        help="an operand table, in order: e.g. edges:9x9:src,dst:weight; without a shape "
        "it is read from the data through --con",
    )
    parser.add_argument("--con", default=None, help="a database URL, to read table shapes")
    parser.add_argument("--dtype", default="float64", help="the tables' value dtype")
    _optimize_argument(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except DatabaseError as error:  # the database refused a statement: say which, in one line
        print(f"einsql: error: {redact(_one_line(error))}", file=sys.stderr)
        return 1
    except EinsqlError as error:
        print(f"einsql: error: {redact(_one_line(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (head, less) stopped early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python's advice for this case
        return 0
    except Exception as error:  # a database or file error: say it in one line
        print(f"einsql: {type(error).__name__}: {redact(_one_line(error))}", file=sys.stderr)
        return 1


def main_entry() -> NoReturn:
    """The ``einsql`` console script."""
    sys.exit(main())


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _read_argument(text: str) -> str:
    return sys.stdin.read().strip() if text == "-" else text


# --- sql and explain ------------------------------------------------------------------


def _command_sql(args: argparse.Namespace) -> int:
    equation = _read_argument(args.equation)
    tables = _tables(args, equation)
    dialect = args.dialect or backend_of(args.con)  # with no --con, the default backend
    print(
        einsql.to_sql(
            equation,
            *tables,
            dialect=dialect,
            optimize=args.optimize,
            staged=True if args.staged else None,
            semiring=args.semiring,
        )
    )
    return 0


def _command_explain(args: argparse.Namespace) -> int:
    equation = _read_argument(args.equation)
    tables = _tables(args, equation)
    if (args.run or args.analyze) and args.con is None:
        raise OptionError("--run and --analyze run the steps in a database: give --con")
    print(
        einsql.explain(
            equation,
            *tables,
            con=args.con,
            optimize=args.optimize,
            run=args.run,
            analyze=args.analyze,
            semiring=args.semiring,
        )
    )
    return 0


def _tables(args: argparse.Namespace, equation: str) -> list[Any]:
    """The ``--table`` operands; shapes not given are read through ``--con``."""
    terms = equation.split("->")[0].split(",")
    if len(args.table) != len(terms):
        raise OptionError(
            f"the equation has {len(terms)} operand(s) but {len(args.table)} --table option(s)"
        )
    tables = []
    for spec, term in zip(args.table, terms):
        name, shape, axes, values = _table_spec(spec)
        rank = len(term.replace("...", "").strip())
        if shape is None:
            shape = _shape_from_database(args.con, name, axes or axis_columns(rank))
        tables.append(Table(name, shape, args.dtype, axes=axes, values=values))
    return tables


def _table_spec(
    spec: str,
) -> tuple[str, tuple[int, ...] | None, tuple[str, ...], tuple[str, ...]]:
    """``name[:3x4[:a,b[:val]]]`` as (name, shape or None, axes, value columns)."""
    name, *rest = spec.split(":")
    shape = _shape(rest[0], spec) if rest and rest[0] else None
    axes = tuple(rest[1].split(",")) if len(rest) > 1 and rest[1] else ()
    values = tuple(rest[2].split(",")) if len(rest) > 2 and rest[2] else ()
    if not name or len(rest) > 3:
        raise OptionError(f"cannot read --table {spec!r}: use NAME[:SHAPE[:AXES[:VALUE]]]")
    return name, shape, axes, values


def _shape(text: str, where: str) -> tuple[int, ...]:
    """``3x4`` (or ``3,4``; empty for a scalar) as a shape."""
    parts = [p for p in text.replace(",", "x").split("x") if p]
    if not all(p.isdigit() for p in parts):
        raise OptionError(f"cannot read the shape in {where!r}: write it like 3x4")
    return tuple(int(p) for p in parts)


def _shape_from_database(con: str | None, name: str, axes: tuple[str, ...]) -> tuple[int, ...]:
    """Each axis' largest index plus one, read from table ``name``.

    Each column is aliased (``n0``, ``n1``, ...): unaliased, PostgreSQL names
    them all ``coalesce``.
    """
    if con is None:
        raise OptionError(f"table {name!r} has no shape: give NAME:SHAPE or --con to read it")
    aliases = [f"n{k}" for k in range(len(axes))]
    query = exp.select(
        *[exp.alias_(_largest_index(axis), alias) for axis, alias in zip(axes, aliases)]
    ).from_(table_ref(name))
    with open_driver(con) as driver:
        rows = driver.query(driver.sql(query))
    return tuple(int(rows[alias][0]) + 1 for alias in aliases)


def _largest_index(axis: str) -> exp.Expr:
    """``COALESCE(MAX(axis), -1)``: an empty table has size 0 on every axis.

    >>> _largest_index("i0").sql()
    'COALESCE(MAX(i0), -1)'
    """
    return exp.Coalesce(this=exp.Max(this=exp.column(axis)), expressions=[exp.Literal.number(-1)])


# --- run ----------------------------------------------------------------------------


def _command_run(args: argparse.Namespace) -> int:
    equation = _read_argument(args.equation)
    operands = [read_operand(spec) for spec in args.files]
    backend = args.backend
    out = "coo" if args.out and Path(args.out).suffix in (".csv", ".parquet") else "dense"
    result = einsql.einsum(
        equation,
        *operands,
        backend=backend,
        con=args.con,
        optimize=args.optimize,
        out=out,
        semiring=args.semiring,
    )
    if args.out is None:
        print(np.array2string(np.asarray(result), threshold=200))
    else:
        write_result(result, args.out)
        print(f"einsql: wrote {args.out}", file=sys.stderr)
    return 0


def read_operand(spec: str) -> Any:
    """An operand from ``FILE[:SHAPE]`` (the shape of COO files defaults to max + 1)."""
    path_text, _, shape_text = spec.partition(":")
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise OptionError(f"cannot read {path_text!r}: einsql reads {', '.join(FILE_TYPES)} files")
    if not path.exists():
        raise OperandError(f"no such file: {path_text!r}")
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        import scipy.sparse as sp

        return sp.load_npz(path)
    columns = _coo_columns(path, suffix)
    return _coo_operand(columns, _shape(shape_text, spec) if shape_text else None, spec)


def _coo_columns(path: Path, suffix: str) -> dict[str, np.ndarray]:
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return {name: table.column(name).to_numpy() for name in table.column_names}
    data = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    names = data.dtype.names or ()
    return {name: np.atleast_1d(data[name]) for name in names}


def _coo_operand(columns: dict[str, np.ndarray], shape: tuple[int, ...] | None, spec: str) -> Any:
    if VALUE not in columns:
        raise OperandError(f"{spec!r} has no column 'val' (COO files hold i0, i1, ..., val)")
    axes = sorted(
        (c for c in columns if c.startswith("i") and c[1:].isdigit()), key=lambda c: int(c[1:])
    )
    coords = np.column_stack([columns[a].astype(np.int64) for a in axes]) if axes else None
    values = columns[VALUE]
    if values.dtype.kind not in "biuf":
        raise OperandError(f"{spec!r} has a column 'val' that is not numeric")
    count = len(values)
    coords = coords if coords is not None else np.zeros((count, 0), dtype=np.int64)
    if shape is None:
        shape = tuple(int(c) + 1 for c in coords.max(axis=0)) if count else (0,) * len(axes)
    if len(shape) != len(axes):
        raise OperandError(f"{spec!r} has {len(axes)} axis column(s) but shape {shape}")
    if count and ((coords < 0).any() or (coords >= np.array(shape)).any()):
        raise OperandError(f"{spec!r} has an index outside its shape {shape}")
    return CooArray(coords, values, shape)


def write_result(result: Any, out: str) -> None:
    """Write a dense result to .npy, or a COO result to .csv or .parquet."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, np.asarray(result))
        return
    if suffix not in (".csv", ".parquet"):
        raise OptionError(f"cannot write {out!r}: use a .npy, .csv or .parquet file")
    columns = {axis_column(k): result.coords[:, k] for k in range(result.coords.shape[1])}
    columns[VALUE] = result.values
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), path)
        return
    header = ",".join(columns)
    rows = (
        np.column_stack([c.astype(object) for c in columns.values()])
        if len(result.values)
        else np.empty((0, len(columns)))
    )
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%s")


# --- grad ---------------------------------------------------------------------------


def _command_grad(args: argparse.Namespace) -> int:
    variables = dict(_variable(spec) for spec in args.var)
    if args.wrt not in variables:
        raise OptionError(f"--wrt {args.wrt!r} is not a --var (declared: {', '.join(variables)})")
    expr = parse_expression(_read_argument(args.expression), variables)
    wrt = variables[args.wrt]
    if args.hessian:
        derivative = einsql.hessian(expr, wrt)
    else:
        derivative = einsql.grad(expr, wrt) if expr.ndim == 0 else einsql.jacobian(expr, wrt)
    print(einsql.to_sql(derivative, dialect=args.dialect) if args.sql else derivative)
    return 0


def _variable(spec: str) -> tuple[str, Any]:
    name, separator, shape = spec.partition(":")
    if not name.isidentifier() or not separator:
        raise OptionError(f"cannot read --var {spec!r}: use NAME:SHAPE, e.g. X:100x20")
    return name, einsql.var(name, _shape(shape, spec))


#: What ``grad`` expressions may call: each function's usage, as error messages show it.
_COMMANDS = {
    "sql": _command_sql,
    "run": _command_run,
    "grad": _command_grad,
    "explain": _command_explain,
}
