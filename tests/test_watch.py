"""utils/watch.py: a student function seen to hang is named, recorded, and stopped at its short limit on every
later call, in this process and in the hidden checks' child; the reference's longest calls are recorded.
Every hang here is bounded by a limit of a few seconds."""

from __future__ import annotations

import signal
import time
import types

import pytest

from tools.grade.hidden.child import Child, ChildDied, Death
from tools.grade.isolation import resource_limits
from tools.grade.workspace import reference_source, student_copy
from tools.teeth.mutation import mutate
from utils import watch

SPINS = "def spins(n):\n    while True:\n        pass\n\n\ndef calls_spins(n):\n    return spins(n) + 1\n"


def student_module(source: str) -> types.ModuleType:
    module = types.ModuleType("utils.fake_topic")
    exec(compile(source, "<student>", "exec"), module.__dict__)  # noqa: S102
    for value in vars(module).values():
        if isinstance(value, types.FunctionType):
            value.__module__ = module.__name__
    return module


def interrupt_after(seconds: float) -> None:
    """A KeyboardInterrupt in this thread after seconds, as nbval's interrupt of a kernel past its limit."""
    signal.signal(signal.SIGALRM, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def test_the_innermost_function_running_when_interrupted_is_recorded_and_later_stopped_early(tmp_path):
    (tmp_path / watch.LIMITS).write_text('{"spins": 0.2}')
    watched = watch.Watch(tmp_path, record=False)
    module = student_module(SPINS)
    watched.wrap_module(module)
    interrupt_after(0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            module.calls_spins(1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert set(watch.read(tmp_path, watch.HUNG)) == {"spins"}  # not calls_spins, which only called it

    start = time.monotonic()
    with pytest.raises(watch.FunctionHung, match=r"spins did not return within 0\.2 s \(it hung earlier"):
        module.calls_spins(1)
    assert time.monotonic() - start < 2
    again = watch.Watch(tmp_path, record=False)  # another process (the child) reads what was recorded
    assert set(again.hung) == {"spins"} and again.limits == {"spins": 0.2}


def test_a_student_except_exception_does_not_swallow_the_stop(tmp_path):
    (tmp_path / watch.HUNG).write_text('{"swallows": 60}')
    (tmp_path / watch.LIMITS).write_text('{"swallows": 0.1}')
    watched = watch.Watch(tmp_path, record=False)
    source = (
        "def swallows():\n    while True:\n        try:\n            pass\n"
        "        except Exception:\n            continue\n"
    )
    module = student_module(source)
    watched.wrap_module(module)
    with pytest.raises(watch.FunctionHung):
        module.swallows()


def test_recording_keeps_each_functions_longest_call_and_leaves_functions_it_imports(tmp_path):
    watched = watch.Watch(tmp_path, record=True)
    module = student_module(
        "import math\nfrom time import sleep\n\ndef naps(t):\n    sleep(t)\n    return math.pi\n"
    )
    watched.wrap_module(module)
    module.naps(0.05)
    module.naps(0.0)
    times = watch.read(tmp_path, watch.TIMES)
    assert set(times) == {"naps"} and 0.04 < times["naps"] < 1
    assert module.sleep is time.sleep


def test_the_child_names_the_function_that_hangs_and_a_later_child_stops_it_at_its_short_limit(monkeypatch):
    """The hidden checks' child, as the grader starts it: a call past its limit is stopped by the child itself,
    which records the hanging function; the next child stops a call into it within its short limit."""
    source = mutate(
        reference_source("linear_classifier"),
        "predict_linear_classifier",
        "    y_pred = linear_scores(W, X).argmax(dim=1)\n",
        "    while True:\n        pass\n",
    )
    with student_copy({"linear_classifier": source}) as copy:
        folder = copy / ".watch"
        folder.mkdir()
        (folder / watch.LIMITS).write_text('{"predict_linear_classifier": 0.3}')
        env = {"LOSSLAB_WATCH": str(folder), "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
        import torch

        args = (torch.zeros(3, 2, dtype=torch.float64), torch.ones(4, 3, dtype=torch.float64))
        child = Child("linear_classifier", copy, env=env, preexec_fn=resource_limits(4))
        try:
            with pytest.raises(ChildDied) as died:
                child.call("predict_linear_classifier", args, timeout=1.0)
        finally:
            child.close()
        assert died.value.death is Death.TIMEOUT
        assert set(watch.read(folder, watch.HUNG)) == {"predict_linear_classifier"}

        child = Child("linear_classifier", copy, env=env, preexec_fn=resource_limits(4))
        try:
            start = time.monotonic()
            reply = child.call("predict_linear_classifier", args, timeout=30.0)
            seconds = time.monotonic() - start
        finally:
            child.close()
    assert reply.error.startswith("FunctionHung: predict_linear_classifier did not return within 0.3 s")
    assert seconds < 5
