"""Writes the student repository: what a student needs, and nothing from which a solution can be read.

    python -m tools.build.release OUT_DIR            # OUT_DIR must be empty or absent
    python -m tools.build.release OUT_DIR --force    # empties OUT_DIR first

The release holds the notebooks (outputs cleared; the written questions' empty answer cells kept), utils/
with freshly generated stubs and the public checks (oracle bodies removed, their results replayed from
utils/checks/expected/<topic>.pt), the datasets README, the requirements without the test-only packages,
a student README, pyproject.toml and the tests that need no solutions. It leaves out solutions/, tools/,
benchmarks/, the instructor tests, reports and caches. The leak check (tools.build.leaks) runs on the
result; any leak exits 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

from tools.build import leaks, record, stubs
from utils import course
from utils.course import REPO_ROOT

TEMPLATE = Path(__file__).resolve().parent / "release_template"
COPIED = ["pyproject.toml", ".gitignore", "datasets/README.md"]
PUBLIC_TESTS = ["test_gradcheck.py", "test_notebook_format.py", "test_data.py"]  # they need utils/ only
TEST_ONLY_MARK = (
    "# Test-only"  # in requirements.txt, starts the block of packages only the instructor tests use
)
NOTEBOOK_METADATA = ("kernelspec", "language_info")
CELL_METADATA = ("tags", course.CELL_METADATA)


def clean_notebook(source: Path, dest: Path) -> None:
    """The notebook without outputs, execution counts, or metadata other than kernelspec, cell tags and the
    marks of the written questions' cells (utils.course.CELL_METADATA: utils.submit and the grader find the
    answers by them)."""
    notebook = nbformat.read(source, as_version=4)
    notebook.metadata = {k: v for k, v in notebook.metadata.items() if k in NOTEBOOK_METADATA}
    for cell in notebook.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_METADATA and v}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None)
    nbformat.write(notebook, dest)


def public_requirements(text: str) -> str:
    """requirements.txt without the test-only block (its comment line and the packages up to a blank line)."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(TEST_ONLY_MARK):
            skipping = True
        elif skipping and not line.strip():
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _empty(out: Path, force: bool) -> None:
    """Makes out an empty folder; with force, removes what it holds (never anything outside it)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SystemExit(f"{out} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    children = list(out.iterdir())
    if children and not force:
        raise SystemExit(f"{out} is not empty: pass --force to replace what it holds")
    for child in children:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_release(out: Path, root: Path = REPO_ROOT) -> None:
    """Writes the student repository into the empty folder out."""
    for assignment in course.ASSIGNMENTS:
        (out / assignment.notebook).parent.mkdir(parents=True, exist_ok=True)
        clean_notebook(root / assignment.notebook, out / assignment.notebook)
        expected = out / "utils" / "checks" / "expected" / f"{assignment.topic}.pt"
        record.save_recording(record.record(assignment, root), expected)
    for solution in stubs.solution_files(root):
        _write(out / "utils" / solution.name, stubs.make_stub(solution.read_text(), f"utils/{solution.name}"))
    for path in sorted((root / "utils").glob("*.py")):
        if not (out / "utils" / path.name).exists():
            shutil.copyfile(path, out / "utils" / path.name)
    checks = record.check_modules(root)
    for path in sorted((root / "utils" / "checks").glob("*.py")):
        text = record.replay_source(path.read_text(), path.stem) if path in checks else path.read_text()
        _write(out / "utils" / "checks" / path.name, text)
    for name in COPIED:
        _write(out / name, (root / name).read_text())
    _write(out / "requirements.txt", public_requirements((root / "requirements.txt").read_text()))
    for name in PUBLIC_TESTS:
        _write(out / "tests" / name, (root / "tests" / name).read_text())
    for path in sorted(p for p in TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        _write(out / path.relative_to(TEMPLATE), path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write the student repository into")
    parser.add_argument("--force", action="store_true", help="empty OUT first when it holds something")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out == REPO_ROOT or out in REPO_ROOT.parents or REPO_ROOT in out.parents:
        parser.error(f"{out} overlaps this repository; pick a folder outside it")
    _empty(out, args.force)
    write_release(out)
    found = leaks.find_leaks(out)
    for leak in found:
        print(leak, file=sys.stderr)
    if found:
        print(f"{len(found)} leak(s) in {out}: fix them before publishing", file=sys.stderr)
        return 1
    print(f"wrote the student release to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
