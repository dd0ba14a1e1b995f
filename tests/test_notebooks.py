"""The notebooks in notebooks/ execute without error (headless, with nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import database_url
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
PLOTTED = {"derivatives": 1, "benchmarks": 2}  # notebooks that draw figures, and how many


def test_there_are_notebooks() -> None:
    names = {path.stem for path in NOTEBOOKS}
    assert {"quickstart", "derivatives", "quantum_circuit", "benchmarks", "spark"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.stem == "spark":  # on the suite's Spark server, where pyspark looks for one
        monkeypatch.setenv("SPARK_REMOTE", database_url("spark"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert outputs  # the cells really ran
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == PLOTTED.get(path.stem, 0)  # drawn inline, headless
