"""The hidden checks against the reference, correct solutions written differently, correct idioms, the stubs, every
mutant, mistakes only they catch, and hostile code in the child that runs the student's functions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.mutants import failing_questions
from tools.grade.hidden.child import Child
from tools.grade.hidden.compare import difference
from tools.grade.hidden.engine import case_inputs, cases, run_hidden_checks
from tools.grade.isolation import resource_limits
from tools.grade.workspace import reference_source, student_copy
from tools.teeth import material
from tools.teeth.mutation import mutate
from utils.course import topics

pytestmark = pytest.mark.slow  # runs notebooks or a class: the full suite and CI run it

TOPICS = topics()
HIDDEN_ONLY = [(t, n) for t in TOPICS for n in material(t).HIDDEN_ONLY_MUTANTS]
IDIOMS = [(t, n) for t in TOPICS for n in getattr(material(t), "CORRECT_IDIOMS", {})]


def hidden_failures(
    topic: str,
    source: str | None,
    questions: set[str] | None = None,
    call_timeout: float | None = None,
    memory_gb: float = 4,
) -> dict[str, list[str]]:
    """{question: failure messages} of the hidden checks for a module source (None: the stub)."""
    questions = questions or {case.question for case in cases(topic)}
    with student_copy({topic: source} if source is not None else {}) as copy:

        def start() -> Child:
            return Child(topic, copy, preexec_fn=resource_limits(memory_gb))

        verdicts = run_hidden_checks(topic, questions, start, call_timeout)
    assert set(verdicts) == questions
    return {q: [f.message for f in verdict.failures] for q, verdict in verdicts.items() if verdict.failures}


@pytest.mark.parametrize("topic", TOPICS)
def test_the_reference_and_a_differently_written_solution_pass_every_hidden_check(topic):
    assert hidden_failures(topic, reference_source(topic)) == {}
    assert hidden_failures(topic, material(topic).ALTERNATIVE) == {}


@pytest.mark.parametrize("topic,name", IDIOMS)
def test_a_correct_idiom_passes_every_hidden_check(topic, name):
    """The idioms a check could refuse by demanding more than the docstring promises (a float32 mean of a
    correct accuracy, ...) keep every point in the grader too (tests/test_teeth.py: in the notebook)."""
    assert hidden_failures(topic, material(topic).CORRECT_IDIOMS[name]) == {}


@pytest.mark.parametrize("topic", TOPICS)
def test_the_stubs_fail_every_hidden_check_as_not_implemented(topic):
    failures = hidden_failures(topic, None)
    assert set(failures) == {case.question for case in cases(topic)}
    assert all("NotImplementedError" in message for messages in failures.values() for message in messages)


@pytest.mark.parametrize("topic", TOPICS)
def test_a_mutant_fails_no_hidden_check_outside_the_questions_it_breaks(topic):
    mutants, caught, threads = material(topic).MUTANTS, set(), torch.get_num_threads()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # a child each, on one thread: the two cores
            found = dict(
                zip(mutants, pool.map(lambda mutant: hidden_failures(topic, mutant.source), mutants.values()))
            )
    finally:  # the grader's one_thread() blocks overlap across the pool's threads
        torch.set_num_threads(threads)
    for name, mutant in mutants.items():
        failures = found[name]
        failed = set(failures)
        unexpected = {q: failures[q] for q in failed - failing_questions(mutant) - set(mutant.may_fail)}
        assert not unexpected, (name, unexpected)
        caught |= {name} if failed else set()
    assert caught, f"the hidden checks of {topic} caught none of its mutants"


@pytest.mark.parametrize("topic,name", HIDDEN_ONLY)
def test_mistakes_the_public_checks_miss_fail_their_hidden_checks(topic, name):
    mutant = material(topic).HIDDEN_ONLY_MUTANTS[name]
    source, question = mutant.source, mutant.question
    failures = hidden_failures(topic, source)
    assert set(failures) == {question}, failures
    print(failures[question][0])


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_a_vectorized_loss_that_calls_the_loop_loses_the_race(loss):
    source = mutate(
        reference_source("linear_classifier"),
        f"{loss}_loss_vectorized",
        "    num_train = X.shape[0]\n    rows",
        f"    return {loss}_loss_naive(W, X, y, reg)\n    num_train = X.shape[0]\n    rows",
    )
    failures = hidden_failures(
        "linear_classifier", source, {"svm_vectorized_speedup", "softmax_vectorized_speedup"}
    )
    assert set(failures) == {f"{loss}_vectorized_speedup"}, failures
    assert "faster than a loop over the samples" in failures[f"{loss}_vectorized_speedup"][0]


# Code that tells the race's timed calls from the others. The race calls the function again, on fresh inputs:
# raising only then, or answering at once when the race's driver is the caller, costs the speed question only.
RACE_DODGERS = {
    "raises when timed": (
        "    softmax_loss_vectorized.calls = getattr(softmax_loss_vectorized, 'calls', 0) + 1\n"
        "    if softmax_loss_vectorized.calls > 1:\n"
        "        raise RuntimeError('timed')\n",
        "raised RuntimeError: timed when timed",
    ),
    "skips the work when timed": (
        "    import sys\n"
        "    if sys._getframe(1).f_code.co_name == 'run_kept':\n"
        "        return torch.zeros((), dtype=W.dtype), torch.zeros_like(W)\n"
        "    return softmax_loss_naive(W, X, y, reg)\n",
        "when timed, on other inputs of these shapes",
    ),
}


@pytest.mark.parametrize("dodge", sorted(RACE_DODGERS))
def test_code_that_dodges_the_race_loses_its_speed_question_and_nothing_else(dodge):
    body, expected = RACE_DODGERS[dodge]
    source = mutate(
        reference_source("linear_classifier"),
        "softmax_loss_vectorized",
        "    num_train = X.shape[0]\n    rows",
        body + "    num_train = X.shape[0]\n    rows",
    )
    failures = hidden_failures(
        "linear_classifier", source, {"svm_vectorized_speedup", "softmax_vectorized_speedup"}
    )
    assert set(failures) == {"softmax_vectorized_speedup"}, failures
    assert expected in failures["softmax_vectorized_speedup"][0]


HOSTILE_BODIES = {
    "hangs": "    while True:\n        pass\n",
    "exits": "    import os; os._exit(0)\n",
    "memory_bomb": "    hog = bytearray(16 * 2**30)\n",
    "returns_a_function": "    return print\n",
    # A pickle that would run a command if the grader unpickled it: torch.load(weights_only=True) refuses it.
    "forges_a_pickled_reply": (
        "    import os, pickle, struct, sys\n"
        "    class Payload:\n"
        "        def __reduce__(self):\n"
        "            return (os.system, ('touch ' + os.environ['PWNED_MARKER'],))\n"
        "    data = pickle.dumps({'value': Payload()})\n"
        "    os.write(int(sys.argv[2]), struct.pack('<Q', len(data)) + data)\n"
        "    os._exit(0)\n"
    ),
}


@pytest.mark.parametrize("behaviour", sorted(HOSTILE_BODIES))
def test_hostile_code_costs_only_its_own_calls(behaviour, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("PWNED_MARKER", str(marker))
    source = mutate(
        reference_source("linear_classifier"),
        "svm_loss_vectorized",
        "    num_train = X.shape[0]\n    rows",
        HOSTILE_BODIES[behaviour] + "    num_train = X.shape[0]\n    rows",
    )
    failures = hidden_failures(
        "linear_classifier",
        source,
        {"svm_loss_vectorized", "softmax_loss_vectorized"},
        call_timeout=3,
        memory_gb=3,
    )
    assert set(failures) == {"svm_loss_vectorized"} and len(failures["svm_loss_vectorized"]) == 3
    message = failures["svm_loss_vectorized"][0]
    expected = {
        "hangs": "did not finish within 3 s",
        "exits": "the process ended",
        "memory_bomb": "MemoryError",
        "returns_a_function": "returned a builtin_function_or_method",
        "forges_a_pickled_reply": "unreadable reply",
    }
    assert expected[behaviour] in message, message
    assert not marker.exists()


def test_outputs_are_compared_by_shape_kind_and_relative_error():
    t = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert difference(t, t, 1e-6) is None
    assert difference(t.float(), t, 1e-6) is None
    assert "relative error 1.0e+00" in difference(t * t, t, 1e-6)  # max |[1, 4] - [1, 2]| / max |[1, 2]|
    assert "shape (1, 2)" in difference(t[None], t, 1e-6)
    assert "inf or nan" in difference(torch.tensor([1.0, float("nan")]), t, 1e-6)
    assert "sequence of 2" in difference(t, (t, t), 1e-6)
    assert "['nc1']" in difference({"nc1": 1.0}, {"nc1": 2.0}, 1e-6)
    assert difference([3, 2], [3, 2], 0) is None and "is 1" in difference([3, 1], [3, 2], 0)
    assert "differs" in difference(torch.tensor([True, False]), torch.tensor([True, True]), 0)


def test_hidden_inputs_are_the_same_on_every_run():

    for topic in TOPICS:
        for index, case in enumerate(cases(topic)):
            first, second = case_inputs(topic, index, case), case_inputs(topic, index, case)
            assert identical(first, second), (topic, case.function)


def identical(a, b) -> bool:
    """a and b are equal, tensors inside containers too."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(identical, a, b))
    return a == b


def test_a_deleted_function_costs_its_questions_only():
    source = reference_source("linear_classifier") + "\ndel svm_loss_vectorized\n"
    failures = hidden_failures(
        "linear_classifier", source, {"svm_loss_vectorized", "softmax_loss_vectorized"}
    )
    assert set(failures) == {"svm_loss_vectorized"}
    assert "AttributeError" in failures["svm_loss_vectorized"][0]


def test_the_same_submission_gets_the_same_verdicts_twice():
    source = material("cam_loss").MUTANTS["normalized_along_one_axis"].source
    assert hidden_failures("cam_loss", source) == hidden_failures("cam_loss", source)
