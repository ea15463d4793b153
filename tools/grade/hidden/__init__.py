"""Hidden checks, decided in the grader (see engine.py):

engine       Case and Speed; run the cases of a submission's questions, judge them, race the speed cases
child        the grader's side of the child process that runs the student's module and returns outputs
child_main   the child's side, run from its source text (it imports nothing of the grader's)
drivers      small functions of the grader's that run in the child and call the student's code
compare      how an output is compared with the reference's, and how inputs are described
draw         seeded random inputs
<topic>.py   each topic's CASES
"""
