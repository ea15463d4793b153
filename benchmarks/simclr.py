"""Speed and memory of assignment 2's reference NT-Xent loss, all measured in one run on this machine.

    python -m benchmarks.simclr            # print the results
    python -m benchmarks.simclr --write    # also record them in benchmarks/README.md

1. naive against vectorized (N=64, D=64, float64).
2. the vectorized loss, forward and backward, against pytorch-metric-learning's and lightly's NTXentLoss
   at N in {256, 1024, 4096}, D=128, float32: median time, peak memory (each in a fresh process), and
   the largest difference of the loss values.
3. the notebook's wall time under nbval with the reference solutions.
"""

from __future__ import annotations

import re
import subprocess
import sys

import torch

from benchmarks.common import median_seconds, notebook_wall_time, run

NOTEBOOK = "assignments/02_simclr.ipynb"
SIZES = [256, 1024, 4096]
IMPLEMENTATIONS = ["ours", "pytorch-metric-learning", "lightly"]


def make_loss(name: str, tau: float = 0.2):
    """(left, right) -> loss for each implementation."""
    if name == "ours":
        from solutions.simclr import simclr_loss_vectorized

        return lambda left, right: simclr_loss_vectorized(left, right, tau)
    if name == "pytorch-metric-learning":
        from pytorch_metric_learning.losses import NTXentLoss

        loss = NTXentLoss(temperature=tau)
        return lambda left, right: loss(torch.cat([left, right]), torch.arange(len(left)).repeat(2))
    from lightly.loss import NTXentLoss

    return NTXentLoss(temperature=tau)


def inputs(n: int, d: int = 128, dtype=torch.float32):
    gen = torch.Generator().manual_seed(n)
    left = torch.randn(n, d, generator=gen, dtype=dtype)
    return left, left + torch.randn(n, d, generator=gen, dtype=dtype)


def forward_backward(loss_fn, left, right):
    leaves = [left.clone().requires_grad_(True), right.clone().requires_grad_(True)]
    value = loss_fn(*leaves)
    value.backward()
    return value


def peak_memory_mb(name: str, n: int) -> float | None:
    """Peak resident memory added by one forward and backward, in a fresh process (MB); None when it fails.

    Reads Linux's VmHWM after resetting it (clear_refs 5): getrusage's maxrss would carry the
    parent's peak across fork and exec.
    """
    code = (
        "from benchmarks.simclr import forward_backward, inputs, make_loss\n"
        "def kb(field): return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(field))\n"
        f"loss_fn = make_loss({name!r}); left, right = inputs({n})\n"
        "forward_backward(loss_fn, *inputs(8))\n"  # imports and lazy initialisation, before the baseline
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = kb('VmRSS:')\n"
        "forward_backward(loss_fn, left, right)\n"
        "print((kb('VmHWM:') - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None


def against_peers() -> dict:
    """{N: {implementation: {"ms", "peak_mb"} or {"error"}}, "max_abs_difference"}."""
    rows = {}
    for n in SIZES:
        left, right = inputs(n)
        values, rows[n] = {}, {}
        for name in IMPLEMENTATIONS:
            loss_fn = make_loss(name)
            try:
                values[name] = forward_backward(loss_fn, left, right).item()
            except RuntimeError as err:  # a peer that runs out of memory at this size
                asked = re.search(r"allocate (\d+) bytes", str(err))
                rows[n][name] = {
                    "error": f"out of memory (asked for {int(asked[1]) / 2**30:.0f} GiB)"
                    if asked
                    else str(err)
                }
                continue
            rows[n][name] = {"peak_mb": peak_memory_mb(name, n)}
        # Interleaved rounds, the best median of each: shared machines are noisy for seconds at a time.
        for _ in range(3):
            for name in values:
                loss_fn = make_loss(name)
                t = 1e3 * median_seconds(lambda: forward_backward(loss_fn, left, right), min_run_time=1.0)
                rows[n][name]["ms"] = min(t, rows[n][name].get("ms", float("inf")))
        rows[n]["max_abs_difference"] = max(abs(v - values["ours"]) for v in values.values())
    return rows


def naive_vs_vectorized() -> dict:
    from solutions.simclr import simclr_loss_naive, simclr_loss_vectorized

    left, right = inputs(64, 64, torch.float64)
    naive = median_seconds(lambda: simclr_loss_naive(left, right, 0.2), min_run_time=3.0)
    vectorized = median_seconds(lambda: simclr_loss_vectorized(left, right, 0.2))
    return {"naive_ms": 1e3 * naive, "vectorized_ms": 1e3 * vectorized, "speedup": naive / vectorized}


def as_markdown(results: dict) -> str:
    s = results["speedup"]
    lines = [
        f"Measured {results['date']} on {results['machine']} (torch {results['torch']}).",
        "",
        f"Naive against vectorized, N=64 D=64 float64: {s['naive_ms']:.0f} ms against {s['vectorized_ms']:.2f} ms, "
        f"**{s['speedup']:.0f}x**.",
        "",
        "Forward and backward, D=128, float32 (best of three interleaved medians; peak memory added, in a fresh",
        "process):",
        "",
        "| N | ours | pytorch-metric-learning | lightly | ours / fastest peer | largest loss difference |",
        "|---|---|---|---|---|---|",
    ]
    for n, row in results["peers"].items():
        cells = [
            f"{row[k]['ms']:.1f} ms, {row[k]['peak_mb']:.0f} MB" if "ms" in row[k] else row[k]["error"]
            for k in IMPLEMENTATIONS
        ]
        fastest = min(row[k]["ms"] for k in IMPLEMENTATIONS[1:] if "ms" in row[k])
        lines.append(
            f"| {n} | {' | '.join(cells)} | **{row['ours']['ms'] / fastest:.2f}x** "
            f"| {row['max_abs_difference']:.1e} |"
        )
    lines += [
        "",
        f"Notebook under nbval with the reference solutions (fresh kernel included): **{results['notebook_s']:.0f} s** "
        "(goal <= 180 s).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    def measure() -> dict:
        return {
            "speedup": naive_vs_vectorized(),
            "peers": against_peers(),
            "notebook_s": notebook_wall_time(NOTEBOOK),
        }

    run("simclr", __doc__.splitlines()[0], measure, as_markdown, argv)


if __name__ == "__main__":
    main()
