"""The autograder's kernels let waiting OpenMP threads sleep (utils/cell_runner.py: KERNEL_ENVIRONMENT),
unless the caller set the variable, and the grading process's own environment stays as it was."""

from __future__ import annotations

import os

import nbformat

from utils.cell_runner import run_cells
from utils.results import Status

CHECK = "import os\nassert os.environ.get('OMP_WAIT_POLICY') == {!r}, os.environ.get('OMP_WAIT_POLICY')"


def outcome(tmp_path, expected: str) -> Status:
    path = tmp_path / "probe.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CHECK.format(expected))])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return run_cells(path, {}, 60)[0].status


def test_the_kernel_waits_passively_and_the_callers_environment_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert outcome(tmp_path, "PASSIVE") is Status.PASSED
    assert "OMP_WAIT_POLICY" not in os.environ


def test_a_callers_own_setting_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert outcome(tmp_path, "ACTIVE") is Status.PASSED
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
