"""``einsql grad``'s expressions are read, never run, and URLs in messages hide passwords."""

from __future__ import annotations

import ast
import builtins
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import einsql_cli

import einsql
from einsql.cli import read_operand
from einsql.errors import redact
from einsql.expression_text import (
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_LENGTH,
    parse_expression,
)
from einsql.functions import PUBLIC_FUNCTIONS

VARIABLES = {
    "s": einsql.var("s", ()),
    "x": einsql.var("x", (3,)),
    "y": einsql.var("y", (3,)),
    "A": einsql.var("A", (3, 3)),
}

UNARY = list(PUBLIC_FUNCTIONS)


def payloads(target: Path) -> list[str]:
    """Expressions that would run a shell command (touching ``target``) if evaluated."""
    touch = f"touch {target}"
    return [
        f"().__class__.__base__.__subclasses__()[0]('{touch}')",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]"
        f"('{touch}', shell=True)",
        f"__import__('os').system('{touch}')",
        f"[c for c in ()] or __import__('os').system('{touch}')",
        f"(lambda: __import__('os').system('{touch}'))()",
        f"x.__class__.__init__.__globals__['os'].system('{touch}')",
        f"open('{target}', 'w')",
        f"getattr(__import__('os'), 'system')('{touch}')",
        f"exp(x).__class__.__init__.__globals__['__builtins__']['exec']('open(\"{target}\",\"w\")')",
        f"sum(x, axis=__import__('os').system('{touch}'))",
        f"einsum(__import__('os').system('{touch}'), x)",
        f"const([__import__('os').system('{touch}')])",
        f"(y := __import__('os')).system('{touch}')",
        f'f\'{{__import__("os").system("{touch}")}}\'',
        f"x if __import__('os').system('{touch}') else x",
        f"sum(*[__import__('os').system('{touch}')])",
        f"sum(x, **{{'axis': __import__('os').system('{touch}')}})",
    ]


