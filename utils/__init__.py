"""The course's code: the student modules, their public checks and the autograder."""

import sys

# jsonschema, which nbformat and nbval import, imports rfc3987_syntax where it is installed (jupyter's
# dependencies install it) for an IRI format check that no notebook uses, and that import compiles a grammar:
# over a second in every process that reads a notebook (benchmarks/README.md, "Start-up"). A None entry makes
# the import fail as a missing package's would, which jsonschema expects: it then leaves that check out.
sys.modules.setdefault("rfc3987_syntax", None)
