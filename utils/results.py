"""Grading results as types, with JSON in and out: what the autograder, the batch grader, grades.csv and
the Gradescope export all read and write.

A notebook report's JSON: `{"notebook", "questions": [{"id", "points", "earned", "status", "message"}],
"earned", "max"}`, plus `"cause"` when a student module does not import, `"hidden"` on a question the
batch grader ran hidden checks for, and `"parts": [{"id", "points", "status", "message"}]` on a question
whose check graded its parts. Earned points follow from the statuses: a question without parts earns
its points exactly when it passed; one with parts, the points of its passed parts. A question that
failed although every part passed (the hidden checks are not mapped onto parts) earns nothing.

A student's result (`SubmissionResult`, what tools.grade writes) also holds `"written"`: each notebook's
written answers by question id, as read from the submitted notebook (`WrittenAnswers`), for the staff who
grade them; their points are never in its `earned` or `max`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

# The MIME type of the bundle a check of a question with parts displays in its cell's output (utils.grading.Parts):
# {"question", "parts": [{"id", "status", "message"}]}; the autograder reads it into PartResults.
PARTS_MIME = "application/vnd.losslab.parts+json"


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # a check's AssertionError
    NOT_IMPLEMENTED = "not_implemented"  # NotImplementedError: the TODO is still there
    ERROR = "error"  # any other exception, a dead kernel, a module that does not import
    TIMEOUT = "timeout"  # a time limit fired

    @property
    def mark(self) -> str:
        """The scorecard's short word for it."""
        return {
            "passed": "ok",
            "failed": "FAIL",
            "not_implemented": "TODO",
            "error": "ERROR",
            "timeout": "TIME",
        }[self.value]


def status_of(error: str | None, message: str = "", detail: str | None = None) -> tuple[Status, str]:
    """The one rule from how a check ended to its status and message. error is the name of the exception
    that ended it (None: it passed); message is the exception's text, detail what an error shows (default
    "Name: message"). A check's AssertionError is a failure, a TODO's NotImplementedError not implemented
    yet, a function stopped because it hung before a timeout, anything else an error."""
    if error is None:
        return Status.PASSED, ""
    if error == "AssertionError":
        return Status.FAILED, message or "a check failed (AssertionError without a message)"
    if error == "NotImplementedError":
        return Status.NOT_IMPLEMENTED, message or "not implemented yet"
    if error == "FunctionHung":  # utils/watch.py: a function seen to hang, stopped at its short limit
        return Status.TIMEOUT, message
    return Status.ERROR, detail if detail is not None else f"{error}: {message}"


def status_of_exception(error: BaseException | None) -> tuple[Status, str]:
    """status_of for an exception caught in this process (a subclass counts as its base)."""
    if error is None:
        return status_of(None)
    named = (AssertionError, NotImplementedError)
    kind = next((base.__name__ for base in type(error).__mro__ if base in named), type(error).__name__)
    return status_of(kind, str(error), f"{type(error).__name__}: {error}")


class MalformedReport(ValueError):
    """JSON that is not a report (student code shares the folder the autograder writes to)."""


@dataclass
class PartResult:
    id: str
    points: float
    status: Status
    message: str = ""

    def to_json(self) -> dict:
        return {"id": self.id, "points": self.points, "status": self.status.value, "message": self.message}

    @classmethod
    def from_json(cls, data) -> PartResult:
        return cls(str(data["id"]), float(data["points"]), Status(data["status"]), str(data["message"]))


