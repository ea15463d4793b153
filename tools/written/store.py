"""What the grading page stores: GRADES_DIR/written.sqlite, written on every click, one transaction a click.

SQLite in WAL mode with synchronous=FULL: a click is on disk when its request is answered, so a server killed
mid-session loses nothing, and a restart shows the same state. Each call opens its own connection, so the
server's threads (several graders at once) never share one; a writer waits for another (BEGIN IMMEDIATE and
a busy timeout) instead of failing. A click states what it wants (item 3 applied, not "toggle item 3"), so
that two graders' clicks on the same answer both land and a retried request changes nothing twice.

Tables: students (each student's anonymous number, drawn once), items (the rubric items of each question,
started from the rubrics and edited on the page), answers (graded or not, the comment, the last grader, and
a digest of the answer text it was graded on: an answer handed in again since is pending again, Mark.against),
applied (which items an answer has), graders (each grader's token), settings (names revealed or not), and
audit (every change: when, who, what, the values before and after).
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

FILE = "written.sqlite"  # in GRADES_DIR

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (student TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, question TEXT NOT NULL, position INTEGER NOT NULL,
    points REAL NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    topic TEXT NOT NULL, question TEXT NOT NULL, student TEXT NOT NULL,
    graded INTEGER NOT NULL DEFAULT 0, comment TEXT NOT NULL DEFAULT '', grader TEXT NOT NULL DEFAULT '',
    answered TEXT NOT NULL DEFAULT '', PRIMARY KEY (topic, question, student));
CREATE TABLE IF NOT EXISTS applied (
    topic TEXT NOT NULL, question TEXT NOT NULL, student TEXT NOT NULL, item INTEGER NOT NULL REFERENCES items(id),
    PRIMARY KEY (topic, question, student, item));
CREATE TABLE IF NOT EXISTS graders (name TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, grader TEXT NOT NULL, action TEXT NOT NULL,
    topic TEXT, question TEXT, student TEXT, item INTEGER, before TEXT, after TEXT);
"""
REVEAL = "reveal"  # settings: "1" when the page shows students' names, else their numbers


class NotFound(KeyError):
    """An item that is not one of the question's."""


@dataclass(frozen=True)
class Item:
    id: int
    position: int  # its key on the page: 1 for the first item
    points: float
    description: str


