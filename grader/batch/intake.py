"""Intake: find each learner's drill files the way submissions really arrive, and say what was found.

A learner is a folder of SUBMISSIONS_DIR, or a `.zip` file there (its name without `.zip` is
the learner id). In a learner's folder, a drill file is looked for, best first:

1. `drills/<drill>.py`, 2. `<drill>.py` at the top (a Gradescope-style upload),
3. `<folder>/drills/<drill>.py`, 4. `<folder>/<drill>.py` (a clone or zip with one more folder),

then the same inside each `.zip` at the learner's top level (extracted, `.py` files only, under
OUT_DIR/.intake). Names match in any case (`Upload.py`); `__MACOSX/`, dotfiles and the
workbook's own folders (solutions/, tests/, grader/ ...) are ignored. Every `.py` seen in those
places and not graded is listed with the reason, in intake.md and run.json.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import skeletons

IGNORED_DIRS = {"__macosx", "__pycache__", "node_modules", "venv", "site-packages",
                # the workbook's own folders: a clone carries them, they are not the learner's work
                "solutions", "tests", "grader", "notebooks", "bench", "examples", "templates", "docs"}
LAYOUTS = ("drills/{}", "{}", "*/drills/{}", "*/{}")  # best first
MAX_MEMBER_BYTES = 2 * 1024 * 1024
INTAKE_DIR = ".intake"


def untouched(source: bytes | Path, drill: str) -> bool:
    """The file (its bytes, as read once) is still the skeleton as shipped."""
    data = source.read_bytes() if isinstance(source, Path) else source
    known = skeletons.recorded().get(drill)
    return known is not None and skeletons.fingerprint(data) == known


@dataclass
class Intake:
    """One learner's submission as found."""

    learner: str
    files: dict[str, Path] = field(default_factory=dict)  # drill -> file to grade
    shown: dict[str, str] = field(default_factory=dict)  # drill -> the file as reports show it
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (file as shown, why not graded)
    unpacked: list[str] = field(default_factory=list)  # zips extracted

    def as_dict(self) -> dict:
        return {"graded": dict(self.shown), "ignored": [{"file": f, "why": w} for f, w in self.ignored],
                "unpacked": list(self.unpacked)}


def _visible(part: str) -> bool:
    return not part.startswith(".") and part.lower() not in IGNORED_DIRS


def candidates(root: Path) -> list[tuple[int, Path]]:
    """Every `.py` in the places a drill file may be, with its rank (0 is best)."""
    found = []
    for rank, pattern in enumerate(LAYOUTS):
        for path in sorted(root.glob(pattern.format("*"))):
            rel = path.relative_to(root).parts
            if path.suffix.lower() == ".py" and path.is_file() and all(_visible(p) for p in rel[:-1]) \
                    and not rel[-1].startswith(".") and not (rank == 3 and rel[-2].lower() == "drills"):
                found.append((rank, path))
    return found


def unzip(archive: Path, into: Path) -> list[str]:
    """Extract the `.py` members of `archive` into `into`, safely; return what was skipped and why."""
    problems = []
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                name = PurePosixPath(info.filename)
                if info.is_dir() or name.suffix.lower() != ".py":
                    continue
                if name.is_absolute() or ".." in name.parts or not all(_visible(p) for p in name.parts[:-1]):
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    problems.append(f"{name}: larger than {MAX_MEMBER_BYTES // 1024 // 1024} MiB")
                    continue
                target = into.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"could not be read as a zip ({exc})")
    return problems


def take_in(learner: str, root: Path, drills: list[str], all_drills: list[str], unpack: Path,
            archive: Path | None = None) -> Intake:
    """Find `learner`'s drill files under `root` (their folder), or in `archive` (a zip learner).

    Files are shown as `<learner>/<path in their folder>`, or `<learner>/<zip name>/<path in the zip>`.
    """
    intake, shown_root = Intake(learner), learner
    places: list[tuple[Path, str]] = []  # (folder searched, how its files are shown)
    if archive is None:
        places.append((root, shown_root))
        zips = sorted(p for p in root.glob("*") if p.suffix.lower() == ".zip" and p.is_file()
                      and not p.name.startswith("."))
    else:
        zips = [archive]
    shutil.rmtree(unpack / learner, ignore_errors=True)  # nothing left from an earlier version of a zip
    for z in zips:
        into = unpack / learner / z.name
        for problem in unzip(z, into):
            intake.ignored.append((f"{learner}/{z.name}" if archive is None else z.name, problem))
        intake.unpacked.append(f"{shown_root}/{z.name}")
        places.append((into, f"{shown_root}/{z.name}"))
    wanted = {d.lower(): d for d in drills}
    others = {d.lower() for d in all_drills} - set(wanted)
    for folder, shown in places:
        for _, path in candidates(folder):
            name = f"{shown}/{path.relative_to(folder).as_posix()}"
            stem = path.stem.lower()
            drill = wanted.get(stem)
            if drill is None:
                why = ("not graded in this run (--drills)" if stem in others
                       else f"not named after a drill ({', '.join(drills)})")
                intake.ignored.append((name, why))
            elif drill in intake.files:
                intake.ignored.append((name, f"{intake.shown[drill]} was graded as {drill}"))
            else:
                intake.files[drill], intake.shown[drill] = path, name
    return intake


def learners(submissions: Path, skip: Path) -> dict[str, tuple[Path, Path | None]]:
    """learner -> (folder, archive): folders of SUBMISSIONS_DIR, and .zip files with no folder of that name."""
    found: dict[str, tuple[Path, Path | None]] = {}
    for p in sorted(submissions.iterdir()):
        if p.name.startswith(".") or p.name.lower() == "__macosx" or p.resolve() == skip:
            continue
        if p.is_dir():
            found[p.name] = (p, None)
    for p in sorted(submissions.iterdir()):
        if p.is_file() and p.suffix.lower() == ".zip" and not p.name.startswith(".") and p.stem not in found:
            found[p.stem] = (p.parent, p)  # (the folder is unused: the zip is the submission)
    return found


def missing_why(drill: str) -> str:
    return (f"no {drill}.py in this submission (looked in drills/, at the top and one folder deeper, "
            "in any case, and in zips)")


NOT_STARTED_WHY = "not started: {} is still the skeleton as shipped, so it was not graded (0 points)"


def intake_md(intakes: dict[str, dict], drills: list[str], not_started: dict[str, list[str]]) -> str:
    """intake.md: per learner, every file graded and every `.py` seen but not graded, and why."""
    lines = ["# Intake", "", f"{len(intakes)} learners · drills: {', '.join(drills)}", ""]
    for learner in sorted(intakes):
        found = intakes[learner]
        lines += [f"## {learner}", ""]
        for zipname in found["unpacked"]:
            lines.append(f"- unpacked `{zipname}`")
        for drill in drills:
            if drill in found["graded"]:
                extra = " (not started: the untouched skeleton)" if drill in not_started.get(learner, []) else ""
                lines.append(f"- `{found['graded'][drill]}` → **{drill}**{extra}")
            else:
                lines.append(f"- **{drill}**: missing")
        for item in found["ignored"]:
            lines.append(f"- `{item['file']}` not graded: {item['why']}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
