"""The written questions' cells in a notebook: their text and the student's answers, read from the JSON.

A written question has two markdown cells, found by their metadata (utils.course.CELL_METADATA), never by
searching the text: `{"losslab": {"question": "<id>"}}` holds the question, `{"losslab": {"answer": "<id>"}}`
the answer, which starts with the prompt `*Your answer:*`. Nothing here runs a cell: a notebook is read as
JSON, so utils.submit and the grader (tools.grade.answers) read a student's notebook the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from utils.course import CELL_METADATA, Assignment, WrittenQuestion

ANSWER_PROMPT = "*Your answer:*"  # what an empty answer cell holds; the answer is what follows it
MAX_ANSWER_CHARS = 100_000  # longer answers are cut to this (a page shows far less; the grader keeps this)
MAX_NOTEBOOK_BYTES = 50_000_000  # a larger notebook is not read


class UnreadableNotebook(ValueError):
    """A notebook that is not JSON, or not a notebook; its message says why, for the student's result."""


@dataclass
class WrittenCell:
    """What a notebook holds for one written question."""

    question: WrittenQuestion
    number: int  # "Inline question <number>", counted from 1 in the registry's order
    prompt: str | None  # the question's text from its cell; None: no such cell
    answer: str | None  # the answer without the prompt, stripped; "" when empty; None: no answer cell
    problem: str = ""  # a deleted, duplicated or cut answer cell, said for the student and the staff

    @property
    def heading(self) -> str:
        return f"Inline question {self.number}"


def parse_notebook(data: bytes | str) -> dict:
    """The notebook's JSON as a dict; UnreadableNotebook when it is not JSON or has no list of cells."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise UnreadableNotebook(
            f"the notebook is {len(data) / 1e6:.0f} MB, more than {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: not read"
        )
    try:
        notebook = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise UnreadableNotebook(
            f"the notebook is not valid JSON ({error}): was it saved completely?"
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UnreadableNotebook("the file is JSON but not a notebook (it has no list of cells)")
    return notebook


def cell_text(cell: dict) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def marked(cell, role: str) -> str | None:
    """The question id a cell's metadata marks it with for role ("question" or "answer"), or None."""
    if not isinstance(cell, dict) or not isinstance(cell.get("metadata"), dict):
        return None
    mark = cell["metadata"].get(CELL_METADATA)
    value = mark.get(role) if isinstance(mark, dict) else None
    return value if isinstance(value, str) else None


def answer_of(text: str) -> str:
    """The answer an answer cell's text holds: what follows the prompt, stripped ("" when only the prompt)."""
    text = text.strip()
    if text.startswith(ANSWER_PROMPT):
        text = text[len(ANSWER_PROMPT) :]
    return text.strip()


def written_cells(notebook: dict, assignment: Assignment) -> list[WrittenCell]:
    """Each written question of the assignment, in the registry's order, with what the notebook holds for it."""
    cells = notebook.get("cells", [])
    found = []
    for number, question in enumerate(assignment.written, start=1):
        prompts = [cell_text(c) for c in cells if marked(c, "question") == question.id]
        answers = [answer_of(cell_text(c)) for c in cells if marked(c, "answer") == question.id]
        prompt = prompts[0].strip() if prompts else None
        item = WrittenCell(question, number, prompt, None)
        if not answers:
            item.problem = (
                f"the answer cell of {question.id} (Inline question {number}) is missing: was it deleted? "
                "Copy it back from a fresh copy of the notebook, with its metadata"
            )
        else:
            item.answer = "\n\n".join(a for a in answers if a)
            if len(answers) > 1:
                item.problem = (
                    f"the answer cell of {question.id} appears {len(answers)} times (a copied cell?): "
                    "their texts are read one after the other"
                )
            if len(item.answer) > MAX_ANSWER_CHARS:
                cut = len(item.answer) - MAX_ANSWER_CHARS
                item.answer = item.answer[:MAX_ANSWER_CHARS]
                item.problem = _join(
                    item.problem,
                    f"the answer of {question.id} is {cut + MAX_ANSWER_CHARS:,} characters long: only the "
                    f"first {MAX_ANSWER_CHARS:,} are kept",
                )
        found.append(item)
    return found


def _join(*problems: str) -> str:
    return "; ".join(p for p in problems if p)
