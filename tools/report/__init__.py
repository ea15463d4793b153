"""The class report: `python -m tools.report GRADES_DIR [--submissions DIR] [--roster ROSTER.csv]`.

Writes GRADES_DIR/report/: index.html (one self-contained page with embedded plots), summary.md (the same
numbers as text), similarity/ (copydetect's side-by-side pages), canvas.csv and regrade.csv. One module a
job: load (the grader's files), stats, similarity, canvas, regrade, plots, html and markdown (rendering).
"""
