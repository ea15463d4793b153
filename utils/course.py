"""The course registry: each assignment declared once, with its questions.

Every tool, test and benchmark reads the assignments from here; nothing else lists topics or question
ids. Everything else about an assignment follows from its topic by convention:

    solutions/<topic>.py            the reference module (instructor only), with solution markers
    utils/<topic>.py                the student stub, generated from it (python -m tools.build.stubs)
    utils/checks/<topic>.py         the public checks its graded cells call
    tools/grade/hidden/<topic>.py   the hidden checks (instructor only)
    tools/teeth/<topic>.py          mutants and a correct variant: the tests' material (instructor only)
    tests/test_<topic>.py           its oracle tests

A notebook's graded cell starts with `# GRADED: <id> (<points> pts)`; a test fails when the headers and
this registry disagree. A written question ("Inline question N") has two markdown cells found by cell
metadata, `{"losslab": {"question": "<id>"}}` (its text) and `{"losslab": {"answer": "<id>"}}` (the
student's answer, right after it); staff grade it with the rubric of tools/written/rubrics.py (instructor
only), and its points are never among the autograded ones.
`python -m tools.build.new_assignment NAME` appends a new entry at the end of this file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Part:
    """One requirement of a question, graded on its own: partial work keeps the parts it gets right."""

    id: str  # stable within its question; "<question>/<part>" names it elsewhere
    points: float


@dataclass(frozen=True)
class Question:
    id: str  # stable: grades, reports and hidden checks refer to it
    points: float
    check: str  # the function of utils/checks/<topic>.py that its graded cell calls
    timeout: float | None = None  # seconds for its cell; None: the command line's --timeout
    # False when the check grades what the notebook ran before it (a training run, a search) rather than
    # inputs of its own: such a cell only makes sense inside the notebook.
    self_contained: bool = True
    parts: tuple[Part, ...] = ()  # none: all or nothing; else their points add up to the question's

    @property
    def header(self) -> str:
        """The first line of its graded cell."""
        return f"# GRADED: {self.id} ({self.points:g} pts)"


@dataclass(frozen=True)
class WrittenQuestion:
    """A question the student answers in words, in the notebook's answer cell; graded by staff, never by the
    autograder, so its points stay out of every autograded total (Assignment.points, reports, grades.csv).
    Its rubric is instructor material: tools/written/rubrics.py, keyed by (topic, id)."""

    id: str  # stable: the cells' metadata, the student's result and the staff's grades refer to it
    points: float


# The cell metadata that marks a written question's cells: {"losslab": {"question": id}} on the cell with its
# text, {"losslab": {"answer": id}} on the student's answer cell right after it.
CELL_METADATA = "losslab"


@dataclass(frozen=True)
class Assignment:
    number: int
    topic: str  # the student module's name
    title: str
    notebook: str  # from the repository root
    datasets: tuple[str, ...]  # utils.data.load_dataset names; the first is the offline default
    questions: tuple[Question, ...]
    written: tuple[WrittenQuestion, ...] = ()  # in the notebook's order: "Inline question 1", 2, ...

    @property
    def student_module(self) -> str:
        return f"utils/{self.topic}.py"

    @property
    def checks_module(self) -> str:
        return f"utils/checks/{self.topic}.py"

    @property
    def solution(self) -> str:
        return f"solutions/{self.topic}.py"

    @property
    def hidden(self) -> str:
        return f"tools/grade/hidden/{self.topic}.py"

    @property
    def teeth(self) -> str:
        return f"tools/teeth/{self.topic}.py"

    @property
    def points(self) -> float:
        """The autograded points; the written questions' are apart (written_points)."""
        return sum(q.points for q in self.questions)

    @property
    def written_points(self) -> float:
        """The written questions' points, graded by staff."""
        return sum(q.points for q in self.written)

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"{self.topic} has no question {question_id!r}")

    def resolve(self, key: str) -> tuple[Question, Part | None]:
        """The question and part that "<question>" or "<question>/<part>" names."""
        question_id, _, part_id = key.partition("/")
        question = self.question(question_id)
        if not part_id:
            return question, None
        for part in question.parts:
            if part.id == part_id:
                return question, part
        raise KeyError(f"{self.topic}: {question_id} has no part {part_id!r}")