@pytest.mark.parametrize("index", range(len(payloads(Path("t")))))
def test_payloads_are_refused_and_run_nothing(index: int, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    with pytest.raises(einsql.OptionError, match="cannot read the expression"):
        parse_expression(payloads(target)[index], VARIABLES)
    assert not target.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "().__class__.__base__.__subclasses__()",
            "attribute access (.__class__) at column 3 is not allowed; use the declared "
            "variables, numbers, + - * / ** @ and einsql's functions (einsum, sum, exp, ...)",
        ),
        (
            "__import__('os').system('touch /tmp/x')",
            "'__import__' (double underscores) at column 1",
        ),
        ("[c for c in ()]", "a comprehension at column 1"),
        ("lambda: 1", "a lambda at column 1"),
        ("x.__class__", "attribute access (.__class__) at column 2"),
        ("open('f')", "the unknown name 'open' at column 1"),
        ("getattr(x,'a')", "the unknown name 'getattr' at column 1"),
        ("9**9**9**9", "the exponent 387420489 at column 4 is too large"),
        ("x ** 1001", "the exponent 1001 at column 1 is too large"),
        ("x ** -1001.5", "the exponent -1001.5 at column 1 is too large"),
        ("10 ** 400 * x", "the number 10 ** 400 is too large (more than 1024 bits)"),
        ("(-8) ** 0.5 * x", "the number (-8) ** 0.5 is not a real number"),
        ("x[0]", "indexing ([...]) at column 1"),
        ("x % A", "the operator % at column 1"),
        ("A.T", "attribute access (.T) at column 2"),
        ("x // 2", "the operator // at column 1"),
        ("~x", "the operator ~ at column 1"),
        ("not x", "the operator not at column 1"),
        ("x < 1", "a comparison at column 1"),
        ("x and y", "and / or at column 1"),
        ("x if s else y", "a conditional (... if ... else ...) at column 1"),
        ("(z := x)", "an assignment (:=) at column 2"),
        ("f'{x}'", "an f-string at column 1"),
        ("{1: x}", "a dict at column 1"),
        ("{x}", "a set at column 1"),
        ("[x]", "a list (lists of numbers are only call arguments) at column 1"),
        ("x, y", "a tuple (lists of numbers are only call arguments) at column 1"),
        ("'ij'", "the string 'ij' (strings are only einsum's subscripts) at column 1"),
        ("True * x", "the constant True at column 1"),
        ("None", "the constant None at column 1"),
        ("b'x' * x", "the constant b'x' at column 1"),
        ("2j * x", "the constant 2j at column 1"),
        ("sum(x, axis=None)", "the constant None at column 13"),
        ("exp", "the function exp without a call at column 1 is not allowed; write exp(x)"),
        ("x(1)", "calling the variable 'x' at column 1"),
        ("(1)(x)", "calling the constant 1 at column 2"),
        ("exp(x, y)", "exp with 2 arguments at column 1 is not allowed; write exp(x)"),
        ("sum()", "sum with 0 arguments at column 1"),
        ("exp(z=x)", "the keyword z= in exp at column 5"),
        ("sum(x, **{})", "unpacking (**) in sum at column 8"),
        ("einsum('i->', *[x])", "unpacking (*) at column 15"),
        ("einsum(x, x)", "the name 'x' as einsum's subscripts at column 8"),
        ("einsum()", "einsum with 0 arguments at column 1"),
        ("sum(x, axis=0.5)", "sum's axis is an integer or a tuple of integers, not 0.5"),
        ("sum(x, axis=x)", "sum's axis is an integer or a tuple of integers"),
        ("const([x])", "the list at column 7 holds x (at column 8): lists hold numbers only"),
        ("2 ** x", "unsupported operand type(s)"),
        ("exp(x, y=1)", "the keyword y= in exp at column 8"),
        ("1 / 0 * x", "division by zero"),
        ("1 + 2", "does not use a variable"),
        ("x +", "invalid syntax"),
        ("", "invalid syntax"),
        ("sum(x,\n   x.real)", "attribute access (.real) at line 2, column 5"),
        ("é + x", "the unknown name 'é' at column 1"),
        ("x + é.__class__", "the unknown name 'é' at column 5"),
        ("'\\d' + x", "the string '\\\\d'"),
        ("x\0", "null bytes"),
    ],
)
def test_refusals_name_the_construct_and_its_column(text: str, message: str) -> None:
    with pytest.raises(einsql.OptionError) as raised:
        parse_expression(text, VARIABLES)
    assert message in str(raised.value)


def test_einsql_errors_come_through_as_they_are() -> None:
    with pytest.raises(einsql.ShapeError) as raised:
        parse_expression("einsum('ij,j->i', x, x)", VARIABLES)
    with pytest.raises(einsql.ShapeError) as direct:
        einsql.einsum("ij,j->i", VARIABLES["x"], VARIABLES["x"])
    assert str(raised.value) == str(direct.value)
    with pytest.raises(einsql.ShapeError, match="at least one axis"):
        parse_expression("2 @ 3", VARIABLES)


