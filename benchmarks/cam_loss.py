"""Speed of assignment 3's reference CAM code, all measured in one run on this machine.

    python -m benchmarks.cam_loss            # print the results
    python -m benchmarks.cam_loss --write    # also record them in benchmarks/README.md

1. make_cam against make_cam_naive and against torch.einsum, B=128, K=256, 8 x 8, float32.
2. one CAM-loss training step against a cross-entropy-only step (forward, backward, both optimizers) of the
   notebook's network, on batches of the notebook's images: the overhead of the CAM term.
3. the notebook's wall time under nbval with the reference solutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.common import median_seconds, notebook_wall_time, run
from solutions.cam_loss import SmallCNN, cam_loss_train_step, make_cam, make_cam_naive, make_optimizers

NOTEBOOK = "assignments/03_cam_loss.ipynb"
BATCH_SIZES = [64, 256]


def cam_speed() -> dict:
    gen = torch.Generator().manual_seed(0)
    fmap, labels, weight = (
        torch.randn(128, 256, 8, 8, generator=gen),
        torch.randint(10, (128,), generator=gen),
        torch.randn(10, 256, generator=gen),
    )
    times = {
        "naive": median_seconds(lambda: make_cam_naive(fmap, labels, weight), min_run_time=3.0),
        "ours": median_seconds(lambda: make_cam(fmap, labels, weight)),
        "einsum": median_seconds(lambda: torch.einsum("bk,bkhw->bhw", weight[labels], fmap)),
    }
    return {f"{k}_ms": 1e3 * v for k, v in times.items()}


def cross_entropy_step(model, backbone_optimizer, fc_optimizer, images, labels) -> float:
    """The baseline: the same step with the cross-entropy alone and no maps built."""
    backbone_optimizer.zero_grad()
    fc_optimizer.zero_grad()
    logits, _ = model(images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    backbone_optimizer.step()
    fc_optimizer.step()
    return loss.item()


def step_overhead() -> dict:
    rows = {}
    for batch in BATCH_SIZES:
        gen = torch.Generator().manual_seed(batch)
        images, labels = (
            torch.randn(batch, 1, 32, 32, generator=gen),
            torch.randint(10, (batch,), generator=gen),
        )
        torch.manual_seed(0)
        model = SmallCNN(in_channels=1)
        optimizers = make_optimizers(model, 1e-3)
        steps = {
            "cross_entropy": lambda: cross_entropy_step(model, *optimizers, images, labels),
            "cam_loss": lambda: cam_loss_train_step(model, *optimizers, images, labels, 3.0),
        }
        rows[batch] = {}
        for _ in range(5):  # interleaved rounds, the best median of each: shared machines are noisy
            for name, step in steps.items():
                t = 1e3 * median_seconds(step, min_run_time=1.0)
                rows[batch][f"{name}_ms"] = min(t, rows[batch].get(f"{name}_ms", float("inf")))
        rows[batch]["ratio"] = rows[batch]["cam_loss_ms"] / rows[batch]["cross_entropy_ms"]
    return rows


def as_markdown(results: dict) -> str:
    c = results["cam"]
    lines = [
        f"Measured {results['date']} on {results['machine']} (torch {results['torch']}, {results['threads']} threads).",
        "",
        "| measurement | result | goal |",
        "|---|---|---|",
        f"| make_cam_naive / make_cam, B=128 K=256 8x8 float32 | {c['naive_ms']:.0f} ms / {c['ours_ms']:.3f} ms = "
        f"**{c['naive_ms'] / c['ours_ms']:.0f}x** | >= 50x |",
        f"| make_cam / torch.einsum | {c['ours_ms']:.3f} ms / {c['einsum_ms']:.3f} ms "
        f"= **{c['ours_ms'] / c['einsum_ms']:.2f}x** | |",
    ]
    for batch, row in results["steps"].items():
        lines.append(
            f"| CAM-loss step / cross-entropy step, notebook's network, batch {batch} of 1x32x32 | "
            f"{row['cam_loss_ms']:.1f} ms / {row['cross_entropy_ms']:.1f} ms = **{row['ratio']:.2f}x** | <= 1.2x |"
        )
    lines.append(
        "| notebook under nbval, reference solutions, fresh kernel included "
        f"| **{results['notebook_s']:.0f} s** | <= 180 s |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    def measure() -> dict:
        return {"cam": cam_speed(), "steps": step_overhead(), "notebook_s": notebook_wall_time(NOTEBOOK)}

    run("cam_loss", __doc__.splitlines()[0], measure, as_markdown, argv)


if __name__ == "__main__":
    main()
