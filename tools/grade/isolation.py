"""How a submission's processes are kept apart: bubblewrap (`bwrap`) gives each one a filesystem that holds
only the Python installation (read-only), the datasets (read-only), a private /tmp, a minimal /proc and
/dev, and the submission's own grading copy (read-write). There are no home folders, no repository, no
other clone, submission or grade to read; no network (a loopback of its own); new privileges are off;
and every process dies with its submission (a PID namespace and --die-with-parent).

Student code never runs as root. A grader running as root starts bwrap as root (so it can bind an
interpreter under a folder no one else may enter, such as /root) and bwrap drops to the student's uid
with setpriv before anything of the student's runs; any other grader maps the student to a uid of their
own in bwrap's user namespace. Resource limits (memory, processes, CPU time, file size) are set on the
process that starts bwrap and hold for everything inside.
"""

from __future__ import annotations

import os
import resource
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.grade.limits import MAX_FILE_BYTES, MAX_PROCESSES, SUBMISSION_TIMEOUT
from utils.course import REPO_ROOT

FIRST_STUDENT_UID = 61000  # student i's processes run as FIRST_STUDENT_UID + i
REFERENCE_UID = FIRST_STUDENT_UID - 1  # the reference's timed run
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # binds, or their symlinks
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
)
NAMESPACES = ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try")
DROP_TO_STUDENT = ("--clear-groups", "--inh-caps=-all", "--bounding-set=-all")  # setpriv's, with the uid


def python_installation() -> list[Path]:
    """The folders the interpreter needs, wherever they live: its prefixes and site-packages."""
    folders = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).parent}
    folders.update(Path(p) for p in site.getsitepackages())
    folders.add(Path(site.getusersitepackages()))
    existing = {p.resolve() for p in folders if p.is_dir()}
    outermost = [p for p in existing if not any(p != q and p.is_relative_to(q) for q in existing)]
    return sorted(p for p in outermost if not p.is_relative_to(REPO_ROOT))


@dataclass(frozen=True)
class Sandbox:
    """The bwrap command prefix of each submission, and the limits of its processes."""

    as_root: bool  # the grader is root: bwrap drops to the student's uid itself
    read_only: tuple[Path, ...]  # the Python installation and the datasets

    def prefix(self, copy: Path, uid: int) -> list[str]:
        """Runs a command in the sandbox of the submission whose grading copy is copy, as uid."""
        command = ["bwrap", *NAMESPACES, "--die-with-parent", "--new-session"]
        if not self.as_root:
            command += ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid)]
        binds = []
        for path in map(Path, SYSTEM_PATHS):
            if path.is_symlink():
                command += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                command += ["--ro-bind", str(path), str(path)]
                binds.append(path)
        for name in ETC_FILES:
            command += ["--ro-bind-try", name, name]
        command += ["--proc", "/proc", "--dev", "/dev"]
        command += ["--size", str(MAX_FILE_BYTES), "--perms", "1777", "--tmpfs", "/tmp"]
        made = {Path("/"), Path("/tmp"), Path("/etc"), *binds}
        for path, option in [*((p, "--ro-bind") for p in self.read_only), (copy, "--bind")]:
            if any(path.is_relative_to(b) for b in binds):
                continue  # inside /usr, bound already
            for folder in reversed(path.parents):  # from the top; bwrap would make them 0700
                if folder not in made:
                    command += ["--perms", "0755", "--dir", str(folder)]
                    made.add(folder)
            command += [option, str(path), str(path)]
            binds.append(path)
        command += ["--chdir", str(copy)]
        if self.as_root:
            command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            return command + ["setpriv", "--reuid", str(uid), "--regid", str(uid), *DROP_TO_STUDENT]
        return command + ["--"]


def find_sandbox(datasets: Path = REPO_ROOT / "datasets") -> tuple[Sandbox | None, str]:
    """The sandbox this machine can give submissions, probed by importing the grading's packages in one,
    and the batch's line that says how submissions are isolated (or why they are NOT)."""
    if not shutil.which("bwrap"):
        return None, "NOT isolated (bubblewrap is not installed: apt-get install bubblewrap)"
    as_root = os.geteuid() == 0
    if as_root and not shutil.which("setpriv"):
        return (
            None,
            "NOT isolated (the grader runs as root and setpriv is missing to drop to a student's uid)",
        )
    read_only = python_installation() + ([datasets.resolve()] if datasets.is_dir() else [])
    sandbox = Sandbox(as_root, tuple(read_only))
    probe = [sys.executable, "-c", "import os, torch, nbformat, nbval; assert os.getuid() != 0"]
    with tempfile.TemporaryDirectory(prefix="losslab-probe-") as folder:
        Path(folder).chmod(0o755)
        command = sandbox.prefix(Path(folder), FIRST_STUDENT_UID) + probe
        proc = subprocess.run(command, capture_output=True, text=True, cwd="/")
    if proc.returncode:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return None, f"NOT isolated (bubblewrap cannot start here: {why})"
    who = "setpriv drops root to it" if as_root else "in a user namespace"
    return sandbox, (
        "isolated with bubblewrap: each submission sees only the Python installation, the datasets and its "
        f"own copy; no network; one unprivileged uid per student ({who}); no process outlives its submission"
    )


def hand_over(copy: Path, uid: int) -> None:
    """Gives the grading copy to uid, closed to everyone else (other students' processes included)."""
    copy.parent.chmod(0o711)
    for path in [copy, *copy.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, uid, uid)
    copy.chmod(0o700)


def resource_limits(memory_gb: float, cpu_seconds: float = SUBMISSION_TIMEOUT.default) -> Callable[[], None]:
    """A preexec_fn that limits a process and its children: memory (RLIMIT_DATA), processes of its user,
    CPU seconds and file size each; core dumps off."""
    memory_bytes = int(memory_gb * 2**30)
    processes = MAX_PROCESSES + (0 if os.geteuid() == 0 else _processes_of(os.getuid()))
    cpu = int(cpu_seconds)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _processes_of(uid: int) -> int:
    """How many processes (threads included, as RLIMIT_NPROC counts) uid runs now: a grader that is not
    root shares its uid with the students', so their cap comes on top."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1"))
    return count
