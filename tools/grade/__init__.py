"""The batch grader, one stage a module, data flowing one way (`python -m tools.grade`):

__main__, batch  the command line: a class, one Dask task per submission, resumable
submissions      find each student's submission and read its module sources (bytes, never extracted)
fingerprint      what makes two grades comparable: the repository that graded them, the submission graded
task             what a Dask worker runs: one submission's grading, or the reference's timing
cluster          the Dask client: an embedded LocalCluster, or a running cluster by its address
workspace        temporary copies: what a student's run needs, or the repository with the references
isolation        the bubblewrap sandbox, the unprivileged uid and the resource limits of a submission
run              grade one submission in its own copy: the canonical notebooks, then the hidden checks
hidden/          the hidden checks, decided here in the grader; the child that runs the student's code
outputs          check the reports against the registry; per-student JSON, grades.csv, Gradescope
limits           the limits' defaults and help, declared once
reference        `python -m tools.grade.reference`: the autograder on the reference solutions
gradescope/      the entry point and setup of a Gradescope autograder
"""
