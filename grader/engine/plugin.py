"""The pytest plugin that turns a pytest run into a DocChat grading run.

Options and the `check` marker are registered in hooks; the run's state lives in
`config.stash`. The `Grader` object orders and filters the checks, and streams one record
per check down the report channel: a check that never sends its `result` is an error.
"""

from __future__ import annotations

import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from grader import fakes as drills
from grader import manifest
from grader.engine.channel import Channel
from grader.expect import CheckFailed
from grader.engine.learner import LearnerError, explain, is_learners
from grader.engine import isolation
from grader.engine.remote import LearnerRaised
from grader.engine.session import LEARNER, PREPARED, SESSION, GradeSession

# Each module in grader/fakes/ holds one drill's fakes and fixtures.
pytest_plugins = ["grader.fixtures"] + [
    f"grader.fakes.{m.name}" for m in pkgutil.iter_modules(drills.__path__)]

SEAM_COPIED = (
    "The grader swapped `{name}` on your module, but your code called its own copy of the "
    "original, taken when the module was imported (a second name, a default argument, a "
    "closure). Look the module-level name up at the moment your code needs it, so the "
    "grader's version is the one that runs.")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("docchat", "DocChat grading")
    group.addoption("--docchat-target", help="the learner's drill file")
    group.addoption("--docchat-drill", help="which drill's checks to run")
    group.addoption("--docchat-channel", type=int, help="file descriptor for report records")
    group.addoption("--docchat-scratch", help="scratch directory for this run")
    group.addoption("--docchat-only", default="", help="comma-separated check ids to run")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "check(id, level=None, title=None, hint=None): a DocChat check; level, title and hint "
        "come from the manifest for built-in checks and must be given for hidden ones.")
    target = config.getoption("docchat_target")
    if not target:
        return
    scratch = Path(config.getoption("docchat_scratch"))
    template, source = PREPARED.get("template"), PREPARED.get("source")
    if template is None:  # run by pytest directly (the plugin's own tests): start one here
        source = Path(target).read_bytes()
        template = isolation.Template(isolation.choose(), scratch, memory_mb=1024, file_mb=512)
        config.add_cleanup(template.close)
    config.stash[SESSION] = GradeSession(
        target=Path(Path(target).name),
        drill=config.getoption("docchat_drill"),
        scratch=scratch,
        channel=Channel(config.getoption("docchat_channel")),
        only=frozenset(filter(None, config.getoption("docchat_only").split(","))),
        source=source,
        template=template,
    )
    config.pluginmanager.register(Grader(config.stash[SESSION]), "docchat-grader")


def check_meta(item: pytest.Item) -> dict[str, str] | None:
    """id, level, title and hint of a check: from the manifest, or from its marker."""
    marker = item.get_closest_marker("check")
    if marker is None or not marker.args:
        return None
    check_id = marker.args[0]
    try:
        known = manifest.load().check(check_id)
        meta = {"id": check_id, "level": known.level, "title": known.title, "hint": known.hint}
    except KeyError:
        meta = {"id": check_id, "level": "core", "title": check_id, "hint": ""}
    meta.update({k: v for k, v in marker.kwargs.items() if k in ("level", "title", "hint")})
    return meta


class Grader:
    """Collects each check's outcome and reports it over the channel."""

    def __init__(self, session: GradeSession) -> None:
        self.session = session
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}
        self.names: dict[str, str] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        order = {c.id: i for i, c in enumerate(manifest.load().drill(self.session.drill).checks)}
        keep, plan = [], []
        for item in items:
            meta = check_meta(item)
            if meta is None or not meta["id"].startswith(self.session.drill + "."):
                continue
            item.stash[META] = meta
            self.ids[item.nodeid] = meta["id"]
            plan.append(meta)
            if not self.session.only or meta["id"] in self.session.only:
                keep.append(item)
        plan.sort(key=lambda m: order.get(m["id"], len(order)))
        keep.sort(key=lambda i: order.get(i.stash[META]["id"], len(order)))
        checked = PREPARED.get("preflight")
        if checked is not None and not checked.passed():
            items[:] = []  # the module cannot be graded: the runner has the reason, and no plan
            return
        items[:] = keep
        self.session.upcoming = [item.name for item in keep]
        self.names = {item.nodeid: item.name for item in keep}
        self.session.channel.send("plan", checks=plan)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.session.starting(self.names.get(nodeid, nodeid))
        self.outcomes[nodeid] = {"status": "passed", "message": "", "started": time.perf_counter()}
        self.session.channel.send("start", id=self.ids[nodeid])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
        """Classify the outcome ourselves: no pytest traceback formatting, which is slow."""
        outcome = self.outcomes[item.nodeid]
        verdict = "passed"
        if call.excinfo is not None:
            found = self.classify(item, call.excinfo.value)
            if outcome["status"] == "passed":
                outcome.update(found)
            verdict = "skipped" if found["status"] == "skipped" else "failed"
        longrepr = None
        if verdict == "skipped":
            longrepr = (str(item.path), item.location[1], outcome["message"])
        elif verdict == "failed":
            longrepr = outcome["message"] or outcome["status"]
        return pytest.TestReport(item.nodeid, item.location, {}, verdict, longrepr, call.when,
                                 duration=call.duration, start=call.start, stop=call.stop)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        outcome = self.outcomes.pop(nodeid)
        outcome["id"] = self.ids[nodeid]
        duration = round(time.perf_counter() - outcome.pop("started"), 3)
        self.session.channel.send("result", duration_s=duration, **outcome)

    def classify(self, item: pytest.Item, exc: BaseException) -> dict[str, Any]:
        learner = item.stash.get(LEARNER, None)
        if isinstance(exc, pytest.skip.Exception):
            return {"status": "skipped", "message": str(exc.msg)}
        bypassed = learner.bypassed if learner is not None else []
        if bypassed:
            return {"status": "failed", "message": SEAM_COPIED.format(name=bypassed[0])}
        if isinstance(exc, CheckFailed):
            return {"status": "failed", "message": exc.render()}
        if isinstance(exc, LearnerError):
            return {"status": "error", "message": str(exc)}
        if isinstance(exc, LearnerRaised):
            return {"status": "error", "message": f"your app {exc}"}
        if is_learners(exc):
            path = learner.path if learner else self.session.target
            return {"status": "error", "message": f"your app {explain(exc, path)}"}
        if isinstance(exc, AssertionError):
            return {"status": "failed", "message": str(exc)}
        detail = "".join(traceback.format_exception(exc))
        print(detail, file=sys.stderr)
        return {"status": "error", "internal": True,
                "message": f"the grader itself failed ({type(exc).__name__}: {exc}); "
                           "this is a bug in docchat-grade, not in your code"}


META = pytest.StashKey[dict]()