def test_huge_and_deep_expressions_are_refused_quickly() -> None:
    too_long = "x" + " " * MAX_EXPRESSION_LENGTH
    with pytest.raises(
        einsql.OptionError, match="100,001 characters; einsql reads at most 100,000"
    ):
        parse_expression(too_long, VARIABLES)
    for deep in (
        "-" * (MAX_EXPRESSION_DEPTH + 1) + "x",
        "x" + "+x" * MAX_EXPRESSION_DEPTH,
        "-" * (MAX_EXPRESSION_LENGTH - 1) + "x",  # the parser itself gives up
        "x" + "+x" * (MAX_EXPRESSION_LENGTH // 2 - 1),
        "exp(" * 300 + "x" + ")" * 300,  # too many parentheses for the parser
        "const(" + "[" * 300 + "1" + "]" * 300 + ")",
    ):
        with pytest.raises(einsql.OptionError, match="nest"):
            parse_expression(deep, VARIABLES)
    assert "(x ** 1000.0)" in str(parse_expression("x ** 1000", VARIABLES))
    shallow = "+".join(["x"] * 60)
    assert parse_expression(shallow, VARIABLES).shape == (3,)


def test_the_readme_and_help_examples_read_as_before() -> None:
    A, x, b = einsql.var("A", (5, 3)), einsql.var("x", (3,)), einsql.var("b", (5,))
    variables = {"A": A, "x": x, "b": b}
    expr = parse_expression("sum((einsum('ij,j->i', A, x) - b) ** 2)", variables)
    assert str(expr) == str(einsql.sum((einsql.einsum("ij,j->i", A, x) - b) ** 2))
    X, y, w = einsql.var("X", (100, 20)), einsql.var("y", (100,)), einsql.var("w", (20,))
    expr = parse_expression(
        "sum(log1p(exp(-y * einsum('ij,j->i', X, w))))", {"X": X, "y": y, "w": w}
    )
    expected = einsql.sum(einsql.log1p(einsql.exp(-y * einsql.einsum("ij,j->i", X, w))))
    assert str(expr) == str(expected)


@pytest.mark.parametrize(
    ("text", "build"),
    [
        ("sum(x, axis=(0,))", lambda v: einsql.sum(v["x"], axis=(0,))),
        ("sum(A, axis=[0, -1])", lambda v: einsql.sum(v["A"], axis=[0, -1])),
        ("sum(A, -1)", lambda v: einsql.sum(v["A"], -1)),
        ("const([1, -2.5, 3e0]) * x", lambda v: einsql.const([1, -2.5, 3.0]) * v["x"]),
        ("const([[1, 2], (3, 4)])", lambda v: einsql.const([[1, 2], [3, 4]])),
        ("einsum('i,i->', x, [1, 2, 3])", lambda v: einsql.einsum("i,i->", v["x"], [1, 2, 3])),
        ("+x - -y", lambda v: v["x"] - -v["y"]),
        ("2 ** 10 * s / 4", lambda v: 2**10 * v["s"] / 4),
        ("(x\n+\ny)", lambda v: v["x"] + v["y"]),
        (
            "A @ x + x @ const([1, 2, 3])",
            lambda v: v["A"] @ v["x"] + v["x"] @ einsql.const([1, 2, 3]),
        ),
        (
            "norm2(x) * norm1(y) + trace(A)",
            lambda v: einsql.norm2(v["x"]) * einsql.norm1(v["y"]) + einsql.trace(v["A"]),
        ),
        ("sum(kron(diag(x), A))", lambda v: einsql.sum(einsql.kron(einsql.diag(v["x"]), v["A"]))),
    ],
)
def test_allowed_forms_build_what_python_builds(
    text: str, build: Callable[[dict[str, Any]], Any]
) -> None:
    assert str(parse_expression(text, VARIABLES)) == str(build(VARIABLES))


def test_a_variable_may_share_a_function_name() -> None:
    exp_var = einsql.var("exp", (3,))
    expr = parse_expression("exp(exp)", {"exp": exp_var})
    assert str(expr) == str(einsql.exp(exp_var))


# --- property tests -------------------------------------------------------------------

#: (text, build) pairs: the expression as text, and a function building it with einsql.
Built = tuple[str, Callable[[], Any]]


def _leaf_variable(name: str) -> Built:
    return name, lambda: VARIABLES[name]


def _leaf_number(number: float) -> Built:
    return repr(number), lambda: number


def _leaf_const(numbers: list[float]) -> Built:
    return f"const({numbers!r})", lambda: einsql.const(numbers)


def _binary(left: Built, operator: str, right: Built) -> Built:
    apply = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
    }[operator]
    return f"({left[0]} {operator} {right[0]})", lambda: apply(left[1](), right[1]())


def _power(base: Built, exponent: int) -> Built:
    return f"({base[0]} ** {exponent})", lambda: base[1]() ** exponent


def _negative(operand: Built) -> Built:
    return f"(-{operand[0]})", lambda: -operand[1]()


def _positive(operand: Built) -> Built:
    return f"(+{operand[0]})", operand[1]  # unary + leaves an expression as it is


