"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def code_blocks(language: str) -> list[str]:
    """The README's code blocks in ``language``, dedented (as inside a list item)."""
    blocks = re.findall(rf"^( *)```{language}\n(.*?)^ *```", README, flags=re.S | re.M)
    return [textwrap.dedent(block) for _, block in blocks]


def test_the_python_tour_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the tour writes a SQLite file
    tour = code_blocks("python")[0]
    namespace: dict[str, object] = {}
    exec(compile(tour, "README tour", "exec"), namespace)
    assert {"a", "b", "g", "two_hops", "squared"} <= namespace.keys()
    assert (tmp_path / "tour.db").exists()


def test_the_gradient_example_runs_and_matches_numpy() -> None:
    example = code_blocks("python")[1]
    namespace: dict[str, object] = {}
    exec(compile(example, "README gradient", "exec"), namespace)  # it asserts np.allclose
    assert {"g", "expected", "gradient"} <= namespace.keys()


def test_every_other_python_example_runs() -> None:
    for k, block in enumerate(code_blocks("python")[2:]):
        exec(compile(block, f"README example {k + 2}", "exec"), {})  # each asserts its results


def test_the_first_command_runs_an_einsum_on_duckdb() -> None:
    first = code_blocks("bash")[0]
    snippet = re.search(r'python -c "(.*)"', first)
    assert snippet is not None
    done = subprocess.run(
        [sys.executable, "-c", snippet.group(1)], capture_output=True, text=True, check=True
    )
    assert "[[ 5. 14.]" in done.stdout and '"__einsql_t0" AS (' in done.stdout


def test_the_second_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert code_blocks("bash")[1].strip() in ci


def without_comment(line: str) -> str:
    return " ".join(line.split(" #")[0].split())


def test_the_command_line_examples_are_the_help_examples_the_cli_tests_run() -> None:
    """Each command of the README's command-line block is an ``einsql --help`` example,
    which tests/test_cli.py runs as written."""
    from einsql.cli import EXAMPLES

    section = README.split("## The command line", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block is not None
    examples = {without_comment(line) for line in EXAMPLES.replace("\\\n", " ").splitlines()}
    commands = [without_comment(line) for line in block.group(1).splitlines() if line.strip()]
    assert commands and all(command in examples for command in commands), commands
