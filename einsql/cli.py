"""The ``einsql`` command line: SQL to paste, einsums on files, derivatives, plans.

SQL and results go to standard output, messages to standard error. Bad usage
and bad input exit with status 2 and a one-line message; a database error exits
with status 1.
"""

from __future__ import annotations

import argparse
import ast
import math
import operator
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from sqlglot import exp

import einsql
from einsql.drivers import backend_of, open_driver
from einsql.errors import DatabaseError, EinsqlError, OperandError, OptionError, redact
from einsql.lower import table_ref
from einsql.operands import CooArray, Table, axis_columns

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
        help="duckdb, postgres, sqlite, or a text "
        "target: trino, spark, bigquery, snowflake (default: the --con's, or duckdb)",
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
    run.add_argument("--backend", default=None, help="duckdb, postgres, sqlite or numpy")
    run.add_argument("--con", default=None, help="a database URL (default: in-memory DuckDB)")
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
    grad.add_argument("--dialect", default="duckdb", help="the dialect of --sql")
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
        help="path strategy: auto, greedy, dp, optimal, random-greedy, branch-2, branch-all",
    )
    parser.add_argument(
        "--semiring",
        default="sum-product",
        help="sum-product, min-plus, max-plus, max-product, or-and or log-sum-exp",
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
    dialect = args.dialect or (backend_of(args.con) if args.con else "duckdb")
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
    if "val" not in columns:
        raise OperandError(f"{spec!r} has no column 'val' (COO files hold i0, i1, ..., val)")
    axes = sorted(
        (c for c in columns if c.startswith("i") and c[1:].isdigit()), key=lambda c: int(c[1:])
    )
    coords = np.column_stack([columns[a].astype(np.int64) for a in axes]) if axes else None
    values = columns["val"]
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
    columns = {f"i{k}": result.coords[:, k] for k in range(result.coords.shape[1])}
    columns["val"] = result.values
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
_USAGE = {
    "einsum": "einsum('subscripts', operand, ...)",
    "sum": "sum(x) or sum(x, axis=...)",
    **{
        name: f"{name}(x)"
        for name in (
            "exp",
            "log",
            "log1p",
            "sqrt",
            "abs",
            "sin",
            "cos",
            "tanh",
            "sigmoid",
            "relu",
            "softplus",
        )
    },
    "const": "const(a number or a list of numbers)",
}

#: The functions themselves (einsql's, by the names users write).
_FUNCTIONS: dict[str, Callable[..., Any]] = {name: getattr(einsql, name) for name in _USAGE}

#: Each function's (fewest, most) positional arguments and its keyword arguments.
_SIGNATURES: dict[str, tuple[int, int | None, tuple[str, ...]]] = {
    **{name: (1, 1, ()) for name in _USAGE},
    "einsum": (1, None, ()),
    "sum": (1, 2, ("axis",)),
}

#: The arithmetic an expression may use.
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}

#: Operators refused, by how they are written.
_OTHER_OPERATORS = {
    ast.MatMult: "@",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}

#: Constructs refused, by what error messages call them.
_CONSTRUCTS = {
    "Subscript": "indexing ([...])",
    "Slice": "a slice",
    "Lambda": "a lambda",
    "ListComp": "a comprehension",
    "SetComp": "a comprehension",
    "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression",
    "Starred": "unpacking (*)",
    "Compare": "a comparison",
    "BoolOp": "and / or",
    "IfExp": "a conditional (... if ... else ...)",
    "NamedExpr": "an assignment (:=)",
    "JoinedStr": "an f-string",
    "FormattedValue": "an f-string",
    "Dict": "a dict",
    "Set": "a set",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield from",
}

#: The longest expression text read, in characters.
MAX_EXPRESSION_LENGTH = 100_000

#: The deepest nesting of an expression's syntax tree.
MAX_EXPRESSION_DEPTH = 200

#: The largest absolute value of a numeric exponent (so ``9**9**9**9`` is refused).
MAX_EXPONENT = 1000

#: The most bits of an integer computed from numbers in an expression (float64's range).
_MAX_INTEGER_BITS = 1024

_ADVICE = (
    "use the declared variables, numbers, + - * / ** and einsql's functions (einsum, sum, exp, ...)"
)


