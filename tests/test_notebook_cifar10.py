"""The notebooks on the CIFAR-10 code path, offline: a small random dataset written in the official
pickle format stands in for the download, so every cell that handles 32x32 RGB images runs.

Random pixels carry no signal, so the questions about learned accuracy must fail; every other
question passes. (Assignments 3 and 4 grade no learned accuracy on CIFAR-10, so there every
question passes.)
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
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


@pytest.mark.parametrize(
    "notebook,quick,outcomes",
    [
        ("assignments/01_linear_classifiers.ipynb", {}, {"svm_search", "softmax_search"}),
        ("assignments/02_simclr.ipynb", {"TRAIN_STEPS": 3}, {"simclr_training"}),
        ("assignments/03_cam_loss.ipynb", {"NUM_TRAIN": 256, "EPOCHS": 1, "NUM_TEST": 200}, set()),
        ("assignments/04_neural_collapse.ipynb", {"EPOCHS": 2, "METRICS_EVERY": 1}, set()),
    ],
)
def test_notebook_runs_on_cifar10_format_data(tmp_path, notebook, quick, outcomes):
    with workspace() as root:
        datasets = root / "datasets"
        if datasets.is_symlink():
            datasets.unlink()  # never write into the real datasets folder
        write_random_cifar10(datasets / "cifar-10-batches-py")
        override_parameters(root / notebook, DATASET="cifar10", **quick)
        proc = subprocess.run(
            [sys.executable, "-m", "utils.autograde", notebook, "--report-dir", str(tmp_path)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / (Path(notebook).stem + ".json")).read_text())
    status = {q["id"]: q["status"] for q in report["questions"]}
    assert {q: status[q] for q in outcomes} == dict.fromkeys(outcomes, "failed")
    assert {q: s for q, s in status.items() if q not in outcomes} == {
        q: "passed" for q in status if q not in outcomes
    }
