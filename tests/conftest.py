"""Shared helpers for the workbook's own tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.api import grade

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
DRILLS = ROOT / "drills"

pytest_plugins = ["pytester"]


def wait_for(ready: Callable[[], object], timeout: float = 20.0, what: str = "the condition") -> None:
    """Poll `ready` until it holds; fail the test (never hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def interruptible() -> None:
    """A preexec_fn for a process a test stops with SIGINT, as Ctrl-C would: SIGINT's default
    action restored, which a test run started in the background (`cmd &` in a script) inherits
    as ignored, and with it every process it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def running_with(marker: str | Path) -> list[int]:
    """The pids of processes whose command line names `marker`."""
    needle, found = str(marker).encode(), []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def boot_ticks() -> int:
    """Now, in clock ticks since boot: what /proc/PID/stat counts a process's start in (unlike
    pids, which wrap around, often, where pid_max is 32768)."""
    return int(float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK"))


def zombie_children(since: int = 0) -> list[tuple[int, str]]:
    """(pid, name) of this process's children started at or after `since` (boot_ticks()) that
    have ended and not been reaped."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            name, rest = (proc / "stat").read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()  # from the third field of stat(5): state, ppid, ... starttime (22nd)
        if fields[0] == "Z" and int(fields[1]) == os.getpid() and int(fields[19]) >= since:
            found.append((int(proc.name), name.split("(", 1)[1]))
    return found


@pytest.fixture
def grade_source(tmp_path: Path):
    """Grade a drill given as source text; returns the JSON report as a dict."""
    def run(source: str, drill: str, **kwargs) -> dict:
        path = tmp_path / f"{drill}.py"
        path.write_text(source)
        return grade(path, **kwargs)
    return run