def parse_expression(text: str, variables: dict[str, Any]) -> Any:
    """A Python expression over the variables and einsql's functions (nothing else).

    The text is parsed into a syntax tree, checked against a whitelist (the
    declared variables, int and float numbers, ``+ - * / **``, calls of einsql's
    functions, lists of numbers as arguments, quoted einsum subscripts) and then
    interpreted node by node: it is never compiled to code or evaluated.

    >>> x = einsql.var("x", (3,))
    >>> print(parse_expression("sum(exp(2 * x))", {"x": x}))
    (exp((2.0 * x))[a] -> [])
    >>> parse_expression("x.__class__", {"x": x})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    einsql.errors.OptionError: cannot read the expression 'x.__class__': attribute access
    (.__class__) at column 2 is not allowed; use the declared variables, ...

    Raises:
        OptionError: the text is not an expression of those names, or too large.
        EinsqlError: as einsql's functions raise it (shapes that do not fit, ...).

    """
    shown = _shorten(text)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise OptionError(
            f"the expression {shown!r} has {len(text):,} characters; "
            f"einsql reads at most {MAX_EXPRESSION_LENGTH:,}"
        )
    tree = _syntax_tree(text)
    problem = _Checker(text, variables).first_problem(tree)
    if problem is not None:
        raise OptionError(f"cannot read the expression {shown!r}: {problem}")
    try:
        expr = _Evaluator(text, variables).value(tree.body)
    except EinsqlError:
        raise
    except Exception as error:
        raise OptionError(f"cannot read the expression {shown!r}: {error}") from None
    if not isinstance(expr, einsql.Expr):
        raise OptionError(f"the expression {shown!r} does not use a variable")
    return expr


