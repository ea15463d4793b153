"""What reading a notebook costs a fresh process, with and without the grammar that jsonschema would import
for nbformat (utils/__init__.py keeps it out): the import of the autograder, and a whole autograder run of
the stubs' notebook 4 (every question not implemented: little but start-up).

    python -m benchmarks.startup --write

Each side runs ROUNDS times, alternating, in fresh interpreters on the same copy; the table gives medians.
"Without" imports nbformat before `utils`, as a process that never imports `utils` first would.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

import benchmarks.common as common
from tools.grade.workspace import workspace
from utils.course import by_topic

ROUNDS = 5
NOTEBOOK = by_topic("neural_collapse").notebook
KEPT_OUT = "import utils.autograde"
IMPORTED = "import nbformat; import utils.autograde"  # jsonschema loads before utils/__init__.py runs
RUN = "import runpy; runpy.run_module('utils.autograde', run_name='__main__')"  # reads sys.argv[1:]


def seconds(code: str, root, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start


def measure() -> dict:
    timings = {
        key: [] for key in ("import kept out", "import with grammar", "run kept out", "run with grammar")
    }
    with workspace({}) as root, tempfile.TemporaryDirectory() as reports:
        run_args = (NOTEBOOK, "--report-dir", reports)
        for _ in range(ROUNDS):
            timings["import kept out"].append(seconds(KEPT_OUT, root))
            timings["import with grammar"].append(seconds(IMPORTED, root))
            timings["run kept out"].append(seconds(RUN, root, *run_args))
            timings["run with grammar"].append(seconds("import nbformat; " + RUN, root, *run_args))
    return {"notebook": NOTEBOOK, "rounds": ROUNDS, **{k: statistics.median(v) for k, v in timings.items()}}


def as_markdown(r: dict) -> str:
    return "\n".join(
        [
            f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); medians of {r['rounds']} fresh "
            f"interpreters each.",
            "",
            "| measurement | grammar kept out | grammar imported | imported / kept out |",
            "|---|---|---|---|",
            f"| `import utils.autograde` | {r['import kept out']:.2f} s | {r['import with grammar']:.2f} s | "
            f"{r['import with grammar'] / r['import kept out']:.1f}x |",
            f"| the autograder on the stubs of `{r['notebook']}` | {r['run kept out']:.1f} s | "
            f"{r['run with grammar']:.1f} s | {r['run with grammar'] / r['run kept out']:.2f}x |",
        ]
    )


if __name__ == "__main__":
    common.run("startup", __doc__.splitlines()[0], measure, as_markdown)
