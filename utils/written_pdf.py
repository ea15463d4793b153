"""The PDF of the written answers: one page per written question, in the registry's order, the same layout
for every student, so that a Gradescope "templated" assignment splits it by page with no matching.

Each page has fixed regions: a header (the assignment, the page's number), the question's box (its text
from the notebook) and the answer's box, whose place and size never change. An answer is shown as written,
as plain text (HTML, Markdown and `<script>` appear as typed), with `$...$` and `$$...$$` rendered by
matplotlib's mathtext where it can, and as their source where it cannot: never dropped. A long answer is
set smaller, down to a floor; one that still does not fit is cut, with a line that says how many
characters are not shown (the notebook in the zip holds the whole answer).

The engine is fpdf2 (pure Python, from PyPI; no browser, no system library), with matplotlib's DejaVu
fonts, so it works the same on a laptop and in Colab.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from fpdf import FPDF

from utils.course import Assignment
from utils.written import WrittenCell

PAGE_W, PAGE_H = 612.0, 792.0  # US Letter, in points
MARGIN = 48.0
HEADER_Y = 40.0
QUESTION_TOP, QUESTION_H = 84.0, 128.0  # the question's box
ANSWER_TOP = QUESTION_TOP + QUESTION_H + 26.0  # the answer's box, down to the footer
ANSWER_BOTTOM = PAGE_H - 56.0
PAD = 8.0
ANSWER_SIZES = (11.0, 10.0, 9.0, 8.0, 7.0)  # a long answer tries each in turn
QUESTION_SIZES = (11.0, 10.0, 9.0, 8.0, 7.0)
LINE = 1.3  # line height, in font sizes
PAGE_CHARS = 25_000  # more than a page holds at the smallest size: the rest is counted, not laid out
MAX_FORMULAS = 150  # formulas rendered per box; later ones are shown as their source
MATH_DPI = 300
GREY, RED, INK = (110, 110, 110), (170, 20, 20), (20, 20, 20)
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"

# Display math ($$...$$), then inline math ($...$, not across lines, not after a backslash).
MATH = re.compile(
    r"(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$", re.DOTALL
)


def _font_path(name: str) -> str:
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


FONTS = {
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
    ("sans", "I"): "DejaVuSans-Oblique.ttf",
    ("mono", ""): "DejaVuSansMono.ttf",
}


@functools.cache
def _covered(name: str) -> frozenset[int]:
    """The code points a font has glyphs for."""
    from fontTools.ttLib import TTFont  # fpdf2 depends on fontTools

    return frozenset(TTFont(_font_path(name), lazy=True).getBestCmap())


def printable(text: str, font: str = "DejaVuSans.ttf") -> tuple[str, int]:
    """text with tabs as spaces, other control characters dropped and each character the font has no glyph
    for replaced by U+FFFD; and how many were replaced."""
    covered, out, replaced = _covered(font), [], 0
    for char in text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    "):
        if char == "\n" or ord(char) in covered:
            out.append(char)
        elif ord(char) < 32 or 0x7F <= ord(char) < 0xA0:
            continue
        else:
            out.append(REPLACEMENT)
            replaced += 1
    return "".join(out), replaced


@functools.lru_cache(maxsize=512)
def math_image(tex: str, size: float) -> tuple[bytes, float, float, float] | None:
    """(PNG, width, height, depth below the baseline, in points) of $tex$ set by mathtext at size, or None
    when mathtext cannot parse it."""
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    prop = FontProperties(size=size)
    try:
        width, height, depth, _, _ = mathtext.MathTextParser("path").parse(f"${tex}$", dpi=72, prop=prop)
        with matplotlib.rc_context({"savefig.transparent": True}):  # the question's grey box shows through
            mathtext.math_to_image(f"${tex}$", buffer, prop=prop, dpi=MATH_DPI, format="png", color="black")
    except Exception:  # mathtext's errors are ValueErrors, but a bad formula must never stop a hand-in
        return None
    if width <= 0 or height <= 0:
        return None
    return buffer.getvalue(), width, height, depth


@dataclass
class _Piece:
    kind: str  # "text", "code" (math shown as source), "math"
    text: str
    width: float
    end: int  # the offset in the text just after this piece
    image: tuple | None = None  # math_image's value


@dataclass
class _Line:
    pieces: list[_Piece] = field(default_factory=list)
    width: float = 0.0
    ascent: float = 0.0
    descent: float = 0.0
    centred: bool = False
    end: int = 0


class _Full(Exception):
    """The lines laid out so far are taller than the layout's limit."""


