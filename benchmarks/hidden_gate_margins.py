"""The grader's training gates' margins: what correct solutions and the mutants that break training reach on
each hidden case judged by a training result, over seeds of the case's inputs, against its threshold.

    python -m benchmarks.hidden_gate_margins --write     # 10 seeds (--seeds N)

The hidden checks draw each case's inputs from a generator seeded by the case's name, so a submission
always gets the same grade; here seeds 0 to N-1 draw other training rows, starting states and seeds, to
show how much luck a threshold leaves to chance. Each run calls the case's driver in this process, on one
intra-op thread as the grader's child does, with the submission's module (the reference, the differently
written solution, and the mutants whose training the gate is there to catch), and measures what the case's
property judges: held-out accuracy (the linear classifier's training and searches, the CAM-loss network),
or the held-out NT-Xent loss after training over before (SimCLR). Room and counts as in gate_margins.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass

import torch

import benchmarks.common as common
from benchmarks.gate_margins import table
from tools.build.self_contained import module_from_source
from tools.grade.hidden import cam_loss, linear_classifier, simclr
from tools.grade.hidden.engine import cases
from tools.grade.workspace import reference_source
from tools.teeth import material


@dataclass(frozen=True)
class HiddenGate:
    topic: str
    question: str
    name: str
    value: Callable[[tuple, object], float]  # (the case's inputs, the driver's output) -> what is judged
    threshold: float
    # The mutants (tools/grade/hidden/<topic>.py) whose training the gate is there to catch. Others that fail the
    # question in the notebook may pass here by design: predict_with_argmin's search trains the same weights
    # and only picks among them with argmin, which costs predict_linear_classifier's hidden case instead.
    failing: tuple[str, ...]
    higher_passes: bool = True


GATES = [
    HiddenGate("linear_classifier", "train_linear_classifier", "held-out accuracy after training",
               lambda args, output: linear_classifier.held_out_accuracy(output[0]), linear_classifier.MIN_ACCURACY,
               ("sgd_steps_up_the_gradient",)),
    HiddenGate("linear_classifier", "svm_search", "held-out accuracy of the SVM search's best",
               lambda args, W: linear_classifier.held_out_accuracy(W), linear_classifier.MIN_ACCURACY,
               ("sgd_steps_up_the_gradient",)),
    HiddenGate("linear_classifier", "softmax_search", "held-out accuracy of the softmax search's best",
               lambda args, W: linear_classifier.held_out_accuracy(W), linear_classifier.MIN_ACCURACY,
               ("sgd_steps_up_the_gradient",)),
    HiddenGate("simclr", "simclr_training", "held-out NT-Xent after training over before",
               lambda args, state: simclr.held_out_loss_ratio(args[0], state), simclr.MAX_LOSS_RATIO,
               ("train_step_never_steps",), higher_passes=False),
    HiddenGate("cam_loss", "cam_training", "held-out accuracy after training",
               lambda args, state: cam_loss.held_out_accuracy(state), cam_loss.MIN_ACCURACY,
               ("train_step_without_backward",)),
]  # fmt: skip


def submissions(gates: list[HiddenGate]) -> dict[str, tuple[str, bool]]:
    """{label: (source, correct)}: the correct solutions and the mutants the gates are there to catch (a
    mutant that must fail one gate of the topic runs on them all)."""
    topic, hidden = gates[0].topic, material(gates[0].topic)
    found = {"reference": (reference_source(topic), True), "written differently": (hidden.ALTERNATIVE, True)}
    failing = dict.fromkeys(name for gate in gates for name in gate.failing)
    return found | {f"mutant {name}": (hidden.MUTANTS[name].source, False) for name in failing}


def gate_value(gate: HiddenGate, source: str, seed: int) -> float | None:
    """The judged value of one run of the gate's case on inputs drawn with seed (None: the run raised)."""
    case = next(c for c in cases(gate.topic) if c.question == gate.question and c.driver is not None)
    args = case.inputs(torch.Generator().manual_seed(seed))
    try:
        return float(gate.value(args, case.driver(module_from_source(gate.topic, source), *args)))
    except Exception:  # a mutant's run may break on the way: it reached nothing
        return None


def measure(seeds: int) -> dict:
    torch.set_num_threads(1)  # as the grader's child
    tables = []
    for topic in dict.fromkeys(gate.topic for gate in GATES):
        gates = [gate for gate in GATES if gate.topic == topic]
        runs = [
            {"submission": label, "correct": correct, "seed": seed,
             "values": {gate.name: gate_value(gate, source, seed) for gate in gates}}
            for label, (source, correct) in submissions(gates).items()
            for seed in range(seeds)
        ]  # fmt: skip
        fields = [{"question": gate.question, "name": gate.name, "threshold": gate.threshold,
                   "higher_passes": gate.higher_passes} for gate in gates]  # fmt: skip
        tables.append({"topic": topic, "gates": fields, "runs": runs})
        print(json.dumps(tables[-1]), flush=True)
    return {"seeds": seeds, "tables": tables}


def as_markdown(r: dict) -> str:
    lines = [f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); inputs drawn with seeds 0 to "
             f"{r['seeds'] - 1}, one thread."]  # fmt: skip
    for found in r["tables"]:
        lines += ["", f"`tools/grade/hidden/{found['topic']}.py`: {table(found)}"]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 to N-1 of each case's inputs")
    args, rest = parser.parse_known_args()
    common.run("hidden_gate_margins", __doc__.splitlines()[0], lambda: measure(args.seeds), as_markdown, rest)
