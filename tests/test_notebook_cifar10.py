"""The notebooks on the CIFAR-10 code path, offline: a small random dataset written in the official
pickle format stands in for the download, so every cell that handles 32x32 RGB images runs.

Random pixels carry no signal, so the questions about learned accuracy must fail; every other
question passes. (Assignments 3 and 4 grade no learned accuracy on CIFAR-10, so there every
question passes.)
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tools.grade.workspace import override_parameters, workspace

pytestmark = pytest.mark.slow  # runs notebooks or a class: the full suite and CI run it


def write_random_cifar10(folder, images_per_batch: int = 260, num_test: int = 200, seed: int = 0) -> None:
    """data_batch_1..5, test_batch and batches.meta, as in cifar-10-python.tar.gz, with random content."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)

    def dump(name, count):
        batch = {
            b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, count).tolist(),
        }
        (folder / name).write_bytes(pickle.dumps(batch))

    for b in range(1, 6):
        dump(f"data_batch_{b}", images_per_batch)
    dump("test_batch", num_test)
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [f"class {i}".encode() for i in range(10)]})
    )


# {notebook: (the notebook's quick parameters, the questions that must fail on random pixels)}
CASES = {
    "assignments/01_linear_classifiers.ipynb": ({}, {"svm_search", "softmax_search"}),
    "assignments/02_simclr.ipynb": ({"TRAIN_STEPS": 3}, {"simclr_training"}),
    "assignments/03_cam_loss.ipynb": ({"NUM_TRAIN": 256, "EPOCHS": 1, "NUM_TEST": 200}, set()),
    "assignments/04_neural_collapse.ipynb": ({"EPOCHS": 2, "METRICS_EVERY": 1}, set()),
}


def grade_on_cifar10(notebook: str, report_dir: Path) -> dict[str, str]:
    """{question: status} of the reference's run of notebook on random data in CIFAR-10's format."""
    with workspace() as root:
        datasets = root / "datasets"
        if datasets.is_symlink():
            datasets.unlink()  # never write into the real datasets folder
        write_random_cifar10(datasets / "cifar-10-batches-py")
        override_parameters(root / notebook, DATASET="cifar10", **CASES[notebook][0])
        proc = subprocess.run(
            [sys.executable, "-m", "utils.autograde", notebook, "--report-dir", str(report_dir)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "OMP_NUM_THREADS": "1"},  # one thread each: two runs share the two cores
        )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((report_dir / (Path(notebook).stem + ".json")).read_text())
    return {q["id"]: q["status"] for q in report["questions"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Every notebook of CASES graded, two at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {nb: pool.submit(grade_on_cifar10, nb, tmp_path_factory.mktemp("reports")) for nb in CASES}
        return {notebook: future.result() for notebook, future in futures.items()}


@pytest.mark.parametrize("notebook", CASES)
def test_notebook_runs_on_cifar10_format_data(graded, notebook):
    status, outcomes = graded[notebook], CASES[notebook][1]
    assert {q: status[q] for q in outcomes} == dict.fromkeys(outcomes, "failed")
    assert {q: s for q, s in status.items() if q not in outcomes} == {
        q: "passed" for q in status if q not in outcomes
    }