@dataclass
class Mark:
    """What staff decided on one answer."""

    graded: bool = False
    comment: str = ""
    grader: str = ""  # who changed it last
    applied: set[int] = field(default_factory=set)  # item ids
    answered: str = ""  # the digest of the answer it was last graded on ("": graded before digests were kept)
    changed: bool = False  # graded on an answer the student has replaced since (Mark.against)

    def against(self, answered: str) -> Mark:
        """This mark for the answer whose digest is answered now: pending again, and changed, when it was
        graded on another answer; its items and comment stay, for the grader to confirm or change."""
        if self.graded and self.answered and self.answered != answered:
            return replace(self, graded=False, changed=True)
        return self

    def to_json(self) -> dict:
        return {
            "graded": self.graded,
            "comment": self.comment,
            "grader": self.grader,
            "applied": sorted(self.applied),
            "changed": self.changed,
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Store:
    def __init__(self, path: Path):
        self.path = path
        with self._connection() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            columns = {row[1] for row in con.execute("PRAGMA table_info(answers)")}
            if "answered" not in columns:  # a store from before the digests: its marks keep standing
                con.execute("ALTER TABLE answers ADD COLUMN answered TEXT NOT NULL DEFAULT ''")

    @classmethod
    def of(cls, grades: Path) -> Store:
        return cls(grades / FILE)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed when the block ends, rolled back when it raises."""
        with self._connection() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent state for several queries."""
        with self._connection() as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                con.execute("COMMIT")

    @staticmethod
    def _audit(con, grader: str, action: str, where=(None, None, None), item=None, before=None, after=None):
        con.execute(
            "INSERT INTO audit (at, grader, action, topic, question, student, item, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), grader, action, *where, item, json.dumps(before), json.dumps(after)),
        )

    # -- set up ---------------------------------------------------------------------------------------
    def sync(self, students: list[str], rubrics: dict[tuple[str, str], tuple]) -> None:
        """Numbers the students not numbered yet (in a random order, after the others), and gives each
        question that has no items yet those of its rubric ({(topic, question): (RubricItem, ...)})."""
        with self._transaction() as con:
            known = {s for (s,) in con.execute("SELECT student FROM students")}
            new = sorted(set(students) - known)
            random.SystemRandom().shuffle(new)
            (top,) = con.execute("SELECT COALESCE(MAX(number), 0) FROM students").fetchone()
            con.executemany(
                "INSERT INTO students (student, number) VALUES (?, ?)",
                [(s, top + i) for i, s in enumerate(new, start=1)],
            )
            seeded = set(con.execute("SELECT DISTINCT topic, question FROM items"))
            for (topic, question), rubric in rubrics.items():
                if (topic, question) in seeded:
                    continue
                con.executemany(
                    "INSERT INTO items (topic, question, position, points, description) VALUES (?, ?, ?, ?, ?)",
                    [(topic, question, i, r.points, r.description) for i, r in enumerate(rubric, start=1)],
                )

    def numbers(self) -> dict[str, int]:
        """{student: anonymous number}."""
        with self._connection() as con:
            return dict(con.execute("SELECT student, number FROM students"))

    def tokens(self, names: list[str], renew: bool = False) -> dict[str, str]:
        """{grader: token} for the names, a new token for a name without one (or for each, with renew)."""
        with self._transaction() as con:
            if renew:
                con.executemany("DELETE FROM graders WHERE name = ?", [(n,) for n in names])
            for name in names:
                con.execute(
                    "INSERT OR IGNORE INTO graders (name, token) VALUES (?, ?)",
                    (name, secrets.token_urlsafe(24)),
                )
            found = dict(con.execute("SELECT name, token FROM graders"))
        return {name: found[name] for name in names}

    # -- reading --------------------------------------------------------------------------------------
    def version(self) -> int:
        """Grows with every change: a page whose version is this one has nothing new to fetch."""
        with self._connection() as con:
            return con.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]

    def revealed(self) -> bool:
        with self._connection() as con:
            return self._revealed(con)

    @staticmethod
    def _revealed(con) -> bool:
        row = con.execute("SELECT value FROM settings WHERE key = ?", (REVEAL,)).fetchone()
        return row is not None and row[0] == "1"

    @staticmethod
    def _items(con, topic: str, question: str) -> list[Item]:
        rows = con.execute(
            "SELECT id, position, points, description FROM items WHERE topic = ? AND question = ? "
            "ORDER BY position, id",
            (topic, question),
        )
        return [Item(*row) for row in rows]

    def items(self, topic: str, question: str) -> list[Item]:
        with self._connection() as con:
            return self._items(con, topic, question)

    @staticmethod
    def _marks(con, where: str = "", args: tuple = ()) -> dict[tuple[str, str, str], Mark]:
        marks: dict[tuple[str, str, str], Mark] = {}
        for topic, question, student, graded, comment, grader, answered in con.execute(
            f"SELECT topic, question, student, graded, comment, grader, answered FROM answers {where}", args
        ):
            marks[topic, question, student] = Mark(bool(graded), comment, grader, answered=answered)
        for topic, question, student, item in con.execute(
            f"SELECT topic, question, student, item FROM applied {where}", args
        ):
            marks.setdefault((topic, question, student), Mark()).applied.add(item)
        return marks

    def question(self, topic: str, question: str) -> tuple[int, list[Item], dict[str, Mark], bool]:
        """The version, the items and {student: mark} of one question, and whether names are revealed: one
        consistent state."""
        with self._snapshot() as con:
            version = con.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
            marks = self._marks(con, "WHERE topic = ? AND question = ?", (topic, question))
            items = self._items(con, topic, question)
            return version, items, {s: m for (_, _, s), m in marks.items()}, self._revealed(con)

    def everything(self) -> tuple[dict[tuple[str, str], list[Item]], dict[tuple[str, str, str], Mark]]:
        """Every question's items ({(topic, question): items}) and every mark ({(topic, question, student):
        mark}), as one state: what the merge and the feedback read."""
        with self._snapshot() as con:
            items: dict[tuple[str, str], list[Item]] = {}
            for topic, question in con.execute("SELECT DISTINCT topic, question FROM items"):
                items[topic, question] = self._items(con, topic, question)
            return items, self._marks(con)

    # -- one click each -------------------------------------------------------------------------------
    def _check_item(self, con, topic: str, question: str, item: int) -> Item:
        found = next((i for i in self._items(con, topic, question) if i.id == item), None)
        if found is None:
            raise NotFound(f"{topic}/{question} has no rubric item {item}")
        return found

    def _mark(self, con, topic: str, question: str, student: str) -> Mark:
        marks = self._marks(
            con, "WHERE topic = ? AND question = ? AND student = ?", (topic, question, student)
        )
        return marks.get((topic, question, student), Mark())

    @staticmethod
    def _set_answer(con, where: tuple[str, str, str], **values) -> None:
        con.execute("INSERT OR IGNORE INTO answers (topic, question, student) VALUES (?, ?, ?)", where)
        assignments = ", ".join(f"{column} = ?" for column in values)
        con.execute(
            f"UPDATE answers SET {assignments} WHERE topic = ? AND question = ? AND student = ?",
            (*values.values(), *where),
        )

    def apply(
        self, grader: str, topic: str, question: str, student: str, item: int, applied: bool, answered: str
    ) -> Mark:
        """Applies or removes an item on an answer, which is then graded, by grader, on the answer whose
        digest is answered."""
        where = (topic, question, student)
        with self._transaction() as con:
            self._check_item(con, topic, question, item)
            before = self._mark(con, *where)
            if (item in before.applied) != applied:
                if applied:
                    con.execute(
                        "INSERT INTO applied (topic, question, student, item) VALUES (?, ?, ?, ?)",
                        (*where, item),
                    )
                else:
                    con.execute(
                        "DELETE FROM applied WHERE topic = ? AND question = ? AND student = ? AND item = ?",
                        (*where, item),
                    )
            elif before.graded and before.grader == grader and before.answered == answered:
                return before  # nothing to change
            self._set_answer(con, where, graded=1, grader=grader, answered=answered)
            self._audit(con, grader, "apply" if applied else "remove", where, item, before.to_json(), applied)
            return self._mark(con, *where)

    def mark(self, grader: str, topic: str, question: str, student: str, graded: bool, answered: str) -> Mark:
        """Marks an answer graded as it stands (no item applies, say; or the answer whose digest is answered
        confirmed after it changed), or pending again."""
        where = (topic, question, student)
        with self._transaction() as con:
            before = self._mark(con, *where)
            if before.graded == graded and (not graded or before.answered == answered):
                return before
            self._set_answer(con, where, graded=int(graded), grader=grader, answered=answered)
            self._audit(con, grader, "graded" if graded else "pending", where, None, before.graded, graded)
            return self._mark(con, *where)

    def comment(self, grader: str, topic: str, question: str, student: str, text: str) -> Mark:
        """The answer's comment, replaced; the answer stays graded or pending as it was."""
        where = (topic, question, student)
        with self._transaction() as con:
            before = self._mark(con, *where)
            if before.comment == text:
                return before
            self._set_answer(con, where, comment=text)
            self._audit(con, grader, "comment", where, None, before.comment, text)
            return self._mark(con, *where)

    def edit_item(
        self, grader: str, topic: str, question: str, item: int, points: float | None, description: str | None
    ) -> Item:
        """Changes an item's points or text: every answer it is applied to changes with it."""
        with self._transaction() as con:
            before = self._check_item(con, topic, question, item)
            after = Item(
                before.id,
                before.position,
                before.points if points is None else points,
                before.description if description is None else description,
            )
            if after != before:
                con.execute(
                    "UPDATE items SET points = ?, description = ? WHERE id = ?",
                    (after.points, after.description, item),
                )
                self._audit(
                    con,
                    grader,
                    "edit item",
                    (topic, question, None),
                    item,
                    {"points": before.points, "description": before.description},
                    {"points": after.points, "description": after.description},
                )
            return after

    def add_item(self, grader: str, topic: str, question: str, points: float, description: str) -> Item:
        """A new item at the end of the question's rubric."""
        with self._transaction() as con:
            (position,) = con.execute(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM items WHERE topic = ? AND question = ?",
                (topic, question),
            ).fetchone()
            cursor = con.execute(
                "INSERT INTO items (topic, question, position, points, description) VALUES (?, ?, ?, ?, ?)",
                (topic, question, position, points, description),
            )
            after = {"points": points, "description": description}
            self._audit(con, grader, "add item", (topic, question, None), cursor.lastrowid, None, after)
            return Item(cursor.lastrowid, position, points, description)

    def reveal(self, grader: str, revealed: bool) -> bool:
        """Shows the students' names on the page, or hides them again."""
        with self._transaction() as con:
            before = self._revealed(con)
            if before != revealed:
                con.execute(
                    "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                    (REVEAL, "1" if revealed else "0"),
                )
                self._audit(
                    con, grader, "reveal names" if revealed else "hide names", before=before, after=revealed
                )
            return revealed

    def audit(self) -> list[dict]:
        """Every change, the oldest first."""
        with self._connection() as con:
            con.row_factory = sqlite3.Row
            return [dict(row) for row in con.execute("SELECT * FROM audit ORDER BY id")]