def _shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters for messages.

    >>> _shorten("x" * 100, 10)
    'xxxxxxx...'
    """
    return text if len(text) <= width else text[: width - 3] + "..."


def _syntax_tree(text: str) -> ast.Expression:
    """The syntax tree of ``text`` as one expression (Python's parser, no code made)."""
    shown = _shorten(text)
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for '\\d'; the text is refused later
            warnings.simplefilter("ignore")
            tree: ast.Expression = ast.parse(text, "<expression>", mode="eval")
    except SyntaxError as error:
        line = f"line {error.lineno}, " if error.lineno and error.lineno > 1 else ""
        where = f" at {line}column {error.offset}" if error.offset else ""
        raise OptionError(f"cannot read the expression {shown!r}: {error.msg}{where}") from None
    except (RecursionError, MemoryError):  # the parser's own limits
        raise OptionError(
            f"cannot read the expression {shown!r}: it is nested too deeply"
        ) from None
    except (ValueError, OverflowError) as error:
        raise OptionError(f"cannot read the expression {shown!r}: {error}") from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise OptionError(
            f"cannot read the expression {shown!r}: it is nested more than "
            f"{MAX_EXPRESSION_DEPTH} levels deep"
        )
    return tree


def _depth(tree: ast.AST) -> int:
    """The depth of ``tree``, found without recursion.

    >>> _depth(ast.parse("-(-x)", mode="eval"))
    5
    """
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Source:
    """Where nodes are in the expression text, as error messages say it."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.text = text
        self.variables = variables
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def column(self, line: int, offset: int) -> int:
        """The 1-based character column of a UTF-8 byte ``offset`` in ``line``."""
        if not 0 < line <= len(self.lines):
            return offset + 1
        return len(self.lines[line - 1].encode()[:offset].decode(errors="ignore")) + 1

    def where(self, node: ast.AST) -> tuple[int, int]:
        """The (line, column) of ``node``; for an attribute, of its dot."""
        line, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute) and node.value.end_lineno == line:
            source = self.lines[line - 1].encode() if line <= len(self.lines) else b""
            dot = source.find(b".", node.value.end_col_offset or 0)
            offset = dot if dot >= 0 else offset
        return line, self.column(line, offset)

    def say(self, position: tuple[int, int]) -> str:
        """``column 3``, or ``line 2, column 3`` for text of several lines."""
        line, column = position
        return f"column {column}" if len(self.lines) == 1 else f"line {line}, column {column}"


class _Checker(_Source):
    """Finds the first construct of an expression that is not on the whitelist."""

    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        super().__init__(text, variables)
        self.problems: list[tuple[tuple[int, int], str]] = []  # (line, column), message

    def first_problem(self, tree: ast.Expression) -> str | None:
        """The message about the earliest refused construct, or None if all is allowed."""
        self.check(tree.body, "value")
        if not self.problems:
            return None
        position, message = min(self.problems)
        return message.format(where=self.say(position))

    def refuse(self, node: ast.AST, what: str, advice: str = _ADVICE) -> None:
        """Note that ``what``, at ``node``, is not allowed."""
        self.problems.append((self.where(node), f"{what} at {{where}} is not allowed; {advice}"))

    def check(self, node: ast.expr, role: str) -> None:
        """Check ``node`` as a ``value``, a call ``argument`` or einsum's ``subscripts``."""
        if role == "subscripts":
            self.check_subscripts(node)
        elif isinstance(node, ast.Constant):
            self.check_constant(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            self.check(node.left, "value")
            self.check(node.right, "value")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            self.check(node.operand, "value")
        elif isinstance(node, ast.Call):
            self.check_call(node)
        elif isinstance(node, (ast.List, ast.Tuple)) and role == "argument":
            for element in node.elts:
                self.check(element, "argument")
        else:
            self.refuse(node, _construct(node))
            self.check_children(node)

    def check_children(self, node: ast.AST) -> None:
        """Check what a refused construct holds (an earlier problem may be inside).

        Its parts are checked as call arguments, the most lenient role, so that
        the problem found first is one wherever it stands.
        """
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.check(child, "argument")
            else:
                self.check_children(child)

    def check_constant(self, node: ast.Constant) -> None:
        if type(node.value) not in (int, float):
            self.refuse(node, _construct(node))

    def check_name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__"):
            self.refuse(node, f"the name {name!r} (double underscores)")
        elif name in _FUNCTIONS and name not in self.variables:
            self.refuse(node, f"the function {name} without a call", f"write {_USAGE[name]}")
        elif name not in self.variables:
            declared = ", ".join(self.variables) or "none declared"
            self.refuse(
                node,
                f"the unknown name {name!r}",
                f"the names are the variables ({declared}) and einsql's functions "
                f"({', '.join(_FUNCTIONS)})",
            )

    def check_subscripts(self, node: ast.expr) -> None:
        if not (isinstance(node, ast.Constant) and type(node.value) is str):
            self.refuse(
                node, f"{_construct(node)} as einsum's subscripts", "write " + _USAGE["einsum"]
            )
            self.check_children(node)

    def check_call(self, node: ast.Call) -> None:
        function = node.func
        if not isinstance(function, ast.Name) or function.id not in _FUNCTIONS:
            self.check_callee(function)
            for part in [*node.args, *(k.value for k in node.keywords)]:
                self.check(part, "argument")
            return
        name = function.id
        fewest, most, keywords = _SIGNATURES[name]
        for position, argument in enumerate(node.args):
            self.check(argument, "subscripts" if name == "einsum" and position == 0 else "argument")
        wrong = [k for k in node.keywords if k.arg not in keywords]
        for keyword in wrong:
            what = "unpacking (**)" if keyword.arg is None else f"the keyword {keyword.arg}="
            self.refuse(keyword, f"{what} in {name}", f"write {_USAGE[name]}")
        for keyword in node.keywords:
            self.check(keyword.value, "argument")
        count = len(node.args) + len(node.keywords)
        if not wrong and (len(node.args) < fewest or (most is not None and count > most)):
            arguments = f"{count} argument{'s' * (count != 1)}"
            self.refuse(node, f"{name} with {arguments}", f"write {_USAGE[name]}")

    def check_callee(self, function: ast.expr) -> None:
        """Refuse calling ``function``, which is not one of einsql's functions."""
        if isinstance(function, ast.Name) and function.id in self.variables:
            self.refuse(function, f"calling the variable {function.id!r}")
            return
        known = len(self.problems)
        self.check(function, "argument")
        if len(self.problems) == known:  # e.g. (1)(x): nothing wrong but the call
            self.refuse(function, f"calling {_construct(function)}")


def _construct(node: ast.AST) -> str:
    """What an error message calls a refused ``node``.

    >>> _construct(ast.parse("x.y", mode="eval").body)
    'attribute access (.y)'
    """
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr})"
    if isinstance(node, ast.Constant):
        shown = _shorten(repr(node.value), 20)
        if isinstance(node.value, str):
            return f"the string {shown} (strings are only einsum's subscripts)"
        return f"the constant {shown}"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {_OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)}"
    if isinstance(node, (ast.List, ast.Tuple)):
        return f"a {type(node).__name__.lower()} (lists of numbers are only call arguments)"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Call):
        return "a call"
    name = type(node).__name__
    return _CONSTRUCTS.get(name, f"a Python {name} expression")


