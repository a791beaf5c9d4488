"""`docchat-grade dev check` (or `python -m grader.dev check`): is the workbook consistent?

For contributors, in well under a second, without grading anything. A drill is its own files
(skeleton, solution, lesson notebook, checks, fakes, mutants), one `[[drill]]` entry in
grader/manifest.toml and its rows in the docs; this says which of them is missing or out of
step, rule by rule:

- ids: the manifest's check ids and the `@check(...)` ids of grader/checks/ match both ways,
  and every checks, fakes and mutants module belongs to a manifest drill;
- skeleton: drills/<drill>.py exists, holds `# TODO:`s and defines each seam;
- solution: solutions/<drill>.py exists, holds no `# TODO` and defines each seam;
- lesson: the drill's notebook exists and has a heading for each check's `lesson`; the
  quiz questions it asks are those of its bank, grader/quiz/<notebook's name>.json;
- fakes: grader/fakes/<drill>.py exists;
- mutants: tests/mutants/<drill>.py has a mutant for each check (tests/test_mutants.py
  proves each is caught), and names no check the manifest lacks;
- fingerprints: grader/skeletons.json is current (`python -m grader.skeletons` records it);
- docs: docs/contract.md has a row for each check id, the README's table a row for each drill.

Files are read, never imported: a broken module is reported, not raised.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader import manifest, skeletons
from grader.report import EXIT_USAGE

ROOT = Path(__file__).resolve().parent.parent  # the source tree this grader came from


@dataclass(frozen=True)
class Tree:
    """The workbook's source tree, and its manifest as it stands on disk."""

    root: Path
    manifest: manifest.Manifest

    @classmethod
    def at(cls, root: Path) -> Tree:
        with (root / "grader" / "manifest.toml").open("rb") as f:
            return cls(root, manifest.parse(tomllib.load(f)))

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def shown(self, path: Path) -> str:
        return str(path.relative_to(self.root))


Problems = Iterator[str]


def parsed(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def string_args(tree: ast.Module, callee: Callable[[ast.expr], bool], keyword: str, position: int) -> list[str]:
    """The string constants passed (at `position`, or as `keyword=`) to calls whose function matches."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not callee(node.func):
            continue
        args = node.args[position:position + 1] + [k.value for k in node.keywords if k.arg == keyword]
        found += [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def named(*names: str) -> Callable[[ast.expr], bool]:
    """Matches `check(...)` and `pytest.mark.check(...)` alike: the called name's last part."""
    return lambda func: (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) in names


def module_names(tree: ast.Module) -> set[str]:
    """The names a module defines at its top level."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def check_ids(tree: Tree) -> Problems:
    built = {c.id for d in tree.manifest.drills for c in d.checks}
    decorated: dict[str, str] = {}
    for path in sorted(tree.path("grader", "checks").glob("check_*.py")):
        drill = path.stem.removeprefix("check_")
        if drill not in tree.manifest.names:
            yield f"{tree.shown(path)}: no drill {drill!r} in the manifest"
        module = parsed(path)
        if module is None:
            yield f"{tree.shown(path)}: cannot be parsed"
            continue
        for check_id in string_args(module, named("check"), "id", 0):
            decorated[check_id] = tree.shown(path)
    for check_id in sorted(built - set(decorated)):
        yield f"{check_id}: in the manifest, but no @check({check_id!r}) in grader/checks/"
    for check_id in sorted(set(decorated) - built):
        yield f"{check_id}: @check in {decorated[check_id]}, but not in the manifest"
    for folder in (("grader", "fakes"), ("tests", "mutants")):
        for path in sorted(tree.path(*folder).glob("*.py")):
            if path.stem != "__init__" and path.stem not in tree.manifest.names:
                yield f"{tree.shown(path)}: no drill {path.stem!r} in the manifest"


def drill_files(tree: Tree, folder: str, todo_problem: Callable[[str], str]) -> Problems:
    """Each drill's file in `folder` exists, parses, passes `todo_problem` ('' when fine) and defines its seams."""
    for drill in tree.manifest.drills:
        path = tree.path(folder, f"{drill.name}.py")
        module = parsed(path) if path.is_file() else None
        if module is None:
            yield f"{tree.shown(path)}: {'cannot be parsed' if path.is_file() else 'missing'}"
            continue
        if problem := todo_problem(path.read_text()):
            yield f"{tree.shown(path)}: {problem}"
        for seam in sorted(set(drill.seams) - module_names(module)):
            yield f"{tree.shown(path)}: the seam {seam} is not defined at module level"


def skeleton(tree: Tree) -> Problems:
    return drill_files(tree, "drills", lambda text: "" if "# TODO:" in text
                       else "no `# TODO:` marks what the learner completes")


def solution(tree: Tree) -> Problems:
    return drill_files(tree, "solutions", lambda text: "a solution holds no `# TODO`" if "# TODO" in text else "")


def markdown_and_code(notebook: Path) -> tuple[list[str], list[str]]:
    """The sources of a notebook's markdown cells and of its code cells."""
    cells = json.loads(notebook.read_text())["cells"]
    sources = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"], c["cell_type"])
               for c in cells]
    return [t for t, kind in sources if kind == "markdown"], [t for t, kind in sources if kind == "code"]