ASSIGNMENTS: list[Assignment] = []


def register(assignment: Assignment) -> Assignment:
    """Adds an assignment to the course; its number, topic, notebook and question ids must be new."""
    for other in ASSIGNMENTS:
        for field in ("number", "topic", "notebook"):
            if getattr(other, field) == getattr(assignment, field):
                raise ValueError(f"two assignments share the {field} {getattr(assignment, field)!r}")
    ids = [q.id for q in assignment.questions] + [q.id for q in assignment.written]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{assignment.topic}: a question id appears twice in {ids}")
    for question in assignment.questions:
        _check_parts(assignment.topic, question)
    ASSIGNMENTS.append(assignment)
    return assignment


def _check_parts(topic: str, question: Question) -> None:
    """A question's parts have distinct ids without "/", and points that add up to the question's."""
    if not question.parts:
        return
    ids = [p.id for p in question.parts]
    if len(set(ids)) != len(ids) or any("/" in i for i in ids):
        raise ValueError(f"{topic}/{question.id}: part ids must be distinct and hold no '/', got {ids}")
    total = sum(p.points for p in question.parts)
    if not math.isclose(total, question.points):
        raise ValueError(
            f"{topic}/{question.id}: its parts' points add up to {total:g}, not the question's {question.points:g}"
        )


def question_id(key: str) -> str:
    """The question that "<question>" or "<question>/<part>" names."""
    return key.partition("/")[0]


def topics() -> list[str]:
    return [a.topic for a in ASSIGNMENTS]


def by_topic(topic: str) -> Assignment:
    for assignment in ASSIGNMENTS:
        if assignment.topic == topic:
            return assignment
    raise KeyError(f"no assignment with topic {topic!r}; the course has {topics()}")


def by_notebook(path: str | Path, root: Path = REPO_ROOT) -> Assignment | None:
    """The assignment whose notebook is at path (absolute, or from root), or None for another notebook."""
    path = Path(path)
    relative = path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else None
    for assignment in ASSIGNMENTS:
        if assignment.notebook in (relative, path.as_posix()):
            return assignment
    return None


def _questions(*questions: tuple) -> tuple[Question, ...]:
    return tuple(Question(*q) if isinstance(q, tuple) else q for q in questions)


def _written(**points: float) -> tuple[WrittenQuestion, ...]:
    return tuple(WrittenQuestion(i, p) for i, p in points.items())


def _parts(**points: float) -> tuple[Part, ...]:
    return tuple(Part(i, p) for i, p in points.items())


_LOSS_AND_GRADIENT = _parts(loss=1, gradient=2)
_SOFTMAX_PARTS = _parts(loss=1, gradient=1, stability=1)


register(
    Assignment(
        1,
        "linear_classifier",
        "Multiclass SVM and softmax",
        "assignments/01_linear_classifiers.ipynb",
        ("digits", "cifar10", "mnist"),
        _questions(
            Question("svm_loss_naive", 3, "check_svm_loss", parts=_LOSS_AND_GRADIENT),
            Question("svm_loss_vectorized", 3, "check_svm_loss", parts=_LOSS_AND_GRADIENT),
            ("svm_vectorized_speedup", 1, "check_svm_speedup"),
            ("sample_batch", 2, "check_sample_batch"),
            ("train_linear_classifier", 2, "check_train_linear_classifier"),
            ("predict_linear_classifier", 1, "check_predict"),
            ("test_one_param_set", 2, "check_test_one_param_set"),
            ("svm_get_search_params", 1, "check_search_params"),
            Question("svm_search", 3, "check_search_accuracy", timeout=600, self_contained=False),
            Question("softmax_loss_naive", 3, "check_softmax_loss", parts=_SOFTMAX_PARTS),
            Question("softmax_loss_vectorized", 3, "check_softmax_loss", parts=_SOFTMAX_PARTS),
            ("softmax_vectorized_speedup", 1, "check_softmax_speedup"),
            ("softmax_get_search_params", 1, "check_search_params"),
            Question("softmax_search", 3, "check_search_accuracy", timeout=600, self_contained=False),
        ),
        _written(
            gradcheck_kinks=2,
            svm_weight_templates=1,
            softmax_initial_loss=1,
            svm_vs_softmax_new_point=2,
            batch_max_stability=2,
        ),
    )
)

