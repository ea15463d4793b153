"""How a submission's processes are kept apart: new network (loopback only), mount and PID namespaces in
which the instructor's folders, every submission and the grades are covered by empty read-only mounts,
an unprivileged user of the student's own that owns its copy, and resource limits. Needs root with
unshare, ip and setpriv; otherwise the batch says it is NOT isolated."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tools.grading.limits import MAX_FILE_BYTES
from utils.course import REPO_ROOT

HIDDEN_PATHS = (
    "solutions",
    "tools",
    "tests",
    "benchmarks",
    ".git",
)  # of the repository, hidden from student code
FIRST_STUDENT_UID = 61000  # student i's processes run as FIRST_STUDENT_UID + i


def _unreachable_ancestor(path: Path) -> tuple[Path, Path] | None:
    """(A, K) for the outermost ancestor A of path that others may not traverse (a 0700 home holding the
    interpreter), K being A's child on the way to path; None when every ancestor is open."""
    parts = path.resolve().parents
    for ancestor, child in zip(reversed(parts[:-1]), reversed((path.resolve(), *parts)[:-2])):
        if not ancestor.stat().st_mode & 0o001:
            return ancestor, child
    return None


def isolation_prefix(hidden: list[Path], uid: int | None, stash: Path | None = None) -> list[str]:
    """The command prefix that runs a command in new network (loopback only), mount and PID namespaces, with
    an empty read-only folder mounted over each hidden path, as the unprivileged user uid (None: as root).

    When the interpreter lives under a folder others cannot enter (e.g. /root), an empty folder is mounted
    over that folder too and only the interpreter's branch is moved back into it, through stash (an empty
    folder of ours): the user can run Python without seeing the rest."""
    steps = ["ip link set lo up"] + [
        f"mount -t tmpfs -o size=64k,mode=555 none {shlex.quote(str(p))}" for p in hidden
    ]
    blocked = _unreachable_ancestor(Path(sys.prefix)) if uid is not None else None
    if blocked and stash:
        ancestor, child = (shlex.quote(str(p)) for p in blocked)
        steps += [
            f"mount --bind {child} {stash}",
            f"mount -t tmpfs -o size=64k,mode=755 none {ancestor}",
            f"mkdir {child}",
            f"mount --move {stash} {child}",
        ]
    run = (
        f'exec setpriv --reuid {uid} --regid {uid} --clear-groups -- "$@"' if uid is not None else 'exec "$@"'
    )
    script = " && ".join(steps + [run])
    return ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", script, "sh"]


def isolation_user(hidden: list[Path], stash: Path) -> tuple[bool, bool]:
    """(namespaces work, an unprivileged user can run the grading there): root with unshare, ip and setpriv."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "ip", "setpriv")):
        return False, False
    probe = [sys.executable, "-c", "import torch, nbformat, nbval"]
    for uid in (FIRST_STUDENT_UID, None):
        command = [*isolation_prefix(hidden, uid, stash), *probe]
        if subprocess.run(command, capture_output=True, cwd="/").returncode == 0:
            return True, uid is not None
    return False, False


def hidden_paths(out: Path, submissions: Path, root: Path = REPO_ROOT) -> list[Path]:
    """What student code must not see: the instructor's folders, every submission and the grades."""
    paths = [root / name for name in HIDDEN_PATHS] + [submissions, out]
    return [p.resolve() for p in paths if p.exists()]


def hand_over(copy: Path, uid: int) -> None:
    """Gives the grading copy to uid, closed to everyone else (other students' processes included)."""
    copy.parent.chmod(0o711)
    for path in [copy, *copy.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, uid, uid)
    copy.chmod(0o700)


def resource_limits(memory_gb: float) -> Callable[[], None]:
    """A preexec_fn that limits a process's memory (RLIMIT_DATA) and file size, and turns core dumps off."""
    memory_bytes = int(memory_gb * 2**30)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply
