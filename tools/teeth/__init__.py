"""Test material: what shows that the grader has teeth. Never imported by grading (tools/grade/).

<topic>.py           each topic's MUTANTS (the reference with one common mistake each, and the questions it
                     must fail; the first is the one the release's replayed checks are tested on),
                     HIDDEN_ONLY_MUTANTS (mistakes the public checks miss and the hidden checks catch),
                     ALTERNATIVE (a correct solution written differently, which must get full marks),
                     QUICK_PARAMETERS (notebook parameters that make a mutant's run quick) and
                     QUICK_CASUALTIES (the questions that then fail because they need the full run)
mutation.py          Mutant, HiddenOnlyMutant, and the rewrites they are made with
busy_machine.py      processes that keep every core busy, stopped by pid
localhost_cluster.py a Dask scheduler and workers on 127.0.0.1, stopped by pid
"""

from __future__ import annotations

import importlib
from types import ModuleType

TEETH = ("MUTANTS", "HIDDEN_ONLY_MUTANTS", "ALTERNATIVE", "QUICK_PARAMETERS", "QUICK_CASUALTIES")


def material(topic: str) -> ModuleType:
    """tools/teeth/<topic>.py, checked to hold every name of TEETH."""
    try:
        module = importlib.import_module(f"tools.teeth.{topic}")
    except ModuleNotFoundError as error:
        if error.name != f"tools.teeth.{topic}":
            raise
        raise FileNotFoundError(f"no mutants for {topic}: tools/teeth/{topic}.py is missing") from None
    missing = [name for name in TEETH if not hasattr(module, name)]
    if missing:
        raise AttributeError(f"tools/teeth/{topic}.py lacks {', '.join(missing)}")
    return module
