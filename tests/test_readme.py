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
