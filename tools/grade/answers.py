"""The written answers of a submission, read from its notebooks' JSON (in a folder or a zip), never by
running a cell: each notebook's answers by question id, and what went wrong, for the staff who grade them.

A notebook is found by its name anywhere in the submission (`assignments/<notebook>.ipynb` preferred, then
the shallowest), as tools.grade.submissions finds modules; utils.written reads its answer cells by their
metadata. The autograded points never depend on any of this.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from utils.course import Assignment
from utils.results import WrittenAnswers
from utils.written import MAX_NOTEBOOK_BYTES, UnreadableNotebook, parse_notebook, written_cells


def _pick(candidates: list[str], notebook: str) -> str:
    """The best of several paths of one notebook's name: its own path first, then the shallowest."""
    return min(candidates, key=lambda name: (not name.endswith(notebook), name.count("/"), name))


def _notebook_bytes(submission: Path, notebook: str) -> bytes | None:
    """The submitted notebook's bytes (None: the submission has none); UnreadableNotebook when too large."""
    name = Path(notebook).name
    if submission.is_dir():
        paths = [
            p.relative_to(submission).as_posix()
            for p in submission.rglob(name)
            if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts
        ]
        if not paths:
            return None
        path = submission / _pick(paths, notebook)
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise UnreadableNotebook(f"{notebook} is more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: not read")
        return path.read_bytes()
    with zipfile.ZipFile(submission) as archive:
        infos = {
            info.filename: info
            for info in archive.infolist()
            if Path(info.filename).name == name
            and not info.is_dir()
            and ".ipynb_checkpoints" not in info.filename
        }
        if not infos:
            return None
        info = infos[_pick(list(infos), notebook)]
        if info.file_size > MAX_NOTEBOOK_BYTES:
            raise UnreadableNotebook(f"{notebook} is more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: not read")
        return archive.read(info)


def read_written(submission: Path, assignments: list[Assignment]) -> list[WrittenAnswers]:
    """The written answers of each assignment that has written questions, in the registry's order."""
    found = []
    for assignment in assignments:
        if not assignment.written:
            continue
        result = WrittenAnswers(
            assignment.notebook, assignment.written_points, dict.fromkeys(q.id for q in assignment.written)
        )
        found.append(result)
        try:
            data = _notebook_bytes(submission, assignment.notebook)
            if data is None:
                result.problems.append(
                    f"no {Path(assignment.notebook).name} in the submission: no written answer"
                )
                continue
            cells = written_cells(parse_notebook(data), assignment)
        except UnreadableNotebook as error:
            result.problems.append(f"{assignment.notebook}: {error}")
            continue
        except (OSError, zipfile.BadZipFile, RuntimeError) as error:  # RuntimeError: an encrypted zip entry
            result.problems.append(f"{assignment.notebook} could not be read: {error}")
            continue
        for cell in cells:
            result.answers[cell.question.id] = cell.answer
            if cell.problem:
                result.problems.append(cell.problem)
    return found
