"""What the grading page reads and does, apart from HTTP: the overview, one question's state, and the
clicks, each checked before it reaches the store. An unknown question, student or item is a NotFound, a
malformed value a BadRequest; either changes nothing. Students are known by their anonymous numbers; a
name is in a response only while names are revealed.

Everything a request needs was read when the page started (the sheets, the answers) or is in the store:
no request reads a file.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from tools.written.answers import Class
from tools.written.grades import score
from tools.written.questions import Sheet
from tools.written.store import Mark, NotFound, Store

MAX_COMMENT = 5000  # characters
MAX_DESCRIPTION = 500
MAX_POINTS = 1000.0


class BadRequest(ValueError):
    """A click whose values do not make sense; nothing changed."""


@dataclass
class App:
    store: Store
    sheets: dict[str, Sheet]  # {key: sheet}, the questions some student answered
    klass: Class
    numbers: dict[str, int] = field(default_factory=dict)  # {student: anonymous number}
    click_seconds: deque = field(default_factory=lambda: deque(maxlen=100_000))  # the server's time per click

    @classmethod
    def start(cls, store: Store, sheets: list[Sheet], klass: Class) -> App:
        """Numbers the students and gives each question its rubric, in the store, then serves them."""
        rubrics = {(s.assignment.topic, s.question.id): s.rubric for s in sheets}
        store.sync(klass.students, rubrics)
        shown = {s.key: s for s in sheets if klass.answers.get(s.key)}
        return cls(store, shown, klass, store.numbers())

    # -- lookups --------------------------------------------------------------------------------------
    def sheet(self, topic: str, question: str) -> Sheet:
        sheet = self.sheets.get(f"{topic}/{question}")
        if sheet is None:
            raise NotFound(f"no written question {topic}/{question} with answers")
        return sheet

    def student(self, sheet: Sheet, number: int) -> str:
        for student in self.klass.answers[sheet.key]:
            if self.numbers.get(student) == number:
                return student
        raise NotFound(f"no student #{number} answered {sheet.key}")

    # -- reading --------------------------------------------------------------------------------------
    def overview(self, grader: str) -> dict:
        """Every question with its progress (graded / total, per grader), and the graders' totals."""
        _, marks = self.store.everything()
        questions, graders = [], Counter()
        for sheet in self.sheets.values():
            topic, question = sheet.assignment.topic, sheet.question.id
            students = self.klass.answers[sheet.key]
            current = (marks.get((topic, question, s), Mark()).against(a.digest) for s, a in students.items())
            by = Counter(mark.grader for mark in current if mark.graded)
            graders.update(by)
            questions.append(
                {
                    "key": sheet.key,
                    "topic": topic,
                    "id": question,
                    "assignment": f"{sheet.assignment.number:02d} {sheet.assignment.title}",
                    "number": sheet.number,
                    "points": sheet.points,
                    "graded": sum(by.values()),
                    "total": len(students),
                    "graders": dict(by),
                }
            )
        return {
            "me": grader,
            "revealed": self.store.revealed(),
            "version": self.store.version(),
            "questions": questions,
            "graders": dict(graders),
        }

    def question(self, topic: str, question: str, grader: str, since: int | None = None) -> dict:
        """One question's text, rubric and answers with their marks; {"version", "unchanged": true} when
        nothing changed since the version the page has."""
        sheet = self.sheet(topic, question)
        version, items, marks, revealed = self.store.question(topic, question)
        if since == version:
            return {"version": version, "unchanged": True}
        answers, uses, comments, by = [], Counter(), Counter(), Counter()
        for student, answer in sorted(
            self.klass.answers[sheet.key].items(), key=lambda a: self.numbers[a[0]]
        ):
            mark = marks.get(student, Mark()).against(answer.digest)
            uses.update(mark.applied)
            if mark.comment:
                comments[mark.comment] += 1
            if mark.graded:
                by[mark.grader] += 1
            answers.append(
                {
                    "number": self.numbers[student],
                    "name": student if revealed else None,
                    "answer": answer.text,
                    "problems": list(answer.problems),
                    **self._mark(mark, items, sheet),
                }
            )
        scores = [a["score"] for a in answers if a["score"] is not None]
        return {
            "me": grader,
            "version": version,
            "revealed": revealed,
            "question": {
                "key": sheet.key,
                "topic": topic,
                "id": question,
                "assignment": f"{sheet.assignment.number:02d} {sheet.assignment.title}",
                "number": sheet.number,
                "text": sheet.text,
                "points": sheet.points,
            },
            "items": [
                {
                    "id": i.id,
                    "position": i.position,
                    "points": i.points,
                    "description": i.description,
                    "uses": uses[i.id],
                }
                for i in items
            ],
            "answers": answers,
            "comments": [{"text": text, "uses": n} for text, n in comments.most_common()],
            "progress": {"graded": sum(by.values()), "total": len(answers), "graders": dict(by)},
            "scores": {
                "mean": sum(scores) / len(scores) if scores else None,
                "histogram": sorted(Counter(scores).items()),
            },
        }

    @staticmethod
    def _mark(mark: Mark, items, sheet: Sheet) -> dict:
        applied = [i for i in items if i.id in mark.applied]
        return {**mark.to_json(), "score": score(applied, sheet.points) if mark.graded else None}

    # -- clicks ---------------------------------------------------------------------------------------
    def click(self, grader: str, topic: str, question: str, number: int, body: dict) -> dict:
        """One click on an answer: {"item": id, "applied": bool}, {"graded": bool} or {"comment": text}."""
        start = time.perf_counter()
        sheet = self.sheet(topic, question)
        student = self.student(sheet, number)
        answered = self.klass.answers[sheet.key][student].digest  # the text the grader sees
        if set(body) == {"item", "applied"}:
            item, applied = body["item"], body["applied"]
            if not isinstance(item, int) or isinstance(item, bool) or not isinstance(applied, bool):
                raise BadRequest('"item" is an item id and "applied" true or false')
            mark = self.store.apply(grader, topic, question, student, item, applied, answered)
        elif set(body) == {"graded"}:
            if not isinstance(body["graded"], bool):
                raise BadRequest('"graded" is true or false')
            mark = self.store.mark(grader, topic, question, student, body["graded"], answered)
        elif set(body) == {"comment"}:
            mark = self.store.comment(
                grader, topic, question, student, _text(body["comment"], MAX_COMMENT, True)
            )
        else:
            raise BadRequest('a click is {"item", "applied"}, {"graded"} or {"comment"}')
        items = self.store.items(topic, question)
        mark = mark.against(answered)
        reply = {"number": number, "mark": self._mark(mark, items, sheet), "version": self.store.version()}
        self.click_seconds.append(time.perf_counter() - start)
        return reply

    def edit_item(self, grader: str, topic: str, question: str, item: int, body: dict) -> dict:
        """{"points"} and/or {"description"} of an item: every answer that has it changes with it."""
        self.sheet(topic, question)
        if not body or not set(body) <= {"points", "description"}:
            raise BadRequest('an edit is {"points"} and/or {"description"}')
        points = _points(body["points"]) if "points" in body else None
        description = _text(body["description"], MAX_DESCRIPTION, False) if "description" in body else None
        edited = self.store.edit_item(grader, topic, question, item, points, description)
        return {"item": edited.__dict__, "version": self.store.version()}

    def add_item(self, grader: str, topic: str, question: str, body: dict) -> dict:
        self.sheet(topic, question)
        if set(body) != {"points", "description"}:
            raise BadRequest('a new item is {"points", "description"}')
        added = self.store.add_item(
            grader,
            topic,
            question,
            _points(body["points"]),
            _text(body["description"], MAX_DESCRIPTION, False),
        )
        return {"item": added.__dict__, "version": self.store.version()}

    def reveal(self, grader: str, body: dict) -> dict:
        if set(body) != {"revealed"} or not isinstance(body["revealed"], bool):
            raise BadRequest('{"revealed": true or false}')
        return {"revealed": self.store.reveal(grader, body["revealed"]), "version": self.store.version()}


def _points(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest("points are a number")
    if abs(value) > MAX_POINTS:
        raise BadRequest(f"points are at most {MAX_POINTS:g} either way")
    return float(value)


def _text(value, most: int, empty: bool) -> str:
    if not isinstance(value, str):
        raise BadRequest("a text is a string")
    if len(value) > most:
        raise BadRequest(f"a text of at most {most} characters")
    if not empty and not value.strip():
        raise BadRequest("an item needs a description")
    return value
