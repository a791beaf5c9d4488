"""cohort.html, opened in the real Chromium the grader drives: it renders, on its own, with results.json's numbers."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from grader.browser import find_chromium, open_browser
from tests.cohorts import make_cohort
from tests.test_batch import GRADE

CHROMIUM = find_chromium()
COHORT = {
    "ada": {"errors": "solution"},
    "bo": {"errors": "mutant:extra_key_in_shape"},
    "cy": {"errors": "syntax"},
    "di": {"errors": "skeleton"},
    "ed": {"errors": "missing"},
    "fay": {"errors": "solution"},
}
READ = """(() => {
  const cells = el => [...el.querySelectorAll("td")].map(td => td.textContent.trim());
  const share = row => { const bar = row.querySelector(".bar"), fill = row.querySelector(".fill");
                         return fill.getBoundingClientRect().width / bar.getBoundingClientRect().width; };
  return {
    checks: [...document.querySelectorAll("tr.check")].map(r => ({id: r.dataset.check, level: r.dataset.level,
             passed: +r.dataset.passed, graded: +r.dataset.graded, cells: cells(r), share: share(r)})),
    scores: [...document.querySelectorAll("tr.score")].map(r => ({score: +r.dataset.score,
             learners: +r.dataset.learners, share: share(r)})),
    ungraded: [...document.querySelectorAll("tr.ungraded")].map(r => [r.dataset.learner, r.dataset.drill]),
    scripts: document.scripts.length,
    external: [...document.querySelectorAll("[src],link[href]")].length,
  };
})()"""


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    subs = make_cohort(root / "subs", COHORT)
    done = subprocess.run([GRADE, "batch", str(subs), "--out", str(root / "out"), "--drills", "errors"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    return root / "out"


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium or chromium-browser on PATH")
def test_cohort_html_renders_in_chromium_with_the_numbers_of_results_json(out, tmp_path):
    results = json.loads((out / "results.json").read_text())
    graded = [r["errors"] for r in results.values() if r["errors"]["status"] in ("passed", "failed")]
    url = (out / "cohort.html").resolve().as_uri()
    with open_browser(CHROMIUM, tmp_path / "profile", deadline=time.monotonic() + 60) as browser:
        session = browser.open(url)
        assert browser.wait_event("Page.loadEventFired", 20)
        page = browser.evaluate(session, READ)
        assert browser.page_problems() == []
        assert [u for u, _, _ in browser.responses() if u != url] == []  # nothing fetched: self-contained
    assert page["scripts"] == 0 and page["external"] == 0
    # every check, core before stretch, most-failed first in each, with the pass counts of results.json
    levels = [c["level"] for c in page["checks"]]
    assert levels == sorted(levels, key=lambda level: level != "core")
    for level in ("core", "stretch"):
        rates = [c["passed"] / c["graded"] for c in page["checks"] if c["level"] == level]
        assert rates == sorted(rates)
    assert sorted(c["id"] for c in page["checks"]) == sorted(c["id"] for c in graded[0]["checks"])
    for check in page["checks"]:
        outcomes = [next(c for c in r["checks"] if c["id"] == check["id"])["status"] for r in graded]
        assert (check["passed"], check["graded"]) == (outcomes.count("passed"), len(graded))
        assert check["cells"][3] == f"{check['passed']}/{check['graded']}"
        assert check["share"] == pytest.approx(check["passed"] / check["graded"], abs=0.02)  # the bar as drawn
    # the score distribution of those who handed the drill in (not the missing file, not the skeleton)
    handed = Counter(r["errors"]["score"] for r in results.values()
                     if r["errors"]["status"] not in ("missing", "not started"))
    assert {s["score"]: s["learners"] for s in page["scores"] if s["learners"]} == dict(handed)
    assert sum(s["learners"] for s in page["scores"]) == 4
    top = max(page["scores"], key=lambda s: s["learners"])
    assert top["share"] == pytest.approx(top["learners"] / 4, abs=0.02)
    assert page["ungraded"] == [["cy", "errors"]]  # the syntax error
