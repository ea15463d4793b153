"""Instructor tools, one package a flow; imports run one way (grade is the base, nothing imports report):

grade/    the batch grader (`python -m tools.grade`) and its hidden checks: what decides a grade
build/    what the instructor builds: the stubs, the student release, its recorded oracles and leak check,
          the scaffold of a new assignment
report/   the class report (`python -m tools.report`), read from what tools.grade wrote
teeth/    test material, never imported by grading: mutants, correct variants, busy machines, clusters
"""
