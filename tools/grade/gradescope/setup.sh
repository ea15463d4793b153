#!/usr/bin/env bash
# Gradescope runs this once while it builds the autograder image; the uploaded repository is in /autograder/source.
# It installs the requirements, then times the reference once, so that each submission's run reuses the derived
# time limits instead of timing the reference again (that would double every student's grading time).
set -euo pipefail
AUTOGRADER=${AUTOGRADER:-/autograder}
cd "$AUTOGRADER/source"
python3 -m pip install -r requirements.txt
# shellcheck disable=SC2086  # the extra arguments are meant to split
python3 -m tools.grade --limits-only --out "$AUTOGRADER/limits" --workers 1 ${LOSSLAB_GRADE_ARGS:-}
