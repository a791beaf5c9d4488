"""What lets an interrupted batch run pick up where it stopped.

Each finished grade is saved at once, atomically, under `OUT_DIR/.state/<learner>/<drill>.json`
with the key it was graded under: a hash of the drill file's bytes and of everything else
that decides the verdict (the grader's own code, the hidden checks, the limits, library
versions). A later run with the same OUT_DIR reuses every saved grade whose key still matches,
so only the files that changed are graded again, and no grade is counted twice.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from importlib import metadata
from pathlib import Path

from grader.atomic import write_atomic
from grader.report import Report, from_document

STATE_DIR = ".state"
GRADER_DIR = Path(__file__).resolve().parents[1]
VERSIONED = ("docchat-workbook", "fastapi", "starlette", "pydantic", "pytest", "python-multipart")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def fingerprint(extra_checks: list[Path], settings: dict) -> str:
    """A hash of everything besides the drill file that can change a grade."""
    digest = hashlib.sha256(json.dumps([versions(), settings], sort_keys=True).encode())
    sources = sorted(p for p in GRADER_DIR.rglob("*") if p.suffix in (".py", ".toml", ".ini"))
    for path in [*sources, *extra_checks]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_key(source: bytes, config: str) -> str:
    """The resume key of a drill file: its bytes, as read once, under this configuration."""
    return hashlib.sha256(config.encode() + b"\0" + source).hexdigest()


STATUSES = ("passed", "failed", "error", "skipped")
CHECK_FIELDS = {"id": str, "level": str, "title": str, "message": str, "hint": str, "duration_s": (int, float)}


def valid_entry(entry: object, drill: str) -> bool:
    """A saved grade of the shape `put` writes, for this drill (anything else is ignored): its
    report is the very document this grader writes for what it holds."""
    if not isinstance(entry, dict) or not isinstance(entry.get("seconds"), (int, float)):
        return False
    report = entry.get("report")
    if not isinstance(report, dict) or report.get("drill") != drill or report.get("schema") != 1:
        return False
    checks = report.get("checks")
    return (isinstance(checks, list) and all(
        isinstance(c, dict) and c.get("status") in STATUSES
        and all(isinstance(c.get(k), kind) for k, kind in CHECK_FIELDS.items()) for c in checks)
        and isinstance(report.get("target"), str) and isinstance(report.get("error"), (str, type(None)))
        and report.get("status") in ("passed", "failed", "error")
        and from_document(report).document() == report)


def grader_files_hash() -> str:
    """A hash of the installed grader's own files: compared at the end of a run with the start."""
    digest = hashlib.sha256()
    for path in sorted(p for p in GRADER_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(GRADER_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Store:
    """The saved grades of one OUT_DIR."""

    def __init__(self, out_dir: Path) -> None:
        self.root = out_dir / STATE_DIR

    def _path(self, learner: str, drill: str) -> Path:
        return self.root / learner / f"{drill}.json"

    def get(self, learner: str, drill: str, key: str) -> tuple[Report, float] | None:
        """The saved grade and the seconds it took, if it was made under `key`."""
        try:
            saved = json.loads(self._path(learner, drill).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("key") != key or not valid_entry(saved.get("entry"), drill):
            return None  # not a grade this grader saved under this key: grade the file again
        return from_document(saved["entry"]["report"]), saved["entry"]["seconds"]

    def put(self, learner: str, drill: str, key: str, report: Report, seconds: float) -> None:
        write_atomic(self._path(learner, drill), json.dumps(
            {"key": key, "entry": {"report": report.document(), "seconds": seconds}}))

    def keep_only(self, learners: set[str]) -> None:
        """Forget learners who are no longer in the submissions."""
        if self.root.is_dir():
            for folder in self.root.iterdir():
                if folder.is_dir() and folder.name not in learners:
                    shutil.rmtree(folder, ignore_errors=True)
