"""Hostile submissions of linear_classifier for the graded class of tests/test_grade.py: each one is the
reference (or the stub) with an attack, every attack bounded so that a broken limit cannot take the machine
down (at most FORKS processes, WRITE_LIMIT bytes, SEARCH_LIMIT directory entries)."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth.mutation import mutate
from utils.course import REPO_ROOT

REFERENCE = reference_source("linear_classifier")
STUB = (REPO_ROOT / "utils" / "linear_classifier.py").read_text()
FIRST_LINE = "    num_train, num_classes = X.shape[0], W.shape[1]\n"
FORKS = 2000
WRITE_LIMIT = 4 * 2**30
SEARCH_LIMIT = 300_000
SURVIVOR = "losslab-survivor"  # in the command line of a process meant to outlive its submission

# Looks for any copy of the reference anywhere on disk, likeliest places first.
FIND = f"""
import os as _os
def _find_solutions():
    seen = 0
    for _top in ("/tmp", "/home", _os.path.expanduser("~"), "/root", "/work", "/"):
        for _folder, _dirs, _files in _os.walk(_top):
            _dirs[:] = [d for d in _dirs if _folder != "/" or d not in ("proc", "sys", "dev")]
            seen += len(_dirs) + len(_files)
            if seen > {SEARCH_LIMIT}:
                return None
            if _os.path.basename(_folder) == "solutions" and "linear_classifier.py" in _files:
                try:
                    return open(_os.path.join(_folder, "linear_classifier.py")).read()
                except OSError:
                    pass
    return None
"""
SEARCH = FIND + "_found = _find_solutions()\nif _found:\n    exec(_found)\n"  # runs the first copy it reads


def hostile(body: str) -> str:
    """The reference with body run at the start of svm_loss_naive (the first question, which the speedup
    question and several other cells call too)."""
    return mutate(REFERENCE, "svm_loss_naive", FIRST_LINE, body)


def searches_the_disk() -> str:
    """The stub that takes the reference from any copy of solutions/ it can find."""
    return STUB + SEARCH


def unmounts_then_searches() -> str:
    """The stub that tries to unmount what covers the disk, directly and from a user namespace of its own
    after `mount --make-private`, then searches it."""
    return (
        STUB
        + """
import subprocess as _subprocess
for _command in (
    ["umount", "-l", "/tmp"],
    ["umount", "-a"],
    ["unshare", "-rm", "sh", "-c", "mount --make-rprivate / && umount -l /tmp && umount -l /usr"],
):
    try:
        _subprocess.run(_command, capture_output=True, timeout=10)
    except (OSError, _subprocess.SubprocessError):
        pass
"""
        + SEARCH
    )


FORKS_UNTIL_THE_LIMIT = hostile(
    f"""    import subprocess
    children = []
    try:
        for _ in range({FORKS}):
            children.append(subprocess.Popen(["sleep", "5"]))
    except OSError as error:
        raise RuntimeError(f"fork failed after {{len(children)}} children: {{error}}") from None
    raise RuntimeError(f"forked all {FORKS} children")
"""
)

LEAVES_CHILDREN = hostile(
    f"""    import subprocess, sys
    subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(900)", "{SURVIVOR}"],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    raise RuntimeError("left a detached child running")
"""
)

WRITES_UNTIL_IT_FAILS = hostile(
    f"""    written, chunk = 0, b"x" * 2**26
    try:
        with open("filler.bin", "wb") as filler:
            while written < {WRITE_LIMIT}:
                filler.write(chunk)
                filler.flush()
                written += len(chunk)
    except OSError as error:
        raise RuntimeError(f"writing failed after {{written >> 20}} MiB: {{error}}") from None
    finally:
        import os
        os.remove("filler.bin")
    raise RuntimeError("wrote {WRITE_LIMIT >> 30} GiB")
"""
)


def connects_to(port: int) -> str:
    """The reference that tells a server on the host's loopback that it got out."""
    return hostile(
        f"""    import socket
    with socket.create_connection(("127.0.0.1", {port}), timeout=2) as connection:
        connection.sendall(b"escaped")
"""
    )


BECOMES_ROOT = hostile("    import os; os.setuid(0)\n")


def patches_every_check() -> str:
    """The stub with every function of its assignment's public checks and of the grading helpers replaced
    by one that passes."""
    return (
        STUB
        + """
import inspect as _inspect
import utils.checks.linear_classifier as _checks
import utils.grading as _grading
for _module in (_checks, _grading):
    for _name, _function in list(vars(_module).items()):
        if _inspect.isfunction(_function):
            setattr(_module, _name, lambda *args, **kwargs: None)
"""
    )
