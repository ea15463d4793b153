"""A generated class for the class report (tests/test_report.py, benchmarks/report.py), built from data:
grades written as SubmissionResult JSON, without running the grader, and module sources for similarity.

Grades: each student is one kind, cycling through kinds(): the reference (full marks), a mutant of each
topic (its must_fail questions failed with a message that carries its hint words), a hang (a question
timed out), a memory bomb (an error) and the untouched stub (nothing implemented).

Sources, per topic: the reference; the alternative (only the solution regions tools/hidden's ALTERNATIVE
writes differently, the others left as in the stub, so that it is independent of the reference); two
copies of the alternative with renamed variables and reordered functions; the reference without its
comments; the mutants; a hang (the stub with one infinite loop); the stub, twice. write_submissions gives
them to students, then students whose every module is a mutant, as many as a class needs.
"""

from __future__ import annotations

import ast
import io
import json
import random
import re
import tokenize
from pathlib import Path

from tools.build.stubs import make_stub
from tools.grade.workspace import reference_source
from tools.teeth import material
from utils import course
from utils.results import NotebookReport, QuestionResult, Status, SubmissionResult

REGION = re.compile(r"( *)### BEGIN SOLUTION\n.*?\1### END SOLUTION\n", re.DOTALL)


# ---------------------------------------------------------------------------------------------
# Grades
# ---------------------------------------------------------------------------------------------
def mutants() -> list[tuple[str, str, dict[str, str]]]:
    """(topic, mutant name, {question or question/part: hint words}) of every mutant of the course."""
    return [
        (a.topic, name, mutant.must_fail)
        for a in course.ASSIGNMENTS
        for name, mutant in material(a.topic).MUTANTS.items()
    ]


def hint_message(question: str, hint: str, rng: random.Random) -> str:
    """A failure message as the checks write them: values that differ from student to student, a hint."""
    error = rng.uniform(0.01, 1.0)
    return (
        f"{question}: the output is a wrong value (relative error {error:.2e}, allowed 1e-08)\nHint: {hint}"
    )


def _report(assignment: course.Assignment, failures: dict[str, tuple[Status, str]]) -> NotebookReport:
    questions = [
        QuestionResult(q.id, q.points, *failures.get(q.id, (Status.PASSED, ""))) for q in assignment.questions
    ]
    return NotebookReport(assignment.notebook, questions)


def submission(student: str, kind: str, rng: random.Random) -> SubmissionResult:
    """One student's grades for kind: "reference", "stub", "hang", "memory" or "mutant:<topic>/<name>"."""
    failures: dict[str, dict[str, tuple[Status, str]]] = {a.topic: {} for a in course.ASSIGNMENTS}
    first = course.ASSIGNMENTS[0]
    if kind.startswith("mutant:"):
        topic, name = kind.removeprefix("mutant:").split("/")
        must_fail = material(topic).MUTANTS[name].must_fail
        failures[topic] = {
            course.question_id(key): (Status.FAILED, hint_message(course.question_id(key), hint, rng))
            for key, hint in must_fail.items()
        }
    elif kind == "hang":
        failures[first.topic] = {
            first.questions[0].id: (Status.TIMEOUT, "the cell ran past its limit of 300 s")
        }
    elif kind == "memory":
        failures[first.topic] = {first.questions[1].id: (Status.ERROR, "MemoryError: the process ran out")}
    elif kind == "stub":
        for a in course.ASSIGNMENTS:
            failures[a.topic] = {
                q.id: (Status.NOT_IMPLEMENTED, f"{q.id}: not implemented yet") for q in a.questions
            }
    notebooks = [_report(a, failures[a.topic]) for a in course.ASSIGNMENTS]
    return SubmissionResult(student, notebooks, seconds=round(rng.uniform(30, 300), 1), note="generated")


def kinds() -> list[str]:
    return ["reference", *(f"mutant:{t}/{n}" for t, n, _ in mutants()), "hang", "memory", "stub"]


def write_grades(folder: Path, size: int, seed: int = 0) -> list[SubmissionResult]:
    """size students' <student>.json and grades.csv in folder, as tools.grade writes them."""
    from tools.grade.outputs import write_grades_csv

    rng, cycle = random.Random(seed), kinds()
    folder.mkdir(parents=True, exist_ok=True)
    results = [submission(f"student{i:04d}", cycle[i % len(cycle)], rng) for i in range(size)]
    for result in results:
        (folder / f"{result.student}.json").write_text(json.dumps(result.to_json()))
    write_grades_csv(folder)
    return results


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------
def stub(topic: str) -> str:
    return make_stub(reference_source(topic), course.by_topic(topic).student_module)


