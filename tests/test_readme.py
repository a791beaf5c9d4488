"""The README's quick start stays true, and CI runs exactly its test command."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return block.strip().splitlines()


def test_quick_start_is_exactly_two_commands():
    install_and_grade, install_and_test = quick_start()
    assert "pip install -e ." in install_and_grade and "docchat-grade solutions/upload.py" in install_and_grade
    assert '".[test]"' in install_and_test and "pytest" in install_and_test


def test_ci_runs_exactly_the_readme_test_command():
    extract = subprocess.run(
        ["bash", "-c", "awk '/^## Quick start/{q=1} q&&/^```sh/{f=1;next} f&&/^```/{exit} f' README.md | sed -n 2p"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    assert extract.stdout.strip() == quick_start()[1]
    assert extract.args[2] in (ROOT / ".ci" / "run").read_text()


def test_documents_linked_from_the_readme_exist():
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (ROOT / link).exists(), link


# What `docchat-grade batch` writes into its --out folder: named in the README, never in the repository.
OUTPUTS = {"grades/", "cohort.md", "gradebook.csv", "results.json", "run.json", "junit.xml"}


def referenced_paths(text: str) -> list[str]:
    """Repository paths named in backticks: `docs/contract.md`, `drills/`, `DRILLS.md`.

    A reference is one word holding a `/` or ending in a file suffix; routes (`/chat`),
    templates (`check_<drill>.py`) and commands (anything with a space) are not paths.
    """
    words = re.findall(r"`([^`\s]+)`", text)
    return [w for w in words if ("/" in w or re.search(r"\.(md|py|ipynb|toml|json|csv|xml)$", w))
            and not w.startswith("/") and "<" not in w and "{" not in w and w not in OUTPUTS]


def test_paths_named_in_backticks_exist():
    paths = referenced_paths(README)
    assert "docs/contract.md" in paths and "drills/upload.py" in paths
    assert [p for p in paths if not (ROOT / p).exists()] == []


def test_a_missing_path_in_backticks_is_caught():
    assert referenced_paths("the contract in `DRILLS.md`, routes like `/chat`, `check_<drill>.py`") == ["DRILLS.md"]
