"""The ``einsql`` command line: SQL to paste, einsums on files, derivatives, plans.

SQL and results go to standard output, messages to standard error. Bad usage
and bad input exit with status 2 and a one-line message; a database error exits
with status 1.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import einsql
from einsql import backends
from einsql.convention import VALUE, axis_column, axis_columns
from einsql.dialect import TEXT_DIALECTS
from einsql.drivers import backend_of
from einsql.errors import DatabaseError, EinsqlError, OperandError, OptionError, redact
from einsql.expression_text import parse_expression
from einsql.frames import CONVENTION, coo
from einsql.operands import CooArray, Table
from einsql.planner import strategies
from einsql.semiring import SEMIRINGS

EXAMPLES = """\
examples:
  einsql sql "ij,jk->ik" --table a:300x400 --table b:400x50 --dialect postgres
  einsql sql "ij,j->i" --table edges:9x9:src,dst:weight --table rank:9
  einsql sql "ij,jk->ik" --table a --table b --con duckdb:///data.db   # shapes from the data
  einsql run "ij,jk->ik" a.npy b.npz --out c.npy
  einsql run "ij,jk->ik" m.npy m.npy --semiring min-plus --backend sqlite
  einsql run "ij,jk->ik" a.csv:3x4 b.parquet:4x2 --con sqlite:///work.db --out c.csv
  einsql run "ij,j->i" edges.csv:3x3:src,dst:weight rank.npy   # mapped columns
  einsql run "ij,jk->ik" edges.csv::src,dst:1 edges.csv::src,dst:1   # each row 1: paths of 2 edges
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

#: The file types whose columns ``FILE:SHAPE:AXES:VALUE`` maps.
COLUMN_FILES = (".csv", ".parquet")

#: VALUE in ``FILE:SHAPE:AXES:VALUE`` for a file without a value column: each row is 1.
ONES = "1"

