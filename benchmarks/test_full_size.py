"""benchmarks/full_size.py: its smoke mode end to end (the GPU path's code on the CPU, at toy size), and its
two pieces that decide what the full runs measure: the time budget's learning rate and the augmentation."""

from __future__ import annotations

import json
import math
import shutil

import torch

from benchmarks import full_size


def test_smoke_mode_runs_every_recipe_and_records_only_where_told(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(full_size.HERE / "README.md", readme)
    committed = (full_size.HERE / "README.md").read_text()
    results = full_size.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--readme", str(readme)])

    assert (full_size.HERE / "README.md").read_text() == committed
    assert json.loads((tmp_path / "full_size.json").read_text())["smoke"] is True
    text = readme.read_text()
    for marker in ("full_size_simclr", "full_size_cam_loss", "full_size_neural_collapse"):
        section = text.split(f"<!-- results: {marker} -->")[1].split(f"<!-- end results: {marker} -->")[0]
        assert "smoke mode" in section, marker

    accuracies = [a for scores in results["simclr"]["accuracy"].values() for a in scores.values()]
    accuracies += [r[key] for r in results["cam_loss"]["runs"].values() for key in ("accuracy", "pointing")]
    assert all(0 <= a <= 1 for a in accuracies)
    assert results["simclr"]["steps"] >= 1 and all(
        r["steps"] >= 1 for r in results["cam_loss"]["runs"].values()
    )
    for run in results["neural_collapse"]["runs"].values():
        assert run["epochs"] == len(run["history"]) >= 1
        assert {"train_error", "nc1", "nc2_etf_distance", "nc3", "nc4"} <= set(run["final"])
        assert 0 <= run["tail_accuracy"] <= 1


def test_budget_anneals_the_learning_rate_from_its_base_to_zero():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    full_size.Budget(1e6).anneal(optimizer, 0.1)
    assert math.isclose(optimizer.param_groups[0]["lr"], 0.1, rel_tol=1e-4)
    spent = full_size.Budget(1e-9)
    spent.anneal(optimizer, 0.1)
    assert spent.spent() and optimizer.param_groups[0]["lr"] < 1e-12


def test_augmentation_keeps_shape_and_range_and_follows_its_generator():
    x = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    views = [full_size.augment(x, torch.Generator().manual_seed(1)) for _ in range(2)]
    other = full_size.augment(x, torch.Generator().manual_seed(2))
    assert views[0].shape == x.shape and 0 <= views[0].min() and views[0].max() <= 1
    assert torch.equal(views[0], views[1]) and not torch.allclose(views[0], other)
    assert not torch.allclose(views[0], x)