class _Evaluator(_Source):
    """Interprets a checked expression tree with einsql's functions and Python's operators."""

    def value(self, node: ast.expr) -> Any:
        """The value of ``node``: an einsql expression, a number, a list or a string."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.variables[node.id]
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.sequence(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise OptionError(f"{_construct(node)} is not allowed")  # _Checker refused it first

    def binary(self, node: ast.BinOp) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(node.op, ast.Pow) and _is_number(right) and abs(right) > MAX_EXPONENT:
            raise ValueError(
                f"the exponent {_shorten(repr(right), 20)} at {self.say(self.where(node))} "
                f"is too large: einsql takes exponents up to {MAX_EXPONENT} in absolute value"
            )
        if _is_number(left) and _is_number(right):
            return _arithmetic(node.op, left, right)
        return _OPERATORS[type(node.op)](left, right)

    def sequence(self, node: ast.List | ast.Tuple) -> list[Any] | tuple[Any, ...]:
        elements = [self.value(element) for element in node.elts]
        for element, item in zip(node.elts, elements):
            if not (_is_number(item) or isinstance(item, (list, tuple))):
                raise ValueError(
                    f"the list at {self.say(self.where(node))} holds {_shorten(str(item), 30)} "
                    f"(at {self.say(self.where(element))}): lists hold numbers only"
                )
        return tuple(elements) if isinstance(node, ast.Tuple) else elements

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # _Checker made sure
        name = node.func.id
        arguments = [self.value(argument) for argument in node.args]
        keywords = {k.arg: self.value(k.value) for k in node.keywords if k.arg is not None}
        if name == "sum":
            _check_axis(keywords.get("axis", arguments[1] if len(arguments) > 1 else None))
        return _FUNCTIONS[name](*arguments, **keywords)


def _is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (not a bool).

    >>> _is_number(2), _is_number(2.5), _is_number(True), _is_number("2")
    (True, True, False, False)
    """
    return type(value) in (int, float)


def _arithmetic(operation: ast.operator, left: float, right: float) -> float:
    """``left`` and ``right`` combined, refusing integers beyond float64 and complex results.

    >>> _arithmetic(ast.Pow(), 2, 10)
    1024
    >>> _arithmetic(ast.Pow(), 10, 400)
    Traceback (most recent call last):
    ValueError: the number 10 ** 400 is too large (more than 1024 bits)
    """
    symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(operation), "**")
    shown = f"{_number_text(left)} {symbol} {_number_text(right)}"
    too_large = f"the number {shown} is too large (more than {_MAX_INTEGER_BITS} bits)"
    if isinstance(operation, ast.Pow) and _surely_too_large(left, right):
        raise ValueError(too_large)
    try:
        result: float = _OPERATORS[type(operation)](left, right)
    except OverflowError:  # a float power beyond float64
        raise ValueError(too_large) from None
    if isinstance(result, int) and result.bit_length() > _MAX_INTEGER_BITS:
        raise ValueError(too_large)
    if not _is_number(result):  # a negative number to a fractional power is complex
        raise ValueError(f"the number {shown} is not a real number")
    return result


def _number_text(number: float) -> str:
    """A number as messages show it: short, in parentheses if negative.

    >>> _number_text(-8), _number_text(2**200)
    ('(-8)', '16069380442589902...')
    """
    text = _shorten(repr(number), 20)
    return f"({text})" if number < 0 else text


def _surely_too_large(base: float, exponent: float) -> bool:
    """Whether the integer ``base ** exponent`` has more bits than einsql computes.

    >>> _surely_too_large(2, 1000), _surely_too_large(3, 1000), _surely_too_large(3.0, 1000)
    (False, True, False)
    """
    if type(base) is not int or type(exponent) is not int or exponent <= 0 or abs(base) < 2:
        return False
    return exponent * math.log2(abs(base)) > _MAX_INTEGER_BITS


def _check_axis(axis: Any) -> None:
    """Refuse an ``axis`` of ``sum`` that is not an integer or a sequence of integers.

    >>> _check_axis((0, -1))
    >>> _check_axis(0.5)
    Traceback (most recent call last):
    ValueError: sum's axis is an integer or a tuple of integers, not 0.5
    """
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if axis is not None and not all(type(a) is int for a in axes):
        raise ValueError(f"sum's axis is an integer or a tuple of integers, not {axis!r}")


_COMMANDS = {
    "sql": _command_sql,
    "run": _command_run,
    "grad": _command_grad,
    "explain": _command_explain,
}
