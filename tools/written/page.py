"""The grading page's HTML shell, and its script and style (static/), served from memory.

The shell holds no data: static/grade.js fetches the JSON of the view and builds it with DOM calls, every
text (an answer, a question, a comment, a name) set as textContent, never as HTML. The server's
Content-Security-Policy allows no inline script, so a student's `<script>` could not run even if it were
ever written as markup.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
# Read when the server starts, once: a request names one of these keys, never a path.
ASSETS = {
    "grade.js": ((STATIC / "grade.js").read_bytes(), "text/javascript; charset=utf-8"),
    "grade.css": ((STATIC / "grade.css").read_bytes(), "text/css; charset=utf-8"),
}
SHELL = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Written answers</title><link rel="stylesheet" href="/static/grade.css"></head>
<body><main id="app"><p>Loading...</p><noscript>The grading page needs JavaScript.</noscript></main>
<script src="/static/grade.js"></script></body></html>
"""
