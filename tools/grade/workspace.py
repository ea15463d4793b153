"""Temporary copies of the repository in which the notebooks run against chosen student modules.

A copy is laid out exactly as a student's finished work would sit: the same notebooks and
utils/, with utils/<topic>.py replaced by the reference solution (or by any given source).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat

from utils import course
from utils.course import REPO_ROOT

# What a student's run needs, and all a student copy holds.
STUDENT_FILES = ("assignments", "utils", "pyproject.toml")
_SKIPPED = shutil.ignore_patterns(
    ".git", "datasets", "reports", "grades", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", "*.pyc"
)


def copy_repository(dest: Path, root: Path = REPO_ROOT) -> Path:
    """Copies the repository into dest (which must not exist); datasets/ is linked, not copied."""
    shutil.copytree(root, dest, ignore=_SKIPPED)
    if (root / "datasets").is_dir():
        (dest / "datasets").symlink_to((root / "datasets").resolve(), target_is_directory=True)
    return dest


def install_modules(workspace: Path, modules: Mapping[str, str]) -> None:
    """Writes utils/<topic>.py in the workspace for each {topic: source}."""
    for topic, source in modules.items():
        (workspace / "utils" / f"{topic}.py").write_text(source)


def reference_source(topic: str, root: Path = REPO_ROOT) -> str:
    """The reference module of topic: solutions/<topic>.py."""
    solutions = root / "solutions"
    if not solutions.is_dir():
        raise FileNotFoundError(f"no reference solutions at {solutions}: this copy is a student release")
    return (solutions / f"{topic}.py").read_text()


def reference_modules(root: Path = REPO_ROOT) -> dict[str, str]:
    """{topic: source} of the reference module of every assignment of the course."""
    return {topic: reference_source(topic, root) for topic in course.topics()}


@contextlib.contextmanager
def workspace(modules: Mapping[str, str] | None = None, root: Path = REPO_ROOT) -> Iterator[Path]:
    """A temporary copy of the repository with the given student modules (default: the references)."""
    modules = reference_modules(root) if modules is None else modules
    with tempfile.TemporaryDirectory(prefix="losslab-") as tmp:
        path = copy_repository(Path(tmp) / "repo", root)
        install_modules(path, modules)
        yield path


@contextlib.contextmanager
def student_copy(modules: Mapping[str, str], root: Path = REPO_ROOT) -> Iterator[Path]:
    """A temporary folder holding only STUDENT_FILES of the repository, datasets/ linked, and the given
    student modules: what a submission is graded in (no solutions/, tools/ or tests/)."""
    with tempfile.TemporaryDirectory(prefix="losslab-grade-") as tmp:
        path = Path(tmp) / "repo"
        path.mkdir()
        for name in STUDENT_FILES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.is_file():
                shutil.copy2(source, path / name)
        if (root / "datasets").is_dir():
            (path / "datasets").symlink_to((root / "datasets").resolve(), target_is_directory=True)
        install_modules(path, modules)
        yield path


def override_parameters(notebook_path: Path, **values) -> None:
    """Rewrites `NAME = ...` lines of the notebook's `parameters` cell (papermill's convention) in place."""
    notebook = nbformat.read(notebook_path, as_version=4)
    cell = next((c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise ValueError(f"{notebook_path} has no cell tagged 'parameters'")
    for name, value in values.items():
        pattern = re.compile(rf"^{name} = .*?(?=\s*(#.*)?$)", re.MULTILINE)
        if not pattern.search(cell.source):
            raise ValueError(f"the parameters cell of {notebook_path.name} does not set {name}")
        cell.source = pattern.sub(lambda _: f"{name} = {value!r}", cell.source, count=1)
    nbformat.write(notebook, notebook_path)
