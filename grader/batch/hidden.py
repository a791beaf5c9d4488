"""What is wrong with a folder of hidden checks, found before any learner is graded.

The check files are the instructor's, so this reads their source (never a learner's): each
`check("<id>", ...)` marker's id must start with a drill's name and a dot, or the check would
never run for any drill.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def marker_ids(path: Path) -> list[tuple[str, int]]:
    """The ids of the `check(...)` / `pytest.mark.check(...)` markers in `path`, with their lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0]
        if name == "check" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((first.value, node.lineno))
    return found


def warnings(files: list[Path], drills: list[str]) -> list[str]:
    """One line per hidden check that can never run."""
    said = []
    for path in files:
        for check_id, line in marker_ids(path):
            prefix = check_id.split(".", 1)[0]
            if "." not in check_id or prefix not in drills:
                said.append(f"{path.name}:{line}: the hidden check {check_id!r} names no drill, so it never runs "
                            f"(an id starts with a drill and a dot, e.g. 'upload.{check_id.split('.')[-1]}'; "
                            f"drills: {', '.join(drills)})")
    return said


def import_tracebacks(files: list[Path]) -> str:
    """The traceback of each check file that fails to import, from a child process (they are code)."""
    shown = []
    for path in files:
        code = ("import importlib.util, sys\nsys.path.insert(0, sys.argv[2])\n"
                "spec = importlib.util.spec_from_file_location(sys.argv[3], sys.argv[1])\n"
                "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n")
        try:
            done = subprocess.run([sys.executable, "-c", code, str(path), str(path.parent), path.stem],
                                  capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            shown.append(f"{path.name}: importing it took longer than 60 s")
            continue
        if done.returncode:
            shown.append(f"{path.name} fails to import:\n{done.stderr.strip()}")
    return "\n\n".join(shown)
