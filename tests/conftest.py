"""Shared fixtures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.autograde_cases import all_cases, run_case


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """{"<topic>/<variant>": (report, scorecard)} for every case in autograde_cases, two at a time."""
    cases = all_cases()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            key: pool.submit(run_case, case, tmp_path_factory.mktemp(key.replace("/", "-")))
            for key, case in cases.items()
        }
        return {key: future.result() for key, future in futures.items()}
