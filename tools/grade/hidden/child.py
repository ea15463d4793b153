"""A child process that runs a student's module and only returns outputs: the grader's side of it.

The child imports `utils.<topic>` from a grading copy (which holds no solutions), then answers calls
`{"function": name, "args": [...]}` (or `{"function": name, "driver": source, "args": [...]}`: the function
`name` defined by `source`, called with the module first) one at a time with `{"value": output}` or
`{"error": "Type: message"}`.
Inputs and outputs travel as length-prefixed `torch.save` messages over two pipes of their own (the
student's prints go nowhere), and the grader reads replies with `torch.load(weights_only=True)`, so a
reply can hold tensors, numbers, strings and containers of them but never run code in the grader.

The comparison with the reference happens in the grader. A call that does not answer within its limit
(an infinite loop) or whose process ends (`os._exit`, a crash, memory exhausted) costs that call only:
the child is killed and the next call starts a fresh one.
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import select
import signal
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CHILD_SOURCE = (Path(__file__).with_name("child_main.py")).read_text()
HEADER = struct.Struct("<Q")
MAX_REPLY_BYTES = 256 * 2**20
STOPPED = "CallStopped"  # the child's reply when it stopped a call at its limit (utils.watch)
STOP_GRACE_S = 2.0  # how long past a call's limit the grader waits for the child to stop it and say so


@dataclass
class Reply:
    value: Any = None
    error: str | None = None  # the exception the student's code raised, or why no reply came


class Death(enum.Enum):
    TIMEOUT = "no answer within the call's limit"
    ENDED = "the process ended"
    REFUSED = "an answer the grader refuses (too large, not plain data), or a module that does not import"


class ChildDied(Exception):
    """The child's process ended or stopped answering: it is gone and a fresh one is needed."""

    def __init__(self, death: Death, detail: str = ""):
        super().__init__(detail or death.value)
        self.death, self.detail = death, detail or death.value


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
            raise ChildDied(Death.TIMEOUT)
        try:
            view = view[os.write(fd, view) :]
        except (BrokenPipeError, OSError):
            raise ChildDied(Death.ENDED) from None


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    while left:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise ChildDied(Death.TIMEOUT)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChildDied(Death.ENDED)
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Child:
    """One child process answering calls into utils.<topic> from the folder cwd."""

    def __init__(
        self,
        topic: str,
        cwd: Path,
        prefix: Sequence[str] = (),
        env: dict | None = None,
        preexec_fn: Callable[[], None] | None = None,
        start_timeout: float = 120,
    ):
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        os.set_blocking(self._requests, False)
        command = [*prefix, sys.executable, "-c", CHILD_SOURCE, str(request_read), str(reply_write), topic]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
        os.close(request_read)
        os.close(reply_write)
        self.import_error = self._receive(time.monotonic() + start_timeout).error  # the module's import

    def _receive(self, deadline: float) -> Reply:
        (size,) = HEADER.unpack(_read_exact(self._replies, HEADER.size, deadline))
        if size > MAX_REPLY_BYTES:
            raise ChildDied(Death.REFUSED, f"a reply of {size} bytes")
        try:
            with (
                warnings.catch_warnings()
            ):  # a forged reply's pickle protocol draws a warning before it is refused
                warnings.simplefilter("ignore")
                message = torch.load(
                    io.BytesIO(_read_exact(self._replies, size, deadline)), weights_only=True
                )
        except ChildDied:
            raise
        except Exception as error:  # anything but plain data is refused, never unpickled
            raise ChildDied(Death.REFUSED, f"an unreadable reply ({type(error).__name__})") from None
        if not isinstance(message, dict):
            raise ChildDied(Death.REFUSED, "an unreadable reply")
        return Reply(message.get("value"), message.get("error"))

    def call(self, function: str, args: Sequence[Any], timeout: float, driver: str | None = None) -> Reply:
        """function(*args) in the child, or with driver (a source text defining function) function(module,
        *args); raises ChildDied when it did not answer within timeout seconds."""
        # The child stops the call itself at timeout, so that the student function that hung is recorded
        # (utils/watch.py); the grader waits a little longer before it gives the child up.
        request = {"function": function, "args": list(args), "limit": timeout}
        if driver is not None:
            request["driver"] = driver
        buffer = io.BytesIO()
        torch.save(request, buffer)
        data = buffer.getvalue()
        deadline = time.monotonic() + timeout + STOP_GRACE_S
        _write_all(self._requests, HEADER.pack(len(data)) + data, deadline)
        reply = self._receive(deadline)
        if reply.error is not None and reply.error.startswith(f"{STOPPED}:"):
            raise ChildDied(Death.TIMEOUT, reply.error)
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the group may be gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
