"""What learners read, byte for byte, for six representative submissions (tests/goldens.py).

A difference here is a changed message: if it is wanted, regenerate the goldens with
`.venv/bin/python -m tests.goldens` and review `git diff tests/golden/`.
"""

from __future__ import annotations

import pytest

from grader.browser import find_chromium
from grader.engine import isolation
from tests.goldens import GOLDEN, SUBMISSIONS, as_json, as_text, graded, SANDBOX

REGENERATE = "if the change is wanted: .venv/bin/python -m tests.goldens, then review git diff tests/golden/"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    if SANDBOX not in isolation.available():
        pytest.skip(f"the golden reports were made in the {SANDBOX} sandbox, which does not work here")
    return graded(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_report_matches_its_golden(name: str, reports) -> None:
    if "streaming" in SUBMISSIONS[name] and find_chromium() is None:
        pytest.skip("the golden streaming report was made with Chromium installed (streaming.browser_page "
                    "ran); without it that check is skipped, so the report differs")
    report = reports[name]
    assert as_json(report) == (GOLDEN / f"{name}.json").read_text(), REGENERATE
    assert as_text(report) == (GOLDEN / f"{name}.txt").read_text(), REGENERATE
