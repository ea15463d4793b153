"""Written answers graded by question with a rubric, merged into the grades, and every student's feedback.

    python -m tools.written GRADES_DIR                       # the grading page, on http://127.0.0.1:8231/
    python -m tools.written GRADES_DIR --host 0.0.0.0 --grader ana --grader ben   # shared: a token each
    python -m tools.written GRADES_DIR --merge               # written points into grades.csv, <student>.json
    python -m tools.written GRADES_DIR --feedback            # GRADES_DIR/feedback/<student>.html, feedback.zip

GRADES_DIR is what tools.grade wrote; what staff decide is stored in GRADES_DIR/written.sqlite on every
click. One module a job:

questions.py   the written questions: their text (the notebook's question cell) and initial rubric
answers.py     the students' answers, read from GRADES_DIR/<student>.json once, at start
store.py       the SQLite store: anonymous numbers, rubric items, marks, tokens, the audit; a transaction a click
access.py      who may use the page: one local grader on loopback, else a token per grader
app.py         what the page reads and does, checked, apart from HTTP
server.py      the HTTP server (ThreadingHTTPServer): routes, security headers, bodies
page.py        the page's shell, and its script and style (static/), served from memory
grades.py      a student's written grades (pending is not 0), computed from the store, in and out of JSON
stats.py       per-question statistics: the scores' histogram, the most-applied items, the graders' progress
merge.py       the written grades into grades.csv and each <student>.json
feedback.py    one self-contained HTML page a student, and a zip of them all
__main__.py    the command line

tools.grade never imports this package; tools.report does, to show the merged grades.
"""