#: How ``--table`` and ``run``'s operands are written.
TABLE_USAGE = "NAME[:SHAPE[:AXES[:VALUE]]]"
FILE_USAGE = "FILE[:SHAPE[:AXES[:VALUE]]]"


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
    parser.add_argument("--version", action="version", version=f"einsql {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sql = _subcommand(commands, "sql", "print SQL over existing tables")
    _equation_argument(sql)
    _table_arguments(sql, "a database URL: the tables' shapes are read from it")
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
        metavar=FILE_USAGE,
        help="operands: " + "; ".join(f"{k} {v}" for k, v in FILE_TYPES.items()) + ". "
        "Other columns are mapped: AXES names a column per axis, VALUE the value column "
        f"(or {ONES}: each row is 1, an edge list), e.g. edges.csv::src,dst:weight; "
        "an axis without SHAPE takes its label's size: the largest index any operand holds "
        "on it, plus one",
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
        help="an expression over the variables: numbers, + - * / ** @, einsum, sum, exp, "
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
    _table_arguments(
        explain, "a database URL holding the tables: shapes are read from it, --run runs there"
    )
    explain.add_argument(
        "--run",
        action="store_true",
        help="run each step in the database of --con (needed: the tables are there): "
        "actual rows and seconds per step",
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


def _table_arguments(parser: argparse.ArgumentParser, con_help: str) -> None:
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        metavar=TABLE_USAGE,
        help="an operand table, in order: e.g. edges:9x9:src,dst:weight; without a shape "
        "it is read from the data through --con",
    )
    parser.add_argument("--con", default=None, help=con_help)
    parser.add_argument("--dtype", default="float64", help="the tables' value dtype")
    _optimize_argument(parser)


def version(distribution: str = "einsql") -> str:
    """The installed distribution's version, else the package's own ``__version__``.

    Args:
        distribution: the distribution to look up (the fallback is einsql's either way).

    >>> version("no-such-distribution") == einsql.__version__
    True
    """
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return einsql.__version__


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
    if (args.run or args.analyze) and args.con is None:
        raise OptionError(
            "--run and --analyze run the steps on the --table tables, in the database that "
            "holds them: give its URL with --con (e.g. --con duckdb:///data.db)"
        )
    equation = _read_argument(args.equation)
    tables = _tables(args, equation)
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
    """The ``--table`` operands; shapes not given are read through ``--con``.

    An axis without a size takes its label's: the largest index any table
    holds on that label, plus one (so two tables sharing a label agree).
    """
    terms = equation.split("->")[0].split(",")
    if len(args.table) != len(terms):
        raise OptionError(
            f"the equation has {len(terms)} operand(s) but {len(args.table)} --table option(s)"
        )
    tables = []
    for spec, term in zip(args.table, terms):
        name, shape, axes, values = _table_spec(spec)
        rank = len(term.replace("...", "").strip())
        if shape is not None:
            tables.append(Table(name, shape, args.dtype, axes=axes, values=values))
            continue
        if args.con is None:
            raise OptionError(f"table {name!r} has no shape: give NAME:SHAPE or --con to read it")
        axes = axes or axis_columns(rank)  # sized by their labels: the largest index of any table
        read = einsql.table(name, args.con, None, args.dtype, axes, values or CONVENTION)
        tables.append(read)
    return tables


def _table_spec(
    spec: str,
) -> tuple[str, tuple[int, ...] | None, tuple[str, ...], tuple[str, ...]]:
    """``name[:3x4[:a,b[:val]]]`` as (name, shape or None, axes, value columns).

    >>> _table_spec("edges:9x9:src,dst:weight")
    ('edges', (9, 9), ('src', 'dst'), ('weight',))
    """
    name, shape, axes, values = _mapping_spec(spec, "--table", TABLE_USAGE)
    if values == (ONES,):
        raise OptionError(
            f"cannot read --table {spec!r}: VALUE {ONES} (each row is 1) is for run's files; "
            "a table needs a value column"
        )
    return name, shape, axes, values


def _mapping_spec(
    spec: str, what: str, usage: str
) -> tuple[str, tuple[int, ...] | None, tuple[str, ...], tuple[str, ...]]:
    """``where[:SHAPE[:AXES[:VALUE]]]`` as (where, shape or None, axes, values).

    Read by splitting at ``:`` and ``,`` only: shapes are digits, column names
    are looked up (never evaluated), so nothing in the text runs.

    Args:
        spec: the text, e.g. ``edges.csv::src,dst:weight``.
        what: what the text is, for messages (``--table``, ``operand``).
        usage: how to write it, for messages.

    Raises:
        OptionError: more than four parts, no name, a bad shape or an empty column name.

    >>> _mapping_spec("e.csv::src,dst:w", "operand", FILE_USAGE)
    ('e.csv', None, ('src', 'dst'), ('w',))
    """
    name, *rest = spec.split(":")
    if not name or len(rest) > 3:
        raise OptionError(f"cannot read {what} {spec!r}: use {usage}")
    shape = _shape(rest[0], spec) if rest and rest[0] else None
    axes = _column_names(rest[1], spec, what, usage) if len(rest) > 1 and rest[1] else ()
    values = _column_names(rest[2], spec, what, usage) if len(rest) > 2 and rest[2] else ()
    return name, shape, axes, values


def _column_names(text: str, spec: str, what: str, usage: str) -> tuple[str, ...]:
    """``a,b`` as column names; an empty one is an error.

    >>> _column_names("src,dst", "e:2x2:src,dst", "--table", TABLE_USAGE)
    ('src', 'dst')
    """
    names = tuple(text.split(","))
    if not all(names):
        raise OptionError(
            f"cannot read {what} {spec!r}: an empty column name in {text!r} (use {usage})"
        )
    return names


def _shape(text: str, where: str) -> tuple[int, ...]:
    """``3x4`` (or ``3,4``; empty for a scalar) as a shape, in ASCII digits only.

    ``str.isdigit`` alone admits digits ``int`` cannot read, such as ``"¹"``.

    >>> _shape("3x4", "a:3x4"), _shape("", "s:")
    ((3, 4), ())
    """
    parts = [p for p in text.replace(",", "x").split("x") if p]
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise OptionError(f"cannot read the shape in {where!r}: write it like 3x4")
    return tuple(int(p) for p in parts)


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
    """An operand from ``FILE[:SHAPE[:AXES[:VALUE]]]``.

    A .csv or .parquet file holds COO rows: by default columns ``i0, i1, ...``
    and ``val`` (``val_re`` and ``val_im`` for complex values); ``AXES`` names
    another column per axis and ``VALUE`` another value column (two for real
    and imaginary parts), or ``1`` for a file without one (an edge list: each
    row is 1). An axis without a shape takes its label's size in the einsum.

    Raises:
        OptionError: an unknown file type, or a mapping for a file without columns.
        OperandError: a missing file, a column not in the file, a bad index or value.

    """
    path_text, shape, axes, values = _mapping_spec(spec, "operand", FILE_USAGE)
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise OptionError(f"cannot read {path_text!r}: einsql reads {', '.join(FILE_TYPES)} files")
    if (axes or values) and suffix not in COLUMN_FILES:
        raise OptionError(
            f"cannot read {spec!r}: AXES and VALUE map the columns of "
            f"{' and '.join(COLUMN_FILES)} files; a {suffix} file has none"
        )
    if not path.exists():
        raise OperandError(f"no such file: {path_text!r}")
    if suffix in COLUMN_FILES:
        return _coo_file(path, shape, axes, values, spec)
    array = _array_file(path, suffix)
    if shape is not None and tuple(array.shape) != shape:
        raise OperandError(f"{spec!r} gives shape {shape} but the file holds {array.shape}")
    return array


def _array_file(path: Path, suffix: str) -> Any:
    """A .npy file's array or a .npz file's scipy.sparse matrix."""
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    import scipy.sparse as sp

    return sp.load_npz(path)


def _coo_file(
    path: Path,
    shape: tuple[int, ...] | None,
    axes: tuple[str, ...],
    values: tuple[str, ...],
    spec: str,
) -> CooArray:
    """The COO operand a CSV or Parquet file holds, read by :func:`einsql.coo`.

    Axes without a shape take their label's size in the einsum (the largest
    index any operand holds on that label, plus one).
    """
    value_columns: Any = CONVENTION if not values else None if values == (ONES,) else list(values)
    if len(values) > 2:
        raise OperandError(
            f"{spec!r} names {len(values)} value columns: give one, or two (real, imaginary)"
        )
    try:
        return coo(path, axes=list(axes) or None, values=value_columns, shape=shape)
    except OperandError as error:
        mapping = any(fault in str(error) for fault in _MAPPING_FAULTS)
        hint = (
            f" (here, map columns with {FILE_USAGE}, e.g. {_example(spec)}:weight, or "
            f"{_example(spec)}:{ONES} for an edge list)"
        )
        raise OperandError(f"{spec!r}: {error}{hint if mapping else ''}") from None


#: The faults of a file read without the right column mapping (their messages say which).
_MAPPING_FAULTS = ("has no column", "has no value column", "neither axes", "not i0, i1")


def _example(spec: str) -> str:
    """``FILE::a,b`` for a message: the file of ``spec`` and the axes it names, if any.

    >>> _example("edges.csv"), _example("e.csv:3x3:s,d")
    ('edges.csv::src,dst', 'e.csv:3x3:s,d')
    """
    parts = spec.split(":")
    return ":".join([parts[0], parts[1] if len(parts) > 1 else "", *(parts[2:3] or ["src,dst"])])


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