def _function(name: str, operand: Built) -> Built:
    function = getattr(einsql, name)
    return f"{name}({operand[0]})", lambda: function(operand[1]())


def _sum(operand: Built, axis: Any, form: str) -> Built:
    if axis is None:
        return f"sum({operand[0]})", lambda: einsql.sum(operand[1]())
    text = (
        f"sum({operand[0]}, axis={axis!r})"
        if form == "keyword"
        else (f"sum({operand[0]}, {axis!r})")
    )
    return text, lambda: einsql.sum(operand[1](), axis=axis)


def _einsum(subscripts: str, operands: list[Built]) -> Built:
    text = f"einsum({subscripts!r}, {', '.join(o[0] for o in operands)})"
    return text, lambda: einsql.einsum(subscripts, *[o[1]() for o in operands])


SUBSCRIPTS = {"i->": 1, "ij->ji": 1, "ii->i": 1, "i,i->": 2, "ij,j->i": 2, "i,j->ij": 2}

leaves = st.one_of(
    st.sampled_from(sorted(VARIABLES)).map(_leaf_variable),
    st.integers(0, 9).map(_leaf_number),
    st.sampled_from([0.5, 1.5, 2.25, 1e-3]).map(_leaf_number),
    st.lists(st.integers(-3, 3), min_size=3, max_size=3).map(_leaf_const),
)


def _extend(children: st.SearchStrategy[Built]) -> st.SearchStrategy[Built]:
    einsums = st.sampled_from(sorted(SUBSCRIPTS)).flatmap(
        lambda s: st.lists(children, min_size=SUBSCRIPTS[s], max_size=SUBSCRIPTS[s]).map(
            lambda operands: _einsum(s, operands)
        )
    )
    return st.one_of(
        st.builds(_binary, children, st.sampled_from("+-*/"), children),
        st.builds(_power, children, st.sampled_from([0, 1, 2, 3, -1])),
        st.builds(_negative, children),
        st.builds(_positive, children),
        st.builds(_function, st.sampled_from(UNARY), children),
        st.builds(
            _sum,
            children,
            st.sampled_from([None, 0, 1, -1, (0, 1), [0]]),
            st.sampled_from(["keyword", "positional"]),
        ),
        einsums,
    )


expressions = st.recursive(leaves, _extend, max_leaves=12)


def _outcome(build: Callable[[], Any]) -> tuple[str, Any]:
    """What building gives: the printed expression, or the error parse_expression should raise."""
    try:
        value = build()
    except einsql.EinsqlError as error:
        return type(error).__name__, str(error)
    except Exception:  # a Python error (1 / 0, 2 ** x, ...): an OptionError when parsed
        return "OptionError", None
    if not isinstance(value, einsql.Expr):
        return "OptionError", None
    return "Expr", str(value)


