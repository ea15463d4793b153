"""The class report as a document: sections of paragraphs, tables, bullet lists and images.

content.py builds it once from the report's numbers; page.py writes it as index.html and summary.py as
summary.md. It is plain data that knows nothing of HTML or Markdown, so that both files carry the same words
and numbers by construction, and the renderers know nothing of grades, so that they stay thin. Text is held
as the student or the grader wrote it: escaping is each renderer's job, never the builder's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PLAIN, STRONG, EMPHASIS, CODE, WARN = "plain", "strong", "emphasis", "code", "warn"


@dataclass(frozen=True)
class Text:
    """A run of text with one style, and a link to a file of the report folder when link is set."""

    text: str
    style: str = PLAIN
    link: str = ""


Inline = str | Text  # a str is a plain run
Runs = Inline | list[Inline]  # one run, or several in a row


@dataclass
class Item:
    """A bullet list's entry; title is detail a reader can hover for (HTML), left out where there is none."""

    runs: Runs
    title: str = ""


@dataclass
class BulletList:
    items: list[Item] = field(default_factory=list)


Cell = Runs | list[Inline | BulletList]  # a table cell: runs, possibly followed by a list


@dataclass
class Paragraph:
    runs: Runs


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass
class Image:
    """A figure embedded in the document (a PNG data URI); alt says what it shows where it is not shown."""

    alt: str
    data_uri: str


Block = Paragraph | Table | BulletList | Image


@dataclass
class Section:
    heading: Runs
    level: int  # 1 for the document's title, 2 for a part, 3 within a part
    blocks: list[Block] = field(default_factory=list)


def runs(content: Runs | Cell) -> list:
    """Content as a list of parts (a single run becomes a list of one)."""
    return [content] if isinstance(content, (str, Text)) else list(content)


def plain(content: Runs | Cell) -> str:
    """The text of runs or of a cell without styles or links (a list's items one after another)."""
    parts = []
    for part in runs(content):
        if isinstance(part, BulletList):
            parts += [" " + plain(item.runs) for item in part.items]
        else:
            parts.append(part.text if isinstance(part, Text) else part)
    return "".join(parts)
