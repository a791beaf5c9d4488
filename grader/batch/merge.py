"""`docchat-grade merge OUT1 OUT2 ... --out OUT`: join the OUT_DIRs of `batch --shard K/N` runs.

The merged OUT_DIR holds the same bytes a single run over every learner would have written
(every file but run.json, which says when and how each shard ran). Shards are refused unless
they were graded under the same configuration: the grader's code, hidden checks, limits,
Python and library versions (resume.fingerprint), the same drills and the same policy.
Their saved grades (.state) are kept, so a later single run into OUT resumes from them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from grader.batch import cohort as outputs
from grader.batch import resume, writer
from grader.batch.policy import Policy
from grader.report import EXIT_FAILED, EXIT_PASSED, EXIT_USAGE, Report, from_document

USAGE = "docchat-grade merge OUT_DIR1 OUT_DIR2 ... --out OUT_DIR"
# what every shard must share; `config` covers the hidden checks' content (not their paths) and the limits
SAME = ("config", "drills", "policy", "versions", "roster", "bom", "limits", "isolation")


class Refused(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docchat-grade merge", usage=USAGE,
                                description="Join the OUT_DIRs of `docchat-grade batch --shard K/N` runs into one.")
    p.add_argument("shards", nargs="+", metavar="OUT_DIR", help="a shard's OUT_DIR")
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="where the merged results go")
    return p


def load(folder: Path) -> tuple[dict, dict[str, dict[str, Report]]]:
    """A shard's run.json, and its results.json's reports (learner -> drill -> report)."""
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        reports = {learner: {drill: from_document(r) for drill, r in drills.items()}
                   for learner, drills in results.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Refused(f"{folder} is not a batch OUT_DIR ({exc})") from exc
    return run, reports


def check_shards(runs: list[tuple[Path, dict]]) -> None:
    (first_dir, first), *rest = runs
    for folder, run in rest:
        for key in SAME:
            if run.get(key) != first.get(key):
                raise Refused(f"{folder} and {first_dir} were graded differently ({key}: "
                              f"{run.get(key)!r} vs {first.get(key)!r}); grade every shard the same way")
    labels = [run.get("shard") for _, run in runs]
    if None in labels:
        raise Refused(f"{runs[labels.index(None)][0]} was not graded with --shard K/N")
    total = {label.split("/")[1] for label in labels}
    taken = sorted(int(label.split("/")[0]) for label in labels)
    if len(total) != 1 or taken != list(range(1, int(next(iter(total))) + 1)):
        raise Refused(f"the shards are {', '.join(labels)}: merge needs each of 1/N ... N/N exactly once")


def merge(folders: list[Path], out: Path) -> tuple[outputs.Cohort, dict]:
    runs = [(folder, *load(folder)) for folder in folders]
    check_shards([(folder, run) for folder, run, _ in runs])
    first = runs[0][1]
    cohort = outputs.Cohort(first["drills"], first["plans"], {}, policy=Policy(**first["policy"]),
                            roster=first.get("roster"))
    merged = {**{k: first.get(k) for k in (*SAME, "hidden_checks")}, "command": ["docchat-grade", "merge", *map(str, folders)],
              "shard": None, "shards": [], "plans": first["plans"], "timings": {}, "intake": {},
              "grader_broke": [], "grades": {}}
    for folder, run, results in runs:
        for learner, reports in results.items():
            if learner in cohort.reports:
                raise Refused(f"{learner} is in more than one shard ({folder})")
            timings = run["timings"].get(learner, {})
            # results.json keeps no durations: the measured ones are in run.json, and a single run holds them
            cohort.reports[learner] = {d: r.with_durations(timings.get(d, {}).get("checks", {}))
                                       for d, r in reports.items()}
        merged["shards"].append({"out": str(folder), "shard": run["shard"], "started": run["started"],
                                 "finished": run["finished"], "seconds": run["seconds"]})
        merged["timings"].update(run["timings"])
        merged["intake"].update(run.get("intake", {}))
        merged["grader_broke"] += run["grader_broke"]
        for key, value in run["grades"].items():
            merged["grades"][key] = merged["grades"].get(key, 0) + value
        state = folder / resume.STATE_DIR
        if state.is_dir():
            shutil.copytree(state, out / resume.STATE_DIR, dirs_exist_ok=True)
    merged["timings"] = {learner: merged["timings"][learner] for learner in sorted(merged["timings"])}
    merged["intake"] = {learner: merged["intake"][learner] for learner in sorted(merged["intake"])}
    return cohort, merged


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    out = Path(args.out)
    folders = [Path(f) for f in args.shards]
    try:
        if any(f.resolve() == out.resolve() for f in folders):
            raise Refused("--out must be a new folder, not one of the shards")
        cohort, run = merge(folders, out)
    except Refused as exc:
        print(f"docchat-grade merge: {exc}\nusage: {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    out.mkdir(parents=True, exist_ok=True)
    writer.write_outputs(out, cohort, run, writer.Options(cohort.policy, cohort.roster, bool(run.get("bom"))))
    statuses = [outputs.learner_status(cohort.of(learner)) for learner in cohort.learners]
    print(f"docchat-grade merge: {len(folders)} shards, {len(statuses)} learners: "
          + ", ".join(f"{statuses.count(s)} {s}" for s in outputs.LEARNER_STATUSES) + f"; results in {out}")
    return EXIT_PASSED if all(s == "passed" for s in statuses) else EXIT_FAILED