_UNIT_WIDTHS: dict[tuple[str, str, str], float] = {}  # (family, style, character): its width at size 1


class _Layout:
    """Lays a text out in lines of a given width and font size: words wrap, newlines break, formulas are
    images when mathtext sets them (display formulas on a line of their own, centred). It stops once its
    lines are taller than limit (full is then True)."""

    def __init__(self, pdf: FPDF, width: float, size: float, style: str = "", limit: float = float("inf")):
        self.pdf, self.width, self.size, self.style, self.limit = pdf, width, size, style, limit
        self.lines = [_Line()]
        self.formulas, self.used, self.full = 0, 0.0, False

    def _font(self, kind: str) -> tuple[str, str]:
        return ("mono", "") if kind == "code" else ("sans", self.style)

    def _char_width(self, char: str, kind: str) -> float:
        key = (*self._font(kind), char)
        if key not in _UNIT_WIDTHS:
            self.pdf.set_font(key[0], key[1], 100)
            _UNIT_WIDTHS[key] = self.pdf.get_string_width(char) / 100
        return _UNIT_WIDTHS[key] * self.size

    def _measure(self, text: str, kind: str) -> float:
        return sum(self._char_width(char, kind) for char in text)

    def _break(self, end: int) -> None:
        line = self.lines[-1]
        line.end = max(line.end, end)
        self.used += _line_height(line, self.size)
        self.lines.append(_Line(end=end))
        if self.used > self.limit:
            raise _Full

    def _place(self, piece: _Piece, ascent: float, descent: float) -> None:
        line = self.lines[-1]
        if line.pieces and line.width + piece.width > self.width:
            self._break(line.end)
            line = self.lines[-1]
            if piece.kind != "math" and not piece.text.strip():
                return  # no space at the start of a line
        line.pieces.append(piece)
        line.width += piece.width
        line.ascent, line.descent = max(line.ascent, ascent), max(line.descent, descent)
        line.end = piece.end

    def _word(self, word: str, kind: str, end: int) -> None:
        """A word, split by characters when it is wider than a whole line."""
        ascent, descent = self.size * 0.95, self.size * (LINE - 0.95)
        position, chunk, used = end - len(word), "", 0.0
        for char in word:
            char_width = self._char_width(char, kind)
            if chunk and used + char_width > self.width:
                self._place(_Piece(kind, chunk, used, position), ascent, descent)
                chunk, used = "", 0.0
            chunk, used, position = chunk + char, used + char_width, position + 1
        self._place(_Piece(kind, chunk, used, position), ascent, descent)

    def text(self, text: str, start: int, kind: str = "text") -> None:
        for i, line in enumerate(text.split("\n")):
            if i:
                start += 1
                self._break(start)
            for token in re.findall(r"\S+|\s+", line):
                start += len(token)
                self._word(token if token.strip() else " ", kind, start)

    def formula(self, tex: str, source: str, display: bool, end: int) -> None:
        image = math_image(tex.strip(), self.size) if self.formulas < MAX_FORMULAS else None
        self.formulas += 1
        if image is None or image[1] > self.width:
            self.text(source, end - len(source), "code")
            return
        _, width, height, depth = image
        if display:
            if self.lines[-1].pieces:
                self._break(end - len(source))
            self.lines[-1].centred = True
        piece = _Piece("math", source, width, end, image)
        self._place(piece, max(height - depth, self.size * 0.95), max(depth, self.size * (LINE - 0.95)))
        if display:
            self._break(end)

    def add(self, text: str) -> _Layout:
        position = 0
        try:
            for match in MATH.finditer(text):
                self.text(text[position : match.start()], position)
                display = match["display"] is not None
                self.formula(match["display"] if display else match["inline"], match[0], display, match.end())
                position = match.end()
            self.text(text[position:], position)
        except _Full:
            self.full = True
        return self