def lesson(tree: Tree) -> Problems:
    for drill in tree.manifest.drills:
        path = tree.path(drill.lesson)
        try:
            markdown, code = markdown_and_code(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            yield f"{drill.lesson}: not a readable notebook ({type(exc).__name__})"
            continue
        sections = {line.lstrip("#").strip() for text in markdown for line in text.splitlines()
                    if re.match(r"#{1,6} ", line)}
        for check in drill.checks:
            if check.lesson not in sections:
                yield f"{check.id}: its lesson {check.lesson!r} is not a heading of {drill.lesson}"
        bank_path = tree.path("grader", "quiz", f"{path.stem}.json")
        try:
            bank = set(json.loads(bank_path.read_text()))
        except (OSError, ValueError):
            bank = set()
        asked = set(re.findall(r'check_answer\("([\w.]+)"', "\n".join(code)))
        for qid in sorted(asked - bank):
            yield f"{drill.lesson}: asks the quiz question {qid}, which is not in {tree.shown(bank_path)}"
        for qid in sorted(bank - asked):
            yield f"{tree.shown(bank_path)}: holds {qid}, which {drill.lesson} never asks"
    lessons = {Path(d.lesson).stem for d in tree.manifest.drills}
    for bank_path in sorted(tree.path("grader", "quiz").glob("*.json")):
        if bank_path.stem not in lessons:
            yield f"{tree.shown(bank_path)}: no drill's lesson is notebooks/{bank_path.stem}.ipynb"


def fakes(tree: Tree) -> Problems:
    for drill in tree.manifest.drills:
        if not tree.path("grader", "fakes", f"{drill.name}.py").is_file():
            yield f"grader/fakes/{drill.name}.py: missing (the drill's seams and fixture)"


def mutants(tree: Tree) -> Problems:
    for drill in tree.manifest.drills:
        path = tree.path("tests", "mutants", f"{drill.name}.py")
        module = parsed(path) if path.is_file() else None
        if module is None:
            yield f"{tree.shown(path)}: {'cannot be parsed' if path.is_file() else 'missing'}"
            continue
        caught = set(string_args(module, named("Mutant"), "catches", 1))
        for check in drill.checks:
            if check.id not in caught:
                yield f"{check.id}: no mutant in {tree.shown(path)} is caught by it"
        for check_id in sorted(caught - {c.id for c in drill.checks}):
            yield f"{tree.shown(path)}: a mutant names {check_id}, which is not a check of {drill.name}"


def fingerprints(tree: Tree) -> Problems:
    path = tree.path("grader", "skeletons.json")
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        recorded = {}
    for drill in tree.manifest.drills:
        skeleton_path = tree.path("drills", f"{drill.name}.py")
        if skeleton_path.is_file() and recorded.get(drill.name) != skeletons.fingerprint(skeleton_path.read_bytes()):
            yield (f"{tree.shown(path)}: {drill.name}'s fingerprint is not its skeleton's "
                   "(record it: python -m grader.skeletons)")


def docs(tree: Tree) -> Problems:
    contract = tree.path("docs", "contract.md").read_text()
    readme = tree.path("README.md").read_text()
    for drill in tree.manifest.drills:
        if f"| `drills/{drill.name}.py` |" not in readme:
            yield f"README.md: no row for drills/{drill.name}.py in the drills table"
        for check in drill.checks:
            if f"| {check.id} |" not in contract:
                yield f"docs/contract.md: no row for {check.id}"


RULES: dict[str, Callable[[Tree], Problems]] = {
    "ids": check_ids, "skeleton": skeleton, "solution": solution, "lesson": lesson, "fakes": fakes,
    "mutants": mutants, "fingerprints": fingerprints, "docs": docs}


def problems(root: Path = ROOT) -> dict[str, list[str]]:
    """Each rule's problems (an empty list: the rule holds)."""
    tree = Tree.at(root)
    return {name: list(rule(tree)) for name, rule in RULES.items()}


def check_command(args: argparse.Namespace) -> int:
    start = time.monotonic()
    found = problems(Path(args.root).resolve())
    for name, said in found.items():
        print(f"{'✓' if not said else '✗'} {name}")
        for problem in said:
            print(f"    {problem}")
    count = sum(map(len, found.values()))
    print(f"{count} problem(s) in {args.root}, {time.monotonic() - start:.2f} s" if count
          else f"the workbook is consistent ({time.monotonic() - start:.2f} s)")
    return 1 if count else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="docchat-grade dev", description="Contributor tools.")
    sub = p.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="is every drill complete and consistent? (exit 1 if not)")
    check.add_argument("--root", default=str(ROOT), help="the source tree (default: this grader's)")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    return check_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
