"""Starting the grading process under limits, and making sure nothing it started survives.

Every process of a run carries a random token in its environment. After the run, the
process group is killed, then any process still carrying the token (a learner's
`start_new_session=True` child, a double-forked daemon) is found in /proc and killed too.
The grader becomes a child subreaper on Linux so such orphans are reparented to it and reaped.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

TOKEN_VAR = "DOCCHAT_RUN_TOKEN"
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


def new_token() -> str:
    return secrets.token_hex(12)


def _load_libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded once here, not after a fork: a preexec function must not dlopen.
_LIBC = _load_libc()


def _prctl(option: int, value: int) -> None:
    if _LIBC is not None:
        try:
            _LIBC.prctl(option, value, 0, 0, 0)
        except AttributeError:
            pass


def become_subreaper() -> None:
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def non_dumpable() -> None:
    """No ptrace, no /proc/PID/mem, no core dump of this process for anyone of the same user."""
    _prctl(PR_SET_DUMPABLE, 0)


def die_with_parent() -> None:
    """Be killed when the parent dies, rather than be handed to (and able to signal) its parent."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _limit(kind: int, value: int) -> None:
    try:
        _, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))
    except (ValueError, OSError):
        pass


def limiter(memory_mb: int, file_mb: int):
    """A preexec function: caps heap memory, file size and core dumps; dies with its parent."""
    def apply() -> None:
        die_with_parent()
        # RLIMIT_DATA counts what a process actually allocates (heap and private mappings), not
        # reserved address space, so a browser or a thread pool is not mistaken for a hog.
        _limit(resource.RLIMIT_DATA, memory_mb << 20)
        _limit(resource.RLIMIT_FSIZE, file_mb << 20)
        _limit(resource.RLIMIT_CORE, 0)
    return apply


def grader_root() -> str:
    """The folder that holds the `grader` package, for the grading process's PYTHONPATH."""
    return str(Path(__file__).resolve().parents[2])


def child_env(token: str | None, extra_env: dict[str, str]) -> dict[str, str]:
    """The environment of a grading process: ours, minus pytest's, plus the run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(extra_env)
    env.update({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1",
                "MALLOC_ARENA_MAX": "2", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"})
    if token is not None:
        env[TOKEN_VAR] = token
    return env


class Spawned(subprocess.Popen):
    """A started grading process; `kill_group` ends it and its process group."""

    def kill_group(self) -> None:
        for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), self.kill):
            try:
                kill()
            except (ProcessLookupError, PermissionError, OSError):
                pass


def spawn(cmd: list[str], *, token: str, cwd: Path, pass_fds: tuple[int, ...],
          memory_mb: int, file_mb: int, extra_env: dict[str, str]) -> Spawned:
    return Spawned(
        cmd, cwd=cwd, env=child_env(token, extra_env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds, start_new_session=True,
        preexec_fn=limiter(memory_mb, file_mb))


class ExecLauncher:
    """Starts each grading process from scratch: `python -m grader.engine.examiner ARGS`.

    The launcher interface (also grader/engine/forkserver.py's `ForkServer`): `start(args, ...)`
    returns a process with `pid`, `stdout`, `stderr`, `poll()`, `wait(timeout)` and
    `kill_group()`, whose report channel is the inherited descriptor `channel_fd`.
    """

    def __init__(self) -> None:
        self._lent: dict[str, tuple[int, ...]] = {}

    def lend(self, fds: tuple[int, ...], var: str) -> None:
        """Hand these descriptors to the grading processes started from now on, named in `var`
        of their environment (as grader.engine.forkserver.ForkServer.lend)."""
        self._lent = {**self._lent, var: tuple(fds)}

    def start(self, args: list[str], *, channel_fd: int, token: str, cwd: Path, memory_mb: int,
              file_mb: int, extra_env: dict[str, str]) -> Spawned:
        cmd = [sys.executable, "-m", "grader.engine.examiner", *args, "--channel", str(channel_fd)]
        lent = {var: ",".join(map(str, fds)) for var, fds in self._lent.items() if fds}
        return spawn(cmd, token=token, cwd=cwd, pass_fds=(channel_fd, *(fd for fds in self._lent.values() for fd in fds)),
                     memory_mb=memory_mb, file_mb=file_mb, extra_env={**extra_env, **lent})


def _carrying(token: str) -> list[int]:
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def end_everything(proc: Spawned, token: str) -> None:
    """Kill the grading process, its group and every process that carries the run's token."""
    proc.kill_group()
    proc.wait()
    for _ in range(3):
        leftovers = _carrying(token)
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in leftovers:
            try:
                os.waitpid(pid, 0)  # ours to reap when we are their subreaper
            except (ChildProcessError, OSError):
                pass


# -- processes, found by parentage (the one /proc scanner) --------------------------------


def _stat_fields(pid: str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def parents() -> dict[int, int]:
    """pid -> parent pid, for every process this one can see."""
    found = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if len(fields) > 1:
                found[int(entry.name)] = int(fields[1])
    return found


def children(of: int | None = None) -> list[int]:
    me = os.getpid() if of is None else of
    return [pid for pid, parent in parents().items() if parent == me]


def descendants(root: int) -> list[int]:
    tree, found, todo = parents(), [], [root]
    while todo:
        current = todo.pop()
        kids = [pid for pid, parent in tree.items() if parent == current]
        found += kids
        todo += kids
    return found


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def end_new_children(before: set[int]) -> None:
    """Kill the children of this process that were not there `before`, and all below them.

    Only for a process that runs one grade at a time: as a child subreaper, whatever the grade
    orphaned (a sandbox whose examiner was killed, a double-forked daemon) is our child now,
    found by parentage rather than by anything the learner's code could drop.
    """
    for _ in range(20):
        new = [pid for pid in children() if pid not in before]
        if not new:
            return
        for pid in new:
            for below in descendants(pid):
                kill(below)
            kill(pid)
        for pid in new:
            try:
                os.waitpid(pid, 0)
            except (ChildProcessError, OSError):
                pass


def end_descendants() -> None:
    """Kill every process below this one (a subreaper: orphans below it stay below it)."""
    end_new_children(set())


def end_tree(process: subprocess.Popen, also: list[int] = ()) -> None:
    """Kill a process we started and every process under it, then reap them all, and `also`
    (processes that were below it, and may have outlived it as our children)."""
    killed: set[int] = set()
    for _ in range(20):
        below = descendants(process.pid)
        kill(process.pid)
        for pid in below:
            kill(pid)
        killed.update(below)
        if not below:
            break
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    reap(killed | set(also), dying=killed | {process.pid})


def reap(pids: set[int], dying: set[int] = frozenset(), seconds: float = 2.0) -> None:
    """Wait until each of `pids`, processes that were below one of our children, is reaped.

    As a child subreaper we inherit each when the process above it dies, and then it is ours to
    reap: left alone, it stays a zombie for as long as we run (a `--watch` session, a batch).
    One whose parent is not us nor among the `dying` (reaped by its own parent, or by init) is
    none of ours.
    """
    pending, end = set(pids), time.monotonic() + seconds
    while pending:
        for pid in list(pending):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    pending.discard(pid)
            except ChildProcessError:  # not ours, or not yet: its parent is still dying
                fields = _stat_fields(str(pid))
                if len(fields) < 2 or int(fields[1]) not in dying | pending:
                    pending.discard(pid)
        if not pending or time.monotonic() > end:
            return
        time.sleep(0.002)
