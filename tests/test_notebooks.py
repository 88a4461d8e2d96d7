"""Notebooks: committed without outputs, thin (no logic), and they run on the sample data."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_STATEMENTS = 5
PARAMETERS = {"data_dir", "period", "as_of", "threshold"}


def code_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    return nb, [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    _, cells = code_cells(path)
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin(path):
    """No def, class or loop, at most a few statements a cell: logic lives in src/outcomes."""
    nb, cells = code_cells(path)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    names = {
        t.id
        for node in ast.parse(tagged[0].source).body
        for t in getattr(node, "targets", [])
        if isinstance(t, ast.Name)
    }
    assert names == PARAMETERS
    assert nb.cells[0].cell_type == "markdown", "opens with a Markdown purpose cell"
    for cell in cells:
        if cell is tagged[0]:
            continue
        tree = ast.parse(cell.source)
        banned = (
            ast.FunctionDef,
            ast.AsyncFunctionDef,
            ast.ClassDef,
            ast.For,
            ast.While,
            ast.Lambda,
        )
        assert not [n for n in ast.walk(tree) if isinstance(n, banned)], cell.source
        assert len(tree.body) <= MAX_STATEMENTS, cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_sample(path, tmp_path, sample_dir):
    """Any failing cell fails the test (papermill raises PapermillExecutionError)."""
    pm.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"data_dir": str(sample_dir)},
        kernel_name="python3",
        cwd=str(path.parent),
        execution_timeout=300,
        progress_bar=False,
    )
