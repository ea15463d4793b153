"""The child side of tools/grade/hidden/child.py, run as `python -c <this source> REQUESTS_FD REPLIES_FD TOPIC` in
a grading copy: it imports utils.<topic> and answers one call at a time. It imports nothing of the
grader's, so the copy needs no tools/: a driver (a small function of the grader's that calls the student's
code) travels as source text with its call, and runs here as driver(module, *args)."""

import importlib
import io
import os
import struct
import sys

import numpy as np
import torch

HEADER = struct.Struct("<Q")


def read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            sys.exit(0)  # the grader closed the pipe
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(fd):
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    return torch.load(io.BytesIO(read_exact(fd, size)), weights_only=True)


def send(fd, message):
    buffer = io.BytesIO()
    torch.save(message, buffer)
    data = HEADER.pack(len(buffer.getvalue())) + buffer.getvalue()
    while data:
        data = data[os.write(fd, data) :]


def plain(value):
    """value as data that can travel back: tensors, numbers, strings, None and containers of them."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return (
            [plain(item) for item in value]
            if isinstance(value, list)
            else tuple(plain(item) for item in value)
        )
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    raise TypeError(f"returned a {type(value).__name__}, not tensors or numbers")


def describe(error):
    return f"{type(error).__name__}: {error}"[:500]


def function_of(module, request, drivers):
    """The function a request names: the module's own, or a driver defined by the source it carries."""
    source = request.get("driver")
    if source is None:
        return getattr(module, request["function"])
    if source not in drivers:
        drivers[source] = {"__name__": "driver"}
        exec(compile(source, "<driver>", "exec"), drivers[source])
    driver = drivers[source][request["function"]]
    return lambda *args: driver(module, *args)


def main():
    requests, replies, topic = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    # One intra-op thread, as the grader times the reference: a busy machine's threads stall small ops.
    torch.set_num_threads(1)
    try:
        from utils import watch  # the grading copy's: names the student function that hangs

        watch.install()
        module = importlib.import_module(f"utils.{topic}")
    except BaseException as error:
        send(replies, {"error": describe(error)})
        return
    send(replies, {"value": None})
    drivers = {}  # source -> namespace: a driver called again (timed, say) is compiled once
    while True:
        request = receive(requests)
        try:
            with watch.call_limit(request.get("limit")):
                output = function_of(module, request, drivers)(*request["args"])
            reply = {"value": plain(output)}
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: the student's code raised them
            reply = {"error": describe(error)}
        send(replies, reply)


if __name__ == "__main__":
    main()