def _line_height(line: _Line, size: float) -> float:
    return line.ascent + line.descent if line.pieces else size * LINE


def _draw(pdf: FPDF, layout: _Layout, lines: list[_Line], x: float, y: float, color=INK) -> float:
    """Draws the lines from the top y (a run of text pieces of one kind in one call); returns the y below."""
    pdf.set_text_color(*color)
    for line in lines:
        baseline = y + (line.ascent if line.pieces else layout.size * 0.95)
        left = x + (layout.width - line.width) / 2 if line.centred else x
        runs: list[list[_Piece]] = []
        for piece in line.pieces:
            if runs and piece.kind != "math" and runs[-1][0].kind == piece.kind:
                runs[-1].append(piece)
            else:
                runs.append([piece])
        for run in runs:
            if run[0].kind == "math":
                png, width, height, depth = run[0].image
                pdf.image(io.BytesIO(png), left, baseline - (height - depth), width, height)
            else:
                pdf.set_font(*layout._font(run[0].kind), layout.size)
                pdf.text(left, baseline, "".join(piece.text for piece in run))
            left += sum(piece.width for piece in run)
        y += _line_height(line, layout.size)
    return y


def _fit(pdf: FPDF, text: str, width: float, height: float, sizes, style: str = ""):
    """The layout of text in the first size whose lines fit height, and the lines shown; at the smallest
    size, the lines that fit with room for the cut notice, and how many characters are not shown."""
    shown_text = text[:PAGE_CHARS]
    for size in sizes:
        layout = _Layout(pdf, width, size, style, limit=height).add(shown_text)
        if not layout.full and _total(layout.lines, size) <= height and len(shown_text) == len(text):
            return layout, layout.lines, 0
    room = height - size * LINE * 2.2  # the notice's two lines
    lines, used = [], 0.0
    for line in layout.lines:
        if used + _line_height(line, size) > room:
            break
        lines.append(line)
        used += _line_height(line, size)
    end = lines[-1].end if lines else 0
    return layout, lines, len(text) - end


def _total(lines: list[_Line], size: float) -> float:
    return sum(_line_height(line, size) for line in lines)