register(
    Assignment(
        2,
        "simclr",
        "Self-supervised SimCLR",
        "assignments/02_simclr.ipynb",
        ("shapes", "cifar10"),
        _questions(
            ("compute_train_transform", 2, "check_train_transform"),
            ("sim", 1, "check_sim"),
            ("simclr_loss_naive", 3, "check_simclr_loss_naive"),
            ("sim_positive_pairs", 1, "check_sim_positive_pairs"),
            ("compute_sim_matrix", 1, "check_compute_sim_matrix"),
            Question(
                "simclr_loss_vectorized",
                4,
                "check_simclr_loss_vectorized",
                parts=_parts(value=1, gradient=1, half_precision=1, bad_input=1),
            ),
            ("simclr_train_step", 2, "check_train_step"),
            Question("simclr_training", 4, "check_simclr_training", timeout=900, self_contained=False),
        ),
        _written(denominator_self_pair=2, temperature=2, projection_head=2, colour_distortion=2),
    )
)

register(
    Assignment(
        3,
        "cam_loss",
        "CAM-loss",
        "assignments/03_cam_loss.ipynb",
        ("digit_canvas", "mnist", "cifar10"),
        _questions(
            ("make_cam_naive", 2, "check_make_cam_naive"),
            ("make_cam", 2, "check_make_cam"),
            ("make_caam", 1, "check_make_caam"),
            ("min_max_normalize", 2, "check_min_max_normalize"),
            Question(
                "cam_loss", 3, "check_cam_loss", parts=_parts(loss=1.5, gradient_routing=1, bad_input=0.5)
            ),
            ("cam_loss_train_step", 2, "check_train_step"),
            Question("cam_training", 2, "check_cam_training", timeout=600, self_contained=False),
            ("localization", 2, "check_localization"),
        ),
        _written(detached_classifier=2, warm_up=2, caam_suppression=2),
    )
)

register(
    Assignment(
        4,
        "neural_collapse",
        "Simplex ETF heads and neural collapse",
        "assignments/04_neural_collapse.ipynb",
        ("digits", "cifar10"),
        _questions(
            ("etf_gram_target", 1, "check_etf_gram_target"),
            ("etf_objective_naive", 2, "check_etf_objective_naive"),
            ("etf_objective", 2, "check_etf_objective"),
            ("etf_gradient_descent", 2, "check_gradient_descent"),
            Question(
                "simplex_etf", 3, "check_simplex_etf", parts=_parts(exact=2, float32=0.5, bad_input=0.5)
            ),
            ("etf_classifier", 2, "check_etf_classifier"),
            Question(
                "dot_regression_loss", 2, "check_dot_regression_loss", parts=_parts(value=1, gradient=1)
            ),
            ("nc1", 2, "check_nc1"),
            ("nc2", 2, "check_nc2"),
            ("nc3", 1, "check_nc3"),
            ("nc4", 1, "check_nc4"),
            ("long_tailed_indices", 2, "check_long_tailed_indices"),
        ),
        _written(etf_dimension=2, optimize_for_etf=2, minority_collapse=2),
    )
)