@dataclass
class QuestionResult:
    id: str
    points: float
    status: Status
    message: str = ""
    hidden: str | None = None  # the batch grader's tally of hidden checks, "k/n passed"
    parts: list[PartResult] = field(default_factory=list)  # empty: graded all or nothing

    @property
    def failed_parts(self) -> list[PartResult]:
        return [p for p in self.parts if p.status is not Status.PASSED]

    def earned_by(self, part: PartResult) -> float:
        """The points a part keeps: its own when it passed, none when the question failed outside its parts
        (the hidden checks, or the cell after its check)."""
        outside = self.status is not Status.PASSED and not self.failed_parts
        return part.points if part.status is Status.PASSED and not outside else 0.0

    @property
    def earned(self) -> float:
        """The question's points earned, the one rule every report, scorecard and export reads: the points of
        its passed parts, or all or nothing for a question without parts."""
        if self.parts:
            return sum(self.earned_by(p) for p in self.parts)
        return self.points if self.status is Status.PASSED else 0.0

    def to_json(self) -> dict:
        data = {"id": self.id, "points": self.points, "earned": self.earned, "status": self.status.value}
        data["message"] = self.message
        if self.hidden is not None:
            data["hidden"] = self.hidden
        if self.parts:
            data["parts"] = [p.to_json() for p in self.parts]
        return data

    @classmethod
    def from_json(cls, data) -> QuestionResult:
        try:
            result = cls(data["id"], float(data["points"]), Status(data["status"]), str(data["message"]))
            result.hidden = data.get("hidden")
            result.parts = [PartResult.from_json(p) for p in data.get("parts", [])]
            earned = float(data["earned"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MalformedReport(f"not a question result: {error!r}") from None
        result.check_parts()
        if earned != result.earned:
            raise MalformedReport(f"{result.id}: {earned:g} points earned with status {result.status.value}")
        return result

    def check_parts(self) -> None:
        """Distinct parts whose points add up to the question's, all passed when the question passed."""
        if not self.parts:
            return
        ids = [p.id for p in self.parts]
        if len(set(ids)) != len(ids) or not math.isclose(sum(p.points for p in self.parts), self.points):
            raise MalformedReport(f"{self.id}: the parts {ids} do not make up its {self.points:g} points")
        if self.status is Status.PASSED and self.failed_parts:
            raise MalformedReport(
                f"{self.id}: passed with the failed parts {[p.id for p in self.failed_parts]}"
            )


@dataclass
class NotebookReport:
    notebook: str  # from the repository root
    questions: list[QuestionResult] = field(default_factory=list)
    cause: str | None = None  # why nothing could run (a module that does not import, a submission stopped)

    @property
    def earned(self) -> float:
        return sum(q.earned for q in self.questions)

    @property
    def max(self) -> float:
        return sum(q.points for q in self.questions)

    def to_json(self) -> dict:
        data = {
            "notebook": self.notebook,
            "questions": [q.to_json() for q in self.questions],
            "earned": self.earned,
            "max": self.max,
        }
        if self.cause:
            data["cause"] = self.cause
        return data

    @classmethod
    def from_json(cls, data) -> NotebookReport:
        try:
            report = cls(str(data["notebook"]), [QuestionResult.from_json(q) for q in data["questions"]])
            report.cause = data.get("cause")
            totals = float(data["earned"]), float(data["max"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MalformedReport(f"not a notebook report: {error!r}") from None
        if totals != (report.earned, report.max):
            raise MalformedReport(f"the totals {totals} disagree with the questions'")
        return report

    @classmethod
    def all_failed(
        cls, notebook: str, questions, status: Status, message: str, cause: str = ""
    ) -> NotebookReport:
        """Every question (anything with an id, points and maybe parts) and its parts at status with the same
        message: nothing could be graded, for the reason cause (default: the message)."""
        results = [
            QuestionResult(
                q.id,
                q.points,
                status,
                message,
                parts=[PartResult(p.id, p.points, status, message) for p in getattr(q, "parts", ())],
            )
            for q in questions
        ]
        return cls(notebook, results, cause=cause or message)


@dataclass
class WrittenAnswers:
    """One notebook's written answers as the grader read them from the submitted notebook's JSON, for the staff
    who grade them. Their points are never in a SubmissionResult's earned or max."""

    notebook: str  # from the repository root
    points: float  # the written questions' points, all together, graded by staff
    answers: dict[str, str | None]  # {question id: answer}: "" left empty, None no answer cell
    problems: list[str] = field(default_factory=list)  # a notebook not found or not JSON, a cell deleted...

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "points": self.points,
            "answers": dict(self.answers),
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data) -> WrittenAnswers:
        try:
            answers = {str(k): None if v is None else str(v) for k, v in data["answers"].items()}
            return cls(
                str(data["notebook"]), float(data["points"]), answers, [str(p) for p in data["problems"]]
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MalformedReport(f"not a notebook's written answers: {error!r}") from None


@dataclass
class SubmissionResult:
    """One student's grades over the notebooks, as the batch grader writes them."""

    student: str
    notebooks: list[NotebookReport]
    seconds: float = 0.0
    log_tail: str = ""  # the autograder's output when its run went wrong
    note: str = ""  # which modules the submission held, or why it could not be read
    submission_hash: str = ""  # of the modules graded (tools.grade.fingerprint): a rerun reuses the
    fingerprint: str = ""  # result only while both this and the grader's repository fingerprint match
    written: list[WrittenAnswers] = field(default_factory=list)  # for staff; not in earned or max

    @property
    def earned(self) -> float:
        return sum(r.earned for r in self.notebooks)

    @property
    def max(self) -> float:
        return sum(r.max for r in self.notebooks)

    def to_json(self) -> dict:
        return {
            "student": self.student,
            "notebooks": [r.to_json() for r in self.notebooks],
            "earned": self.earned,
            "max": self.max,
            "seconds": self.seconds,
            "log_tail": self.log_tail,
            "note": self.note,
            "submission_hash": self.submission_hash,
            "fingerprint": self.fingerprint,
            "written": [w.to_json() for w in self.written],
        }

    @classmethod
    def from_json(cls, data) -> SubmissionResult:
        try:
            notebooks = [NotebookReport.from_json(r) for r in data["notebooks"]]
            result = cls(str(data["student"]), notebooks, data["seconds"], data["log_tail"], data["note"])
        except (KeyError, TypeError) as error:
            raise MalformedReport(f"not a submission result: {error!r}") from None
        result.submission_hash = str(data.get("submission_hash", ""))
        result.fingerprint = str(data.get("fingerprint", ""))
        written = data.get("written", [])
        if not isinstance(written, list):
            raise MalformedReport("not a submission result: its written answers are not a list")
        result.written = [WrittenAnswers.from_json(w) for w in written]
        return result
