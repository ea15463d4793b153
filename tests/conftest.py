"""Shared fixtures."""

from __future__ import annotations

import pytest

from tests.autograde_cases import grade_all


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """{"<topic>/<variant>": (report, scorecard)} for every case in autograde_cases, two at a time."""
    return grade_all(lambda key: tmp_path_factory.mktemp(key.replace("/", "-")))
