"""A class's submissions: one folder or .zip per student, and the module sources each holds."""

from __future__ import annotations

import zipfile
from pathlib import Path

MAX_MODULE_BYTES = 1_000_000  # a student module larger than this is not read


def find_submissions(folder: Path) -> dict[str, Path]:
    """{student: path} for every folder and .zip in folder (hidden entries skipped)."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix == ".zip":
            found[entry.stem if entry.suffix == ".zip" else entry.name] = entry
    return found


def _pick(candidates: list[str]) -> str:
    """The best of several paths of one module name: utils/<topic>.py first, then the shallowest."""
    return min(
        candidates, key=lambda name: (not name.endswith(f"utils/{Path(name).name}"), name.count("/"), name)
    )


def read_modules(submission: Path, names: list[str]) -> dict[str, str]:
    """{topic: source} of the modules a submission holds, read without extracting anything to disk."""
    wanted = {f"{name}.py": name for name in names}
    by_name: dict[str, list[str]] = {}
    if submission.is_dir():
        for p in submission.rglob("*.py"):
            if p.name in wanted and p.is_file() and not p.is_symlink():
                by_name.setdefault(p.name, []).append(p.relative_to(submission).as_posix())
        return {
            wanted[name]: (submission / _pick(paths))
            .read_bytes()[:MAX_MODULE_BYTES]
            .decode("utf-8", "replace")
            for name, paths in by_name.items()
        }
    with zipfile.ZipFile(submission) as archive:
        for info in archive.infolist():
            if (
                Path(info.filename).name in wanted
                and not info.is_dir()
                and info.file_size <= MAX_MODULE_BYTES
            ):
                by_name.setdefault(Path(info.filename).name, []).append(info.filename)
        return {
            wanted[name]: archive.read(_pick(paths)).decode("utf-8", "replace")
            for name, paths in by_name.items()
        }
