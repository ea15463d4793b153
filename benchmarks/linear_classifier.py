"""Speed of assignment 1's reference losses, all ratios measured in one run on this machine.

    python -m benchmarks.linear_classifier            # print the results
    python -m benchmarks.linear_classifier --write    # also record them in benchmarks/README.md

1. naive against vectorized, both losses, N=500, D=3073, C=10 (float32; CIFAR-10's shape with the bias).
2. vectorized loss and gradient against the floor of its two matmuls (X @ W and X.T @ G) and against
   PyTorch's own losses with autograd, N=4096, D=3073, C=10, float32.
3. the notebook's wall time under nbval with the reference solutions (a fresh kernel, as students run it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import solutions.linear_classifier as lc
from benchmarks.common import median_seconds, notebook_wall_time, run

NOTEBOOK = "assignments/01_linear_classifiers.ipynb"


def problem(n: int, d: int = 3073, c: int = 10, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return (
        0.0001 * torch.randn(d, c, generator=gen, dtype=dtype),
        torch.randn(n, d, generator=gen, dtype=dtype),
        torch.randint(c, (n,), generator=gen),
    )


def naive_vs_vectorized() -> dict:
    W, X, y = problem(500)
    rows = {}
    for loss in ["svm", "softmax"]:
        naive, vectorized = getattr(lc, f"{loss}_loss_naive"), getattr(lc, f"{loss}_loss_vectorized")
        t_naive = median_seconds(lambda: naive(W, X, y, 5e-6), min_run_time=3.0)
        t_vec = median_seconds(lambda: vectorized(W, X, y, 5e-6))
        rows[loss] = {"naive_ms": 1e3 * t_naive, "vectorized_ms": 1e3 * t_vec, "speedup": t_naive / t_vec}
    return rows


def against_floor_and_peers() -> dict:
    W, X, y = problem(4096)
    G = torch.randn(4096, 10)
    # The floor takes each product in whichever layout the BLAS runs fastest.
    scores_time = min(median_seconds(lambda: X.mm(W)), median_seconds(lambda: W.t().mm(X.t()).t()))
    gradient_time = min(median_seconds(lambda: X.t().mm(G)), median_seconds(lambda: G.t().mm(X).t()))
    floor = scores_time + gradient_time
    textbook = median_seconds(lambda: (X.mm(W), X.t().mm(G)))

    def autograd_peer(loss_fn):
        def run():
            Wg = W.clone().requires_grad_(True)
            loss = loss_fn(X.mm(Wg), y) + 5e-6 * (Wg * Wg).sum()
            loss.backward()

        return run

    svm_peer = autograd_peer(lambda s, t: 10 * F.multi_margin_loss(s, t, margin=1.0))
    rows = {"floor_ms": 1e3 * floor, "textbook_ms": 1e3 * textbook}
    for loss, peer in [("svm", svm_peer), ("softmax", autograd_peer(F.cross_entropy))]:
        vectorized = getattr(lc, f"{loss}_loss_vectorized")
        ours, theirs = median_seconds(lambda: vectorized(W, X, y, 5e-6)), median_seconds(peer)
        rows[loss] = {
            "ours_ms": 1e3 * ours,
            "vs_floor": ours / floor,
            "peer_ms": 1e3 * theirs,
            "vs_peer": ours / theirs,
        }
    return rows


def as_markdown(results: dict) -> str:
    s, f = results["speedup"], results["floor"]
    lines = [
        f"Measured {results['date']} on {results['machine']} (torch {results['torch']}, {results['threads']} threads).",
        "",
        "| measurement | svm | softmax | goal |",
        "|---|---|---|---|",
        f"| naive, N=500 D=3073 C=10 (ms) | {s['svm']['naive_ms']:.0f} | {s['softmax']['naive_ms']:.0f} | |",
        f"| vectorized, same inputs (ms) | {s['svm']['vectorized_ms']:.2f} | {s['softmax']['vectorized_ms']:.2f} | |",
        f"| **naive / vectorized** | **{s['svm']['speedup']:.0f}x** | **{s['softmax']['speedup']:.0f}x** | >= 100x |",
        f"| vectorized loss + gradient, N=4096 D=3073 C=10 float32 (ms) | {f['svm']['ours_ms']:.2f} "
        f"| {f['softmax']['ours_ms']:.2f} | |",
        f"| `X.mm(W)` + `X.t().mm(G)` as written (ms) | {f['textbook_ms']:.2f} | {f['textbook_ms']:.2f} | |",
        f"| floor: the same two products, each in its fastest layout (ms) | {f['floor_ms']:.2f} "
        f"| {f['floor_ms']:.2f} | |",
        f"| **vectorized / floor** | **{f['svm']['vs_floor']:.2f}x** | **{f['softmax']['vs_floor']:.2f}x** | <= 1.5x |",
        f"| torch.nn.functional loss + autograd (ms) | {f['svm']['peer_ms']:.2f} | {f['softmax']['peer_ms']:.2f} | |",
        f"| **vectorized / torch peer** | {f['svm']['vs_peer']:.2f}x | {f['softmax']['vs_peer']:.2f}x | |",
        "",
        f"Notebook under nbval with the reference solutions (fresh kernel included): **{results['notebook_s']:.1f} s** "
        "(goal <= 90 s).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    def measure() -> dict:
        return {
            "speedup": naive_vs_vectorized(),
            "floor": against_floor_and_peers(),
            "notebook_s": notebook_wall_time(NOTEBOOK),
        }

    run("linear_classifier", __doc__.splitlines()[0], measure, as_markdown, argv)


if __name__ == "__main__":
    main()
