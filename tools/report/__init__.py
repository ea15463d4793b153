"""The class report: `python -m tools.report GRADES_DIR [--submissions DIR] [--roster ROSTER.csv]`.

Writes GRADES_DIR/report/: index.html (one self-contained page with embedded plots), summary.md (the same
document as Markdown), similarity/ (copydetect's side-by-side pages), canvas.csv and regrade.csv. One module
a job: load (the grader's files), stats, similarity, canvas and regrade (the numbers), report (ClassReport:
builds them and writes the report; with the written grades that python -m tools.written --merge wrote into
the <student>.json files, read by tools.written), plots (the figures), document (the document model: sections,
paragraphs, tables, lists, images), content (the report's numbers as one document, decided once), and its
two thin renderers, page (HTML) and summary (Markdown), which escape what they write and know no grades.
"""
