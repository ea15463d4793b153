"""`python -m tools.grade SUBMISSIONS_DIR --out grades/`: tools/grade/batch.py."""

import sys

from tools.grade.batch import main

sys.exit(main())
