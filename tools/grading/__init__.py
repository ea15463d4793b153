"""Batch grading, one stage a module, data flowing one way:

    submissions   find each student's submission and read its module sources (bytes, never extracted)
    isolation     the bubblewrap sandbox, the unprivileged uid and the resource limits of a submission
    submission    grade one submission in its own copy: the canonical notebooks, then the hidden checks
    outputs       check the reports against the registry; per-student JSON, grades.csv, Gradescope
    limits        the limits' defaults and help, declared once

tools/grade.py is the command line that runs them over a class.
"""
