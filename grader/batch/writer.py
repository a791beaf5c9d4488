"""Writing OUT_DIR: every file a batch run (or `docchat-grade merge`) leaves for the instructor.

All of them but run.json are a pure function of the cohort (reports, policy, roster) and the
intake, so a sharded run merged and a single run give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.atomic import write_atomic
from grader.batch import cohort as outputs
from grader.batch import html, intake, policy
from grader.formats import classroom, gradescope, junit


class OptionError(ValueError):
    """--policy or --roster cannot be used as given, or OUT_DIR would lose columns."""


@dataclass
class Options:
    """How the outputs are written; none of it changes a grade, so none of it re-grades anything."""

    policy: policy.Policy = field(default_factory=policy.Policy)
    roster: dict[str, dict[str, str]] | None = None
    bom: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", metavar="grading.toml",
                   help="points per core/stretch check, per drill or per check (default: core checks carry "
                        "the grade, stretch is a bonus once the core passes); see docs/instructors.md")
    p.add_argument("--roster", metavar="roster.csv",
                   help="a CSV with the columns folder,student_id,name,email: adds them to gradebook.csv")
    p.add_argument("--bom", action="store_true",
                   help="start gradebook.csv with a UTF-8 byte order mark (for spreadsheet programs)")


def options(args: argparse.Namespace, known_drills: list[str]) -> Options:
    return Options(policy.load(Path(args.policy) if args.policy else None, known_drills),
                   load_roster(Path(args.roster)) if args.roster else None, args.bom)


def load_roster(path: Path) -> dict[str, dict[str, str]]:
    """folder -> student_id, name, email, from a CSV with those columns (in any order; more are ignored)."""
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise OptionError(f"--roster {path}: {exc.strerror}") from exc
    if not rows or "folder" not in rows[0]:
        raise OptionError(f"--roster {path}: needs a header row with a `folder` column "
                          f"(and {', '.join(outputs.ROSTER_COLUMNS)})")
    roster = {}
    for row in rows:
        folder = (row.get("folder") or "").strip()
        if folder in roster:
            raise OptionError(f"--roster {path}: the folder {folder!r} is listed twice")
        if folder:
            roster[folder] = {c: (row.get(c) or "").strip() for c in outputs.ROSTER_COLUMNS}
    return roster


def refuse_dropping_columns(out: Path, drills: list[str]) -> None:
    """A run into an OUT_DIR graded with more drills would silently drop their gradebook columns."""
    try:
        before = json.loads((out / "run.json").read_text(encoding="utf-8"))["drills"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    dropped = [d for d in before if d not in drills]
    if dropped:
        raise OptionError(f"{out} holds a gradebook with the drills {', '.join(before)}; this run would drop "
                          f"{', '.join(dropped)}: use another --out, or --drills {','.join(before)}")


def roster_warnings(cohort: outputs.Cohort) -> list[str]:
    if cohort.roster is None:
        return []
    unknown = [learner for learner in cohort.learners if learner not in cohort.roster]
    absent = sorted(set(cohort.roster) - set(cohort.reports))
    return ([f"not in the roster (their student_id, name and email are blank): {', '.join(unknown)}"]
            if unknown else []) + ([f"in the roster, no submission: {', '.join(absent)}"] if absent else [])


def write_outputs(out: Path, cohort: outputs.Cohort, run: dict, opts: Options) -> None:
    learners = cohort.learners
    write_atomic(out / "gradebook.csv", outputs.gradebook_csv(cohort, bom=opts.bom))
    write_atomic(out / "results.json", outputs.results_json(cohort))
    write_atomic(out / "cohort.md", outputs.cohort_md(cohort))
    write_atomic(out / "cohort.html", html.cohort_html(cohort))
    write_atomic(out / "intake.md", intake.intake_md(
        run.get("intake", {}), cohort.drills,
        {learner: [d for d in cohort.drills if cohort.reports[learner][d].status == outputs.NOT_STARTED]
         for learner in learners}))
    write_atomic(out / "junit.xml", junit.document_xml(
        [junit.suite(cohort.reports[learner][drill], f"{learner}/{drill}", f"{learner}.{drill}")
         for learner in learners for drill in cohort.drills]))
    for learner in learners:
        write_atomic(out / "feedback" / f"{learner}.md",
                     outputs.feedback_md(learner, cohort.of(learner), cohort.policy))
        write_atomic(out / "gradescope" / f"{learner}.json", json.dumps(
            gradescope.results(cohort.of(learner), cohort.policy), indent=2, ensure_ascii=False) + "\n")
        write_atomic(out / "classroom" / f"{learner}.json", json.dumps(
            classroom.results(cohort.of(learner), cohort.policy), indent=2, ensure_ascii=False) + "\n")
    for folder, suffix in (("feedback", ".md"), ("gradescope", ".json"), ("classroom", ".json")):
        for stale in (out / folder).glob(f"*{suffix}"):
            if stale.stem not in cohort.reports:
                stale.unlink()
    run["roster_warnings"] = roster_warnings(cohort)
    write_atomic(out / "run.json", json.dumps(run, indent=2) + "\n")
