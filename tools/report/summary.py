"""summary.md: a document (document.py) as Markdown, for a terminal, an email or a repository's viewer.

Text is escaped so that it reads as written and never as markup: a student's `<script>` stays text where a
viewer would pass HTML through, a `|` does not split a table cell, a `*` does not start emphasis, and a line
that would open a heading or a list does not. Underscores inside a word are left as they are (CommonMark
never reads them as emphasis), so that identifiers such as svm_loss_naive stay greppable. Whitespace,
newlines included, becomes one space: a message keeps to its line or its cell. Images are left out: the
document says in text what they show. Hover detail (an item's title) has no place in Markdown either.
"""

from __future__ import annotations

import re

from tools.report.document import (
    CODE,
    EMPHASIS,
    STRONG,
    WARN,
    Block,
    BulletList,
    Image,
    Paragraph,
    Section,
    Table,
    Text,
    runs,
)

SPECIAL = re.compile(r"[\\`*\[\]<>|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|&(?=#?\w+;)")
BLOCK_MARK = re.compile(r"^([#>+=-])")  # what would open a heading, a quote or a list
ORDERED = re.compile(r"^(\d+)([.)])")  # what would open a numbered list
MARKS = {STRONG: "**", WARN: "**", EMPHASIS: "*"}


def _escape(text: str) -> str:
    return SPECIAL.sub(lambda m: "\\" + m.group(), re.sub(r"\s+", " ", text))


def _code(text: str, cell: bool) -> str:
    """A code span: its text as is, fenced by more backticks than it holds (GFM reads `\\|` in a code span
    of a table cell as a pipe, as it must be written there)."""
    text = re.sub(r"\s+", " ", text)
    if cell:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _link(target: str) -> str:
    """A link's destination; in angle brackets where it holds more than a plain path's characters."""
    return target if re.fullmatch(r"[\w./-]+", target) else f"<{_escape(target)}>"


def _inline(content, cell: bool = False) -> str:
    """Runs; a list that ends a table cell is written on the cell's line, after a colon, its items split by `;`."""
    parts = []
    for part in runs(content):
        if isinstance(part, BulletList):
            parts.append(
                (": " if "".join(parts) else "") + "; ".join(_inline(i.runs, cell) for i in part.items)
            )
        elif isinstance(part, Text):
            if part.style == CODE:
                text = _code(part.text, cell)
            else:
                mark = MARKS.get(part.style, "")
                text = f"{mark}{_escape(part.text)}{mark}"
            parts.append(f"[{text}]({_link(part.link)})" if part.link else text)
        else:
            parts.append(_escape(part))
    return "".join(parts)


def _line(content) -> str:
    """A paragraph's or an item's text, its first character escaped where it would open a block."""
    return ORDERED.sub(r"\1\\\2", BLOCK_MARK.sub(r"\\\1", _inline(content)))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [_line(block.runs)]
    if isinstance(block, BulletList):
        return ["- " + _line(item.runs) for item in block.items]
    if isinstance(block, Table):
        lines = [_row([_escape(h) for h in block.header]), _row(["---"] * len(block.header))]
        return lines + [_row([_inline(cell, cell=True) for cell in row]) for row in block.rows]
    if isinstance(block, Image):
        return []
    raise TypeError(f"no Markdown for {type(block).__name__}")


def markdown(sections: list[Section]) -> str:
    """The Markdown of a document: each section's heading, then its blocks, a blank line after each."""
    lines = []
    for section in sections:
        lines += ["#" * section.level + " " + _inline(section.heading), ""]
        for block in section.blocks:
            written = _block(block)
            lines += written + [""] if written else []
    return "\n".join(lines)
