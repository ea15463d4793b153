"""Watches the student's functions while the batch grader runs them, so that a function seen to hang costs
its submission seconds once, not a whole limit at every later call.

The grader (tools/grade/run.py) turns it on with LOSSLAB_WATCH, a folder of the grading copy, in the
notebook's kernel (an IPython startup file) and in the hidden checks' child; a student's own run never
does. install() then wraps every function the student modules (utils.<topic>) define, as they are imported:
- a call stopped while it runs (the cell's limit, where nbval interrupts the kernel; the call's limit in
  the child) records the innermost student function running then, and for how long, in hung.json;
- a later call into a function hung.json names gets that function's short limit from limits.json (the
  reference's longest call times the grader's factor) and raises FunctionHung past it;
- with LOSSLAB_WATCH_RECORD set, each function's longest call goes to times.json: the reference's run
  gives the functions their short limits.
A wrapper adds about a microsecond to a call: nothing a check times can see.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WATCH, RECORD = "LOSSLAB_WATCH", "LOSSLAB_WATCH_RECORD"
HUNG, LIMITS, TIMES = "hung.json", "limits.json", "times.json"
UNKNOWN_LIMIT_S = 1.0  # a hung function the reference never called: its short limit


class FunctionHung(BaseException):
    """A function seen to hang ran past its short limit. A BaseException, so that a student's `except
    Exception` does not swallow it; the autograder reports it as a timeout."""


class CallStopped(BaseException):
    """The hidden check's call ran past its limit (the child's own alarm, ahead of the grader's)."""


def read(folder: Path, name: str) -> dict[str, float]:
    """One of the watch's JSON files ({function: seconds}); empty when absent or unreadable."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((folder / name).read_text())
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {}


def _write(folder: Path, name: str, data: dict[str, float]) -> None:
    temporary = folder / f".{name}.{os.getpid()}"
    temporary.write_text(json.dumps(data))
    temporary.replace(folder / name)


class _Alarm:
    """The process's one real-time alarm, shared by nested deadlines: the nearest one fires first."""

    def __init__(self) -> None:
        self.deadlines: list[tuple[float, type[BaseException], str]] = []

    @contextlib.contextmanager
    def deadline(self, seconds: float, error: type[BaseException], message: str) -> Iterator[None]:
        """Raises error(message) in this (the main) thread once seconds have passed inside the block."""
        entry = (time.monotonic() + seconds, error, message)
        self.deadlines.append(entry)
        previous = signal.signal(signal.SIGALRM, self._fire) if len(self.deadlines) == 1 else None
        self._arm()
        try:
            yield
        finally:
            self.deadlines.remove(entry)
            self._arm()
            if not self.deadlines:
                signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)

    def _arm(self) -> None:
        if not self.deadlines:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        nearest = min(when for when, _, _ in self.deadlines)
        signal.setitimer(signal.ITIMER_REAL, max(nearest - time.monotonic(), 1e-4))

    def _fire(self, signum, frame) -> None:
        now = time.monotonic()
        due = [(error, message) for when, error, message in self.deadlines if when <= now + 1e-3]
        if due:
            error, message = due[-1]
            raise error(message)
        self._arm()


class Watch:
    """The state of one process: where it records, which functions hung, what is running."""

    def __init__(self, folder: Path, record: bool) -> None:
        self.folder, self.record = folder, record
        self.hung, self.limits = read(folder, HUNG), read(folder, LIMITS)
        self.times: dict[str, float] = read(folder, TIMES) if record else {}
        self.running: list[str] = []
        self.alarm = _Alarm()

    def wrap(self, name: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def watched(*args, **kwargs):
            self.running.append(name)
            start = time.monotonic()
            try:
                if name not in self.hung:
                    return function(*args, **kwargs)
                limit = self.limits.get(name, UNKNOWN_LIMIT_S)
                message = (
                    f"{name} did not return within {limit:.3g} s (it hung earlier: it did not return "
                    f"within {self.hung[name]:.0f} s)"
                )
                with self.alarm.deadline(limit, FunctionHung, message):
                    return function(*args, **kwargs)
            except (KeyboardInterrupt, CallStopped) as stop:
                if not getattr(stop, "recorded", False):  # the innermost student function: the one that hung
                    stop.recorded = True
                    self.hung[name] = max(self.hung.get(name, 0.0), time.monotonic() - start)
                    _write(self.folder, HUNG, self.hung)
                raise
            finally:
                self.running.pop()
                seconds = time.monotonic() - start
                if self.record and seconds > self.times.get(name, 0.0):
                    self.times[name] = seconds
                    _write(self.folder, TIMES, self.times)

        return watched

    def wrap_module(self, module) -> None:
        """Wraps each function the module itself defines (not those it imports)."""
        for name, value in list(vars(module).items()):
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                setattr(module, name, self.wrap(name, value))


class _Finder(importlib.abc.MetaPathFinder):
    """Finds utils.<topic> as usual, and wraps its functions once the module has run (a reload too)."""

    def __init__(self, watch: Watch, names: set[str]) -> None:
        self.watch, self.names = watch, names

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            self.watch.wrap_module(module)

        spec.loader.exec_module = exec_module
        return spec


_watch: Watch | None = None


def install() -> Watch | None:
    """Turns the watch on in this process when LOSSLAB_WATCH names a folder (once); returns it, or None."""
    global _watch
    folder = os.environ.get(WATCH)
    if _watch is not None or not folder:
        return _watch
    from utils import course

    _watch = Watch(Path(folder), bool(os.environ.get(RECORD)))
    names = {f"utils.{topic}" for topic in course.topics()}
    for name in names & set(sys.modules):  # imported already: wrapped now
        _watch.wrap_module(sys.modules[name])
    sys.meta_path.insert(0, _Finder(_watch, names))
    return _watch


@contextlib.contextmanager
def call_limit(seconds: float | None) -> Iterator[None]:
    """Stops the call inside the block after seconds with CallStopped, recording the student function that
    was running then (the hidden checks' child, a little before the grader's own limit). None: no limit."""
    if _watch is None or seconds is None:
        yield
        return
    with _watch.alarm.deadline(seconds, CallStopped, f"did not finish within {seconds:.3g} s"):
        yield
