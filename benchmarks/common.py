"""What the benchmark runners share: timing, the notebook's wall time, recording results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.benchmark import Timer

from tools.grade.workspace import workspace

HERE = Path(__file__).resolve().parent


def median_seconds(fn, min_run_time: float = 1.0) -> float:
    """Median time of fn over repeated blocks (torch.utils.benchmark)."""
    return Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def notebook_wall_time(notebook: str, threads: int | None = None) -> float:
    """Seconds for pytest --nbval-lax over the notebook with the reference solutions, kernel start included;
    on threads intra-op threads (OMP_NUM_THREADS), or torch's default."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with workspace() as root:
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--nbval-lax",
                "--nbval-current-env",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                notebook,
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the notebook failed under nbval:\n{proc.stdout[-3000:]}")
    return elapsed


def write_section(
    markdown: str, marker: str = "linear_classifier", readme: Path = HERE / "README.md"
) -> None:
    """Replaces the text between a benchmark's markers in benchmarks/README.md."""
    begin, end = f"<!-- results: {marker} -->", f"<!-- end results: {marker} -->"
    text = readme.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {begin} ... {end} section")
    readme.write_text(pattern.sub(lambda _: f"{begin}\n{markdown}\n{end}", text))


def run(
    name: str,
    description: str,
    measure: Callable[[], dict],
    as_markdown: Callable[[dict], str],
    argv: list[str] | None = None,
) -> None:
    """The command line of a runner: measure, print as markdown, and with --write record the results in
    benchmarks/README.md (between the markers named `name`) and benchmarks/results/<name>.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help="record the results in benchmarks/README.md")
    args = parser.parse_args(argv)
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        **measure(),
    }
    markdown = as_markdown(results)
    print(markdown)
    if args.write:
        write_section(markdown, marker=name)
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
