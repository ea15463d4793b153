"""index.html: a document (document.py) as one self-contained page, the plots embedded as data URIs, no
script, no external file, so that it opens anywhere and can be mailed as one file.

Every piece of text is escaped here, and only here: student names, failure messages and hints are what
students' code and the grader wrote, and the page shows them as text, never as markup. A link is a file of
the report folder; an image that is not a data URI is refused, as the page would no longer stand alone.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

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
    plain,
    runs,
)

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; } .warn { color: #a00; font-weight: bold; } img { display: block; margin: 0.5em 0; }
code { font-size: 0.9em; }
"""
TAGS = {STRONG: ("<b>", "</b>"), EMPHASIS: ("<i>", "</i>"), CODE: ("<code>", "</code>")}
TAGS[WARN] = ('<span class="warn">', "</span>")


def _inline(content) -> str:
    """Runs, and a list where a table cell ends with one."""
    parts = []
    for part in runs(content):
        if isinstance(part, BulletList):
            parts.append(_list(part))
        elif isinstance(part, Text):
            start, end = TAGS.get(part.style, ("", ""))
            text = f"{start}{escape(part.text)}{end}"
            parts.append(f'<a href="{escape(quote(part.link))}">{text}</a>' if part.link else text)
        else:
            parts.append(escape(part))
    return "".join(parts)


def _list(bullets: BulletList) -> str:
    items = "".join(
        (f'<li title="{escape(item.title)}">' if item.title else "<li>") + _inline(item.runs) + "</li>"
        for item in bullets.items
    )
    return f"<ul>{items}</ul>"


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.runs)}</p>"
    if isinstance(block, BulletList):
        return _list(block)
    if isinstance(block, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"
    if isinstance(block, Image):
        if not block.data_uri.startswith("data:"):
            raise ValueError(f"{block.alt}: an image of the page must be a data URI")
        return f'<img alt="{escape(block.alt)}" src="{escape(block.data_uri)}">'
    raise TypeError(f"no HTML for {type(block).__name__}")


def html(sections: list[Section]) -> str:
    """The page of a document, titled by its first heading."""
    title = escape(plain(sections[0].heading)) if sections else ""
    body = "".join(
        f"<h{s.level}>{_inline(s.heading)}</h{s.level}>" + "".join(_block(b) for b in s.blocks)
        for s in sections
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
