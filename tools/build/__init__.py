"""What the instructor builds from the reference solutions:

stubs            `python -m tools.build.stubs [--check]`: the student stubs, generated from solutions/
release          `python -m tools.build.release OUT_DIR`: the student version (template in release_template/)
record           the checks' oracle calls recorded on the reference, and the checks rewritten to replay them
leaks            `python -m tools.build.leaks DIR`: no solution line or oracle body in a released tree
self_contained   the graded cells of self-contained questions, run in this process (recording, teeth)
new_assignment   `python -m tools.build.new_assignment NAME`: the scaffold (templates in new_assignment_template/)
"""
