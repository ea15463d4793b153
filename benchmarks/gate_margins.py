"""Training gates' margins: what correct solutions and the mutants that break training reach on each gated
question of a notebook, over seeds, against the gate's threshold.

    python -m benchmarks.gate_margins linear_classifier --write     # 10 seeds (--seeds N)
    python -m benchmarks.gate_margins cam_loss --write
    python -m benchmarks.gate_margins simclr --seeds 3 --write

Each run executes the notebook as a student's kernel does (nbclient, a fresh kernel) in a copy that holds
the submission's module, with SEED set and the cells after the last gated question left out; a last cell
prints the gate's values. Submissions: the reference, the differently written correct solution, and the
mutants whose must_fail names a gated question. Two runs go at a time, each kernel on one intra-op
thread, as the grader runs them.

For each gate: the worst value of a correct run and the best of a failing one, and where the threshold
sits between them: the correct side's room, (worst correct - threshold) / (worst correct - best failing),
under 20% calls for a redesign.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient

import benchmarks.common as common
from tools.grade.workspace import override_parameters, reference_source, workspace
from tools.teeth import material
from utils.checks.cam_loss import MAX_CAM_RATIO, TRAINED_TEST_ACCURACY
from utils.checks.linear_classifier import SEARCH_ACCURACY_GOALS
from utils.checks.simclr import RANDOM_ENCODER_MARGIN, RAW_PIXELS_MARGIN
from utils.course import by_topic, question_id
from utils.graded_cells import headers

VALUES_MARK = "GATE VALUES "


@dataclass(frozen=True)
class Gate:
    question: str
    name: str
    expression: str  # evaluated in the notebook's kernel after the gated cell
    threshold: float
    higher_passes: bool = True


_DIGITS_VAL, _DIGITS_TEST = SEARCH_ACCURACY_GOALS["digits"]
GATES = {
    "linear_classifier": [
        Gate("svm_search", "SVM validation accuracy", "best_svm_val", _DIGITS_VAL),
        Gate("svm_search", "SVM test accuracy", "best_svm_test", _DIGITS_TEST),
        Gate("softmax_search", "softmax validation accuracy", "best_softmax_val", _DIGITS_VAL),
        Gate("softmax_search", "softmax test accuracy", "best_softmax_test", _DIGITS_TEST),
    ],
    "simclr": [
        Gate(
            "simclr_training",
            "SimCLR probe minus the random encoder's",
            "simclr_accuracy - random_accuracy",
            RANDOM_ENCODER_MARGIN,
        ),
        Gate(
            "simclr_training",
            "SimCLR probe minus raw pixels'",
            "simclr_accuracy - raw_accuracy",
            RAW_PIXELS_MARGIN,
        ),
    ],
    "cam_loss": [
        Gate(
            "cam_training",
            "cross-entropy network's test accuracy",
            "results['cross-entropy']['accuracy']",
            TRAINED_TEST_ACCURACY,
        ),
        Gate(
            "cam_training",
            "CAM-loss network's test accuracy",
            "results['CAM-loss']['accuracy']",
            TRAINED_TEST_ACCURACY,
        ),
        Gate(
            "cam_training",
            "test L_cam, CAM-loss over cross-entropy",
            "results['CAM-loss']['l_cam'] / results['cross-entropy']['l_cam']",
            MAX_CAM_RATIO,
            higher_passes=False,
        ),
    ],
}


def submissions(topic: str) -> dict[str, tuple[str, bool]]:
    """{label: (source, correct)}."""
    hidden, gated = material(topic), {gate.question for gate in GATES[topic]}
    found = {"reference": (reference_source(topic), True), "written differently": (hidden.ALTERNATIVE, True)}
    for name, mutant in hidden.MUTANTS.items():
        if gated & {question_id(key) for key in mutant.must_fail}:
            found[f"mutant {name}"] = (mutant.source, False)
    return found


def gate_values(topic: str, source: str, seed: int) -> dict[str, float | None]:
    """{gate name: value} of one run of the notebook (None where the run did not get that far)."""
    notebook_name, gates = by_topic(topic).notebook, GATES[topic]
    with workspace({topic: source}) as root:
        path = root / notebook_name
        override_parameters(path, SEED=seed)
        notebook = nbformat.read(path, as_version=4)
        last = max(headers(notebook)[gate.question][1] for gate in gates)
        code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        notebook.cells = notebook.cells[: code[last] + 1]
        probe = ", ".join(f"{gate.name!r}: _gate({gate.expression!r})" for gate in gates)
        notebook.cells.append(
            nbformat.v4.new_code_cell(
                "import json\n"
                "def _gate(expression):\n"
                "    try:\n"
                "        return float(eval(expression))\n"
                "    except Exception:\n"
                "        return None\n"
                f"print({VALUES_MARK!r} + json.dumps({{{probe}}}))"
            )
        )
        NotebookClient(
            notebook, timeout=1800, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    line = next((line for line in printed.splitlines() if line.startswith(VALUES_MARK)), None)
    return json.loads(line[len(VALUES_MARK) :]) if line else dict.fromkeys((g.name for g in gates), None)


def measure(topic: str, seeds: int) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"  # each kernel on one thread, as the grader runs it
    runs = [(label, source, correct, seed) for label, (source, correct) in submissions(topic).items()
            for seed in range(seeds)]  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        values = list(pool.map(lambda run: gate_values(topic, run[1], run[3]), runs))
    return {
        "topic": topic,
        "seeds": seeds,
        "gates": [gate.__dict__ for gate in GATES[topic]],
        "runs": [
            {"submission": label, "correct": correct, "seed": seed, "values": found}
            for (label, _, correct, seed), found in zip(runs, values)
        ],
    }


def summary(r: dict, gate: dict) -> dict:
    """The worst correct and best failing value of a gate, the failing runs of correct solutions, and the
    room on the correct side relative to the gap."""
    sign = 1 if gate["higher_passes"] else -1
    correct = [run["values"][gate["name"]] for run in r["runs"] if run["correct"]]
    failing = [run["values"][gate["name"]] for run in r["runs"] if not run["correct"]]
    key = lambda value: -float("inf") if value is None else sign * value  # noqa: E731
    worst, best_failing = min(correct, key=key), max(failing, key=key) if failing else None
    passes = lambda value: value is not None and sign * value >= sign * gate["threshold"]  # noqa: E731
    room = None
    if worst is not None and best_failing is not None and worst != best_failing:
        room = (worst - gate["threshold"]) / (worst - best_failing)
    return {
        "worst correct": worst,
        "best failing": best_failing,
        "correct runs failing": sum(not passes(v) for v in correct),
        "failing runs passing": sum(passes(v) for v in failing),
        "room": room,
    }


def _shown(value: float | None) -> str:
    return "did not run" if value is None else f"{value:.3f}"


def as_markdown(r: dict) -> str:
    return (
        f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); `{by_topic(r['topic']).notebook}` on its "
        f"offline defaults, seeds 0 to {r['seeds'] - 1}; {table(r)}"
    )


def table(r: dict) -> str:
    """Who ran, then a row per gate: its threshold, worst correct and best failing value, and the room."""
    lines = [
        "correct: "
        + ", ".join(sorted({run["submission"] for run in r["runs"] if run["correct"]}))
        + "; failing: "
        + ", ".join(sorted({run["submission"] for run in r["runs"] if not run["correct"]})),
        "",
        "| gate | threshold | worst correct | best failing | room | correct runs failing | failing runs passing |",
        "|---|---|---|---|---|---|---|",
    ]
    for gate in r["gates"]:
        s = summary(r, gate)
        sign = ">=" if gate["higher_passes"] else "<="
        room = "-" if s["room"] is None else f"{100 * s['room']:.0f}%"
        lines.append(
            f"| {gate['question']}: {gate['name']} | {sign} {gate['threshold']:g} | {_shown(s['worst correct'])} | "
            f"{_shown(s['best failing'])} | {room} | {s['correct runs failing']} | {s['failing runs passing']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", choices=sorted(GATES), help="the assignment whose gates to measure")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 to N-1 of each submission")
    args, rest = parser.parse_known_args()
    common.run(
        f"gate_margins_{args.topic}",
        __doc__.splitlines()[0],
        lambda: measure(args.topic, args.seeds),
        as_markdown,
        rest,
    )
