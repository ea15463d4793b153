"""Speed and exactness of assignment 4's reference ETF and neural-collapse code, measured in one run.

    python -m benchmarks.neural_collapse            # print the results
    python -m benchmarks.neural_collapse --write    # also record them in benchmarks/README.md

1. etf_objective against etf_objective_naive, D=512, C=100, float64.
2. simplex_etf at C=1000, D=2048 in float32 and float64 (time, largest Gram error) against gradient descent
   to an objective of 1e-6 at D=512, C=20.
3. neural_collapse_metrics on 50,000 x 512 float32 features of 10 classes, with a classifier.
4. the notebook's wall time under nbval with the reference solutions.
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import median_seconds, notebook_wall_time, run
from solutions.neural_collapse import (
    etf_by_gradient_descent,
    etf_gram_target,
    etf_objective,
    etf_objective_naive,
    neural_collapse_metrics,
    simplex_etf,
)

NOTEBOOK = "assignments/04_neural_collapse.ipynb"


def objective_speed() -> dict:
    W = torch.randn(512, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    naive = median_seconds(lambda: etf_objective_naive(W), min_run_time=3.0)
    vectorized = median_seconds(lambda: etf_objective(W))
    return {"naive_ms": 1e3 * naive, "vectorized_ms": 1e3 * vectorized}


def closed_form_against_descent() -> dict:
    rows = {}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        seconds = median_seconds(lambda: simplex_etf(2048, 1000, seed=0, dtype=dtype), min_run_time=2.0)
        W = simplex_etf(2048, 1000, seed=0, dtype=dtype).double()
        rows[name] = {
            "ms": 1e3 * seconds,
            "gram_error": (W.t() @ W - etf_gram_target(1000)).abs().max().item(),
        }
    start = time.perf_counter()
    descent = etf_by_gradient_descent(512, 20, lr=0.05, tol=1e-6, max_iters=100000, seed=0)
    descent_s = time.perf_counter() - start
    closed_small = median_seconds(lambda: simplex_etf(512, 20, seed=0, dtype=torch.float64))
    W = descent.weight
    rows["descent"] = {
        "ms": 1e3 * descent_s,
        "iterations": descent.iterations,
        "gram_error": (W.t() @ W - etf_gram_target(20)).abs().max().item(),
        "closed_form_same_size_ms": 1e3 * closed_small,
    }
    return rows


def metrics_speed() -> dict:
    gen = torch.Generator().manual_seed(1)
    labels = torch.randint(10, (50000,), generator=gen)
    features = torch.randn(10, 512, generator=gen)[labels] + torch.randn(50000, 512, generator=gen)
    weight = torch.randn(512, 10, generator=gen)
    return {
        "ms": 1e3
        * median_seconds(lambda: neural_collapse_metrics(features, labels, weight), min_run_time=3.0)
    }


def as_markdown(results: dict) -> str:
    o, e, m = results["objective"], results["etf"], results["metrics"]
    d = e["descent"]
    return "\n".join(
        [
            f"Measured {results['date']} on {results['machine']} "
            f"(torch {results['torch']}, {results['threads']} threads).",
            "",
            "| measurement | result | goal |",
            "|---|---|---|",
            "| etf_objective_naive / etf_objective, D=512 C=100 float64 "
            f"| {o['naive_ms']:.0f} ms / {o['vectorized_ms']:.2f} ms = "
            f"**{o['naive_ms'] / o['vectorized_ms']:.0f}x** | |",
            f"| simplex_etf, C=1000 D=2048, float32 | **{e['float32']['ms']:.0f} ms**, "
            f"Gram error {e['float32']['gram_error']:.1e} "
            "| < 500 ms, < 1e-5 |",
            f"| simplex_etf, C=1000 D=2048, float64 | **{e['float64']['ms']:.0f} ms**, "
            f"Gram error {e['float64']['gram_error']:.1e} "
            "| < 500 ms, < 1e-12 |",
            f"| gradient descent to objective 1e-6, D=512 C=20 | {d['ms']:.0f} ms, {d['iterations']} steps, Gram error "
            f"{d['gram_error']:.1e}; the closed form at this size: {d['closed_form_same_size_ms']:.2f} ms "
            f"(**{d['ms'] / d['closed_form_same_size_ms']:.0f}x** faster) | |",
            "| neural_collapse_metrics, 50,000 x 512 float32 features, C=10, with a classifier "
            f"| **{m['ms']:.0f} ms** | |",
            "| notebook under nbval, reference solutions, fresh kernel included "
            f"| **{results['notebook_s']:.0f} s** | <= 180 s |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    def measure() -> dict:
        return {
            "objective": objective_speed(),
            "etf": closed_form_against_descent(),
            "metrics": metrics_speed(),
            "notebook_s": notebook_wall_time(NOTEBOOK),
        }

    run("neural_collapse", __doc__.splitlines()[0], measure, as_markdown, argv)


if __name__ == "__main__":
    main()