def _plain(markdown: str) -> str:
    """A question's Markdown as plain text: bold and italic markers and backticks dropped, math kept."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", markdown, flags=re.DOTALL)
    text = re.sub(r"(?<![\w*$\\])\*(?!\s)([^*\n]+?)\*(?![\w*])", r"\1", text)
    return re.sub(r"`([^`\n]+)`", r"\1", text)


class WrittenPdf:
    """The written answers' PDF, a page per written question."""

    def __init__(self, total_pages: int):
        self.pdf = FPDF(orientation="P", unit="pt", format=(PAGE_W, PAGE_H))
        self.pdf.set_auto_page_break(False)
        self.pdf.set_title("losslab: written answers")
        self.pdf.set_creator("losslab utils.submit")
        for (family, style), name in FONTS.items():
            self.pdf.add_font(family, style, _font_path(name))
        self.total, self.replaced = total_pages, 0

    def _printable(self, text: str) -> str:
        text, replaced = printable(text)
        self.replaced += replaced
        return text

    def page(self, assignment: Assignment, cell: WrittenCell, note: str = "") -> None:
        """The page of one written question; note replaces the answer when the notebook could not be read."""
        pdf, width = self.pdf, PAGE_W - 2 * MARGIN
        pdf.add_page()
        number = pdf.page_no()
        pdf.set_text_color(*GREY)
        pdf.set_font("sans", "", 9)
        pdf.text(
            MARGIN, HEADER_Y, self._printable(f"losslab · Assignment {assignment.number}: {assignment.title}")
        )
        right = f"page {number} of {self.total}"
        pdf.text(PAGE_W - MARGIN - pdf.get_string_width(right), HEADER_Y, right)
        pdf.set_text_color(*INK)
        pdf.set_font("sans", "B", 13)
        points = f"{cell.question.points:g} pt{'s' if cell.question.points != 1 else ''}"
        pdf.text(MARGIN, HEADER_Y + 26, f"{cell.heading} ({points}, graded by staff)")
        pdf.set_font("sans", "", 9)
        pdf.set_text_color(*GREY)
        ident = f"{assignment.topic}/{cell.question.id}"
        pdf.text(PAGE_W - MARGIN - pdf.get_string_width(ident), HEADER_Y + 26, ident)

        # The question's box.
        pdf.set_draw_color(*GREY)
        pdf.set_fill_color(244, 244, 244)
        pdf.rect(MARGIN, QUESTION_TOP, width, QUESTION_H, style="DF")
        prompt = (
            _plain(cell.prompt) if cell.prompt else f"{cell.heading} (its text was not found in the notebook)"
        )
        layout, lines, cut = _fit(
            pdf, self._printable(prompt), width - 2 * PAD, QUESTION_H - 2 * PAD, QUESTION_SIZES
        )
        y = _draw(pdf, layout, lines, MARGIN + PAD, QUESTION_TOP + PAD)
        if cut:
            self._notice(y, f"question cut: {cut:,} more characters not shown", layout.size)

        # The answer's box.
        pdf.set_font("sans", "B", 10)
        pdf.set_text_color(*INK)
        pdf.text(MARGIN, ANSWER_TOP - 7, "Your answer")
        pdf.rect(MARGIN, ANSWER_TOP, width, ANSWER_BOTTOM - ANSWER_TOP)
        box_x, box_y, box_w = MARGIN + PAD, ANSWER_TOP + PAD, width - 2 * PAD
        box_h = ANSWER_BOTTOM - ANSWER_TOP - 2 * PAD
        if note or cell.answer is None or not cell.answer:
            why = note or (
                "(no answer cell in the notebook: it was deleted)" if cell.answer is None else "(no answer)"
            )
            layout, lines, _ = _fit(pdf, self._printable(why), box_w, box_h, ANSWER_SIZES[:1], "I")
            _draw(pdf, layout, lines, box_x, box_y, GREY)
        else:
            layout, lines, cut = _fit(pdf, self._printable(cell.answer), box_w, box_h, ANSWER_SIZES)
            y = _draw(pdf, layout, lines, box_x, box_y)
            if cut:
                self._notice(
                    y,
                    f"[answer cut: {cut:,} more characters not shown; the notebook in the zip holds the "
                    "whole answer]",
                    layout.size,
                )

        pdf.set_font("sans", "", 8)
        pdf.set_text_color(*GREY)
        footer = "Written answers, one page per question. The code is graded by the autograder."
        pdf.text(MARGIN, PAGE_H - 32, footer)

    def _notice(self, y: float, text: str, size: float) -> None:
        self.pdf.set_font("sans", "I", size)
        self.pdf.set_text_color(*RED)
        self.pdf.text(MARGIN + PAD, y + size * 1.2, text)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pdf.output(str(path))


def write_pdf(pages: list[tuple[Assignment, WrittenCell, str]], path: Path) -> int:
    """Writes the PDF of pages (assignment, what its notebook holds for a question, a note replacing the
    answer or ""), in order; returns how many characters the font could not show (shown as U+FFFD)."""
    document = WrittenPdf(len(pages))
    for assignment, cell, note in pages:
        document.page(assignment, cell, note)
    document.write(path)
    return document.replaced