def _parsed(text: str) -> tuple[str, Any]:
    try:
        value = parse_expression(text, VARIABLES)
    except einsql.OptionError as error:
        return "OptionError", str(error)
    except einsql.EinsqlError as error:
        return type(error).__name__, str(error)
    return "Expr", str(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_parsed_expressions_print_as_built_directly(built: Built) -> None:
    text, build = built
    expected, parsed = _outcome(build), _parsed(text)
    assert parsed[0] == expected[0], (text, parsed, expected)
    if expected[1] is not None:
        assert parsed[1] == expected[1], text


@contextmanager
def no_code_runs() -> Iterator[list[str]]:
    """Record any eval, exec, compile to code, or shell command made inside."""
    made: list[str] = []
    compile_ = builtins.compile

    def guarded_compile(
        source: Any, filename: Any, mode: str, flags: int = 0, *rest: Any, **options: Any
    ) -> Any:
        if not flags & ast.PyCF_ONLY_AST:  # a syntax tree is fine; code is not
            made.append(f"compile {mode}")
        return compile_(source, filename, mode, flags, *rest, **options)

    def forbidden(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            raise AssertionError(f"{name} was called")

        return call

    with (
        mock.patch.object(builtins, "compile", guarded_compile),
        mock.patch.object(builtins, "eval", forbidden("eval")),
        mock.patch.object(builtins, "exec", forbidden("exec")),
        mock.patch.object(os, "system", forbidden("os.system")),
        mock.patch.object(os, "popen", forbidden("os.popen")),
        mock.patch.object(subprocess, "Popen", forbidden("subprocess.Popen")),
    ):
        yield made


def assert_expr_or_einsql_error(text: str) -> None:
    parse_expression("x", VARIABLES)  # anything imported lazily is imported outside the guard
    with no_code_runs() as made:
        try:
            result = parse_expression(text, VARIABLES)
        except einsql.EinsqlError:
            result = None
    assert not made, (text, made)
    assert result is None or isinstance(result, einsql.Expr)


TOKENS = [
    *VARIABLES,
    *UNARY,
    "einsum",
    "sum",
    "const",
    "axis",
    "axis=",
    "__class__",
    "__import__",
    "__builtins__",
    "__subclasses__",
    "os",
    "open",
    "getattr",
    "lambda",
    "for",
    "in",
    "if",
    "else",
    "not",
    "and",
    "or",
    "is",
    "await",
    "yield",
    "None",
    "True",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    ":=",
    "=",
    "**",
    "*",
    "/",
    "//",
    "+",
    "-",
    "@",
    "%",
    "~",
    "<",
    "==",
    "0",
    "1",
    "-1",
    "2.5",
    "1e308",
    "9",
    "1000",
    "1001",
    "1j",
    "'ij,j->i'",
    "'i->'",
    "'ii'",
    "'abc'",
    "f'{x}'",
    "b'x'",
    "...",
    "\\",
    "#",
    "\n",
    ";",
    "'",
]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_an_expression_or_an_einsql_error(text: str) -> None:
    assert_expr_or_einsql_error(text)


@pytest.mark.parametrize("text", ["'{'", "'{where}'", "'}{'", "sum('{0}')"])
def test_braces_in_refused_text_are_quoted_not_formatted(text: str) -> None:
    """A refused string is shown as written (the message was once built with str.format)."""
    with pytest.raises(einsql.EinsqlError) as info:
        parse_expression(text, VARIABLES)
    assert text.strip("sum()") in str(info.value) and "column" in str(info.value)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from(["", " "]))
def test_token_soup_gives_an_expression_or_an_einsql_error(tokens: list[str], gap: str) -> None:
    assert_expr_or_einsql_error(gap.join(tokens))


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_generated_expressions_run_no_code(built: Built) -> None:
    assert_expr_or_einsql_error(built[0])


# --- the command line -----------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "().__class__.__base__.__subclasses__()[0]('touch {t}')",
        "__import__('os').system('touch {t}')",
        "sum(x) + __import__('os').system('touch {t}')",
    ],
)
def test_the_command_line_refuses_payloads(template: str, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    done = einsql_cli("grad", template.format(t=target), "--var", "x:3", "--wrt", "x", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is not allowed" in done.stderr and done.stdout == ""
    assert not target.exists()


def test_grad_still_prints_the_readme_example(tmp_path: Path) -> None:
    done = einsql_cli(
        "grad",
        "sum((einsum('ij,j->i', A, x) - b) ** 2)",
        *["--var", "A:5x3", "--var", "x:3", "--var", "b:5", "--wrt", "x"],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    A, x, b = einsql.var("A", (5, 3)), einsql.var("x", (3,)), einsql.var("b", (5,))
    expected = einsql.grad(einsql.sum((einsql.einsum("ij,j->i", A, x) - b) ** 2), x)
    assert done.stdout.strip() == str(expected)


# --- passwords in messages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://bob:s3cret@host/db", "postgresql://bob:***@host/db"),
        ("postgresql+psycopg://bob:s3cret@h:5432/db", "postgresql+psycopg://bob:***@h:5432/db"),
        (
            "cannot open 'postgres://bob:s3cret@h/db': no",
            "cannot open 'postgres://bob:***@h/db': no",
        ),
        ("postgresql://bob:p@ss/w:rd@host/db", "postgresql://bob:***@host/db"),
        ("postgresql://:s3cret@host/db", "postgresql://:***@host/db"),
        ("postgresql://h/db?user=bob&password=s3cret", "postgresql://h/db?user=bob&password=***"),
        ("host=h password=s3cret dbname=db", "host=h password=*** dbname=db"),
        ("host=h PASSWORD = 's3 cr\\'et' dbname=db", "host=h PASSWORD = *** dbname=db"),
        ("a://u:s3cret@h and b://v:s3cret@k", "a://u:***@h and b://v:***@k"),
        ("postgresql://bob@host:5432/db", "postgresql://bob@host:5432/db"),
        ("duckdb:///data.db, sqlite:///a:b.db", "duckdb:///data.db, sqlite:///a:b.db"),
        ("no URL here: a:b@c", "no URL here: a:b@c"),
    ],
)
def test_redact_hides_passwords(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert "s3" not in redact(text) or "s3" not in text


@pytest.mark.parametrize(
    "con",
    [
        "postgresq://bob:s3cret@localhost/db",  # a misspelt scheme: einsql says the URL
        "postgresql://bob:s3cret@127.0.0.1:1/db",  # nothing listens there
        "postgresql://bob:s3cret@127.0.0.1:port/db",  # libpq cannot read it
        "host=127.0.0.1 port=1 user=bob password=s3cret",  # a libpq DSN
    ],
)
def test_messages_do_not_show_the_password_of_con(con: str, tmp_path: Path) -> None:
    done = einsql_cli("sql", "ij->", "--table", "a", "--con", con, cwd=tmp_path)
    assert done.returncode in (1, 2), done.stderr
    assert "s3cret" not in done.stderr and done.stderr.startswith("einsql:")
    assert done.stdout == ""
    if con.startswith("postgresq:"):
        assert "postgresq://bob:***@localhost/db" in done.stderr


SPEC_PIECES = [
    "",
    ":",
    ",",
    "x",
    "3",
    "3x3",
    "src",
    "dst",
    "weight",
    "1",
    "i0",
    "val",
    " ",
    "'",
    "(",
]


@pytest.fixture(scope="module")
def edge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "edges.csv"
    path.write_text("src,dst,weight\n0,1,2.5\n1,2,1.0\n", encoding="utf-8")
    return path


def assert_operand_or_einsql_error(spec: str) -> None:
    try:
        operand = read_operand(spec)
    except einsql.EinsqlError:
        return
    assert isinstance(operand, einsql.CooArray)
    assert operand.coords.shape == (operand.nnz, len(operand.shape))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SPEC_PIECES), max_size=12))
def test_operand_specs_give_an_operand_or_an_einsql_error(
    edge_file: Path, pieces: list[str]
) -> None:
    assert_operand_or_einsql_error(str(edge_file) + ":" + "".join(pieces))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_operand_spec_text_gives_an_operand_or_an_einsql_error(
    edge_file: Path, text: str
) -> None:
    assert_operand_or_einsql_error(f"{edge_file}:{text}")


def test_operand_specs_name_columns_and_run_nothing(edge_file: Path) -> None:
    target = edge_file.parent / "pwned"
    spec = f"{edge_file}::__import__('os').system('touch {target}'),dst:weight"
    with pytest.raises(einsql.OperandError, match="has no column"):
        read_operand(spec)
    assert not target.exists()


@pytest.mark.parametrize("spec", ["a:¹", "a:3x²", "a:٣"])
def test_shapes_are_ascii_digits(spec: str, tmp_path: Path) -> None:
    """``str.isdigit`` admits these; they were a raw ValueError from ``int``."""
    for args in (["sql", "i->", "--table", spec], ["grad", "sum(a)", "--var", spec, "--wrt", "a"]):
        done = einsql_cli(*args, cwd=tmp_path)
        assert done.returncode == 2 and "cannot read the shape" in done.stderr, done.stderr
