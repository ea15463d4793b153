#!/usr/bin/env bash
# Gradescope runs this once while it builds the autograder image; the uploaded repository is in /autograder/source.
set -euo pipefail
cd /autograder/source
python3 -m pip install -r requirements.txt
