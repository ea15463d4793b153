"""tools/build/stubs.py: stubs in sync with their solutions, and the generator's own behaviour."""

import ast
import importlib

import pytest

from tools.build import stubs


def test_every_stub_matches_its_solution():
    assert stubs.solution_files(), "no solution modules found"
    assert stubs.main(["--check"]) == 0, "a stub is out of date: run `python -m tools.build.stubs`"


@pytest.mark.parametrize("solution", stubs.solution_files(), ids=lambda p: p.name)
def test_stub_keeps_the_public_api_and_holds_no_solution(solution):
    stub_source = stubs.stub_path(solution).read_text()
    assert stubs.BEGIN not in stub_source and stubs.END not in stub_source

    def public_signatures(source):
        return {
            node.name: ast.dump(node.args)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        }

    assert public_signatures(stub_source) == public_signatures(solution.read_text())


SOURCE = '''def outer(x):
    """Doc."""
    y = x + 1
    ### BEGIN SOLUTION
    y = y * 2
    ### END SOLUTION
    return y


class Model:
    def step(self):
        for _ in range(3):
            ### BEGIN SOLUTION
            pass
            ### END SOLUTION
        return 1
'''


def test_regions_become_todo_and_raise_at_their_indentation():
    stub = stubs.make_stub(SOURCE, "utils/demo.py")
    assert "y = y * 2" not in stub
    assert (
        '    raise NotImplementedError(\n        "outer: not implemented yet; fill the TODO in utils/demo.py",\n    )\n'
        in stub
    )
    assert '            raise NotImplementedError(\n                "Model.step: not implemented yet' in stub
    namespace = {}
    exec(compile(stub, "demo", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="outer"):
        namespace["outer"](1)


@pytest.mark.parametrize(
    "source,match",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    pass\n", "never closed"),
        ("def f():\n    pass\n    ### END SOLUTION\n", "without"),
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    pass\n", "inside another"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "inside a function"),
    ],
)
def test_malformed_markers_are_errors(source, match):
    with pytest.raises(stubs.MarkerError, match=match):
        stubs.make_stub(source, "utils/demo.py")


@pytest.mark.parametrize("solution", stubs.solution_files(), ids=lambda p: p.name)
def test_stub_imports(solution):
    importlib.import_module(f"utils.{solution.stem}")