def independent_alternative(topic: str) -> str:
    """The stub with only the solution regions that ALTERNATIVE writes differently from the reference filled
    in, from ALTERNATIVE: code that shares nothing with the reference but the given text."""
    reference = [m.group(0) for m in REGION.finditer(reference_source(topic))]
    regions = iter(reference)

    def unmark_if_rewritten(match: re.Match) -> str:
        """A rewritten region loses its markers, so that make_stub keeps its code."""
        if match.group(0) == next(regions):
            return match.group(0)
        return "".join(line for line in match.group(0).splitlines(keepends=True) if "### " not in line)

    source = REGION.sub(unmark_if_rewritten, material(topic).ALTERNATIVE)
    return make_stub(source, course.by_topic(topic).student_module)


def without_comments(source: str) -> str:
    """source with every comment removed (and the lines that held only a comment)."""
    lines = source.splitlines(keepends=True)
    for token in reversed(list(tokenize.generate_tokens(io.StringIO(source).readline))):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            line = lines[row - 1]
            kept = line[:col].rstrip()
            lines[row - 1] = kept + "\n" if kept else ""
    return "".join(lines)


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node


def _stored(nodes) -> set[str]:
    """The names the nodes assign."""
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def disguised(source: str, seed: int) -> str:
    """source with the variables its functions assign renamed and its top-level functions in another order:
    what a student does to a copy to hide it."""
    tree = ast.parse(source)
    functions = [i for i, node in enumerate(tree.body) if isinstance(node, ast.FunctionDef)]
    top_level = _stored(n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef)))
    local = sorted(_stored(tree.body[i] for i in functions) - top_level)
    rng = random.Random(seed)
    tree = _Renamer({name: f"{name[:1]}{rng.randrange(10**6)}_{i}" for i, name in enumerate(local)}).visit(
        tree
    )
    order = functions[:]
    rng.shuffle(order)
    body = list(tree.body)
    for slot, index in zip(functions, order):
        body[slot] = tree.body[index]
    tree.body = body
    return ast.unparse(tree) + "\n"


def hang(topic: str) -> str:
    """The stub with its first TODO replaced by an infinite loop."""
    return re.sub(
        r"raise NotImplementedError\(\n.*?\n *\)",
        "while True:\n        pass",
        stub(topic),
        count=1,
        flags=re.DOTALL,
    )


def sources(topic: str) -> dict[str, str]:
    """{kind: module source} of the similarity class of one topic."""
    reference, alternative = reference_source(topic), independent_alternative(topic)
    named = {
        "reference": reference,
        "alternative": alternative,
        "copy_a": disguised(alternative, 1),
        "copy_b": disguised(alternative, 2),
        "uncommented": without_comments(reference),
        "hang": hang(topic),
        "stub": stub(topic),
    }
    for name, mutant in material(topic).MUTANTS.items():
        named[f"mutant_{name}"] = mutant.source
    return named


BASE = ["reference", "alternative", "copy_a", "copy_b", "uncommented", "hang", "stub", "stub_again"]
FAMILIES = ({"alternative", "copy_a", "copy_b"}, {"reference", "uncommented"})  # copies of one another


def write_submissions(folder: Path, size: int | None = None) -> dict[str, str]:
    """One folder per student holding utils/<topic>.py for every topic: first a student of each kind in BASE
    (named after it), then students whose every module is a mutant (each topic cycling through its own),
    up to size (default: until every mutant is in). {student: kind}, a mutant student's kind "mutants"."""
    per_topic = {a.topic: {**sources(a.topic), "stub_again": stub(a.topic)} for a in course.ASSIGNMENTS}
    mutants = {t: [v for k, v in named.items() if k.startswith("mutant_")] for t, named in per_topic.items()}
    size = size or len(BASE) + max(len(m) for m in mutants.values())
    students = {kind: kind for kind in BASE[:size]}
    students.update({f"student{i:04d}": "mutants" for i in range(len(students), size)})
    for i, (student, kind) in enumerate(students.items()):
        utils = folder / student / "utils"
        utils.mkdir(parents=True, exist_ok=True)
        for topic, named in per_topic.items():
            source = (
                named[kind] if kind != "mutants" else mutants[topic][(i - len(BASE)) % len(mutants[topic])]
            )
            (utils / f"{topic}.py").write_text(source)
    return students
