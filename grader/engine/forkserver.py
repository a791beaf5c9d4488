"""A warm fork server: grading processes without paying for the imports every time.

`python -m grader.engine.examiner` spends most of a short grade importing FastAPI, starlette's
TestClient and pytest. A fork server is a single-threaded process that imports them once,
then forks a fresh grading process per request. The forked process does what a freshly
started one does (new session, rlimits, its own stdout/stderr/report pipes, the run's
environment) and then runs `grader.engine.examiner.main`; the learner's code only ever runs there.

The parent side (`ForkServer.start`) returns a `ForkedProcess` with the small part of
`subprocess.Popen` that grader/engine/runner.py uses, so the runner watches it exactly as it
watches a started process. The server handles one grading process at a time; it is a child
subreaper, and when a grading process ends it kills whatever that process left behind.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grader import browser
from grader.engine import sandbox
from grader.engine.runner import GraderBroke

# Imported before forking. A module missing here still works; it is just imported per grade.
WARM_MODULES = (
    "asyncio", "sqlite3", "json", "uuid", "email.parser", "tracemalloc", "concurrent.futures",
    "pydantic", "pydantic.v1", "fastapi", "fastapi.testclient", "fastapi.responses",
    "fastapi.security", "fastapi.staticfiles", "starlette.testclient", "starlette.background",
    "anyio", "anyio._backends._asyncio", "anyio.from_thread", "python_multipart", "multipart",
    "httpx2", "pytest", "_pytest.config", "grader.engine.examiner", "grader.engine.plugin", "grader.fixtures",
)
MESSAGE_MAX = 1 << 20
FDS_MAX = 16  # descriptors a spawn request may carry: stdout, stderr, the channel, and every lent one


# -- the parent's side ------------------------------------------------------------------


class ForkServer:
    """A warm process that forks grading processes; one grading process at a time."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        """`env`: added to the environment of the server and of every grading process it forks."""
        self.env = dict(env or {})
        self._sock: socket.socket | None = None
        self._server: subprocess.Popen | None = None
        self._stopped = False
        self._lent: dict[str, tuple[int, ...]] = {}

    def lend(self, fds: tuple[int, ...], var: str = browser.LENT_VAR) -> None:
        """Hand these descriptors to the grading processes started from now on, named in `var`
        of their environment (a browser's pipe ends; a lane's sandbox template)."""
        self._lent = {**self._lent, var: tuple(fds)}

    def warm_up(self) -> None:
        """Start the server now, if it is not running (else the next `start` does)."""
        self._ensure_running()

    def _ensure_running(self) -> socket.socket:
        if self._stopped:
            raise Stopped("the fork server was stopped")
        if self._sock is not None and self._server.poll() is None:
            return self._sock
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = sandbox.child_env(None, {**self.env, "PYTHONPATH": sandbox.grader_root()})
        self._server = subprocess.Popen(
            [sys.executable, "-m", "grader.engine.forkserver", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=env, cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._sock = ours
        if _receive(ours).get("event") != "warm":
            self.close()
            raise GraderBroke("the grader's fork server did not start")
        return ours

    def start(self, args: list[str], *, channel_fd: int, token: str, cwd: Path, memory_mb: int,
              file_mb: int, extra_env: dict[str, str]) -> ForkedProcess:
        """Fork a grading process running `grader.engine.examiner` with `args` (see sandbox.ExecLauncher)."""
        sock = self._ensure_running()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        lent = {var: fds for var, fds in self._lent.items() if fds}
        request = {"cmd": "spawn", "args": args, "cwd": str(cwd), "env": sandbox.child_env(token, {**self.env, **extra_env}),
                   "memory_mb": memory_mb, "file_mb": file_mb, "lent": {var: len(fds) for var, fds in lent.items()}}
        try:
            socket.send_fds(sock, [json.dumps(request).encode()],
                            [out_w, err_w, channel_fd, *(fd for fds in lent.values() for fd in fds)])
        finally:
            os.close(out_w)
            os.close(err_w)
        reply = _receive(sock)
        while "exit" in reply:  # left over from a grading process nobody waited for
            reply = _receive(sock)
        if "pid" not in reply:
            os.close(out_r)
            os.close(err_r)
            raise GraderBroke(f"the grader's fork server could not start a grading process: {reply}")
        return ForkedProcess(sock, reply["pid"], open(out_r, "rb", buffering=0),
                             open(err_r, "rb", buffering=0))

    def stop(self) -> None:
        """From any thread: end the running grading process; start no other one."""
        self._stopped = True
        server = self._server
        if server is not None and server.poll() is None:
            server.terminate()

    def close(self) -> None:
        """Stop the server; it kills any grading process still running as it goes."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._server is not None:
            try:
                self._server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stopped(RuntimeError):
    """The fork server was stopped (the batch run is being interrupted)."""


class ForkedProcess:
    """The part of `subprocess.Popen` the runner uses, for a process the server forked."""

    def __init__(self, sock: socket.socket, pid: int, stdout: Any, stderr: Any) -> None:
        self._sock, self.pid, self.stdout, self.stderr = sock, pid, stdout, stderr
        self.returncode: int | None = None

    def _take(self, timeout: float | None) -> None:
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if ready and self.returncode is None:
            message = _receive(self._sock)
            self.returncode = message["exit"] if "exit" in message else self._end_orphaned()

    def _end_orphaned(self) -> int:
        """The server died (the learner's code can kill its parent): its grading process is ours now.

        As a child subreaper (grader/engine/runner.py makes us one) we inherited the process, so its
        pid cannot have been reused: kill it and reap it.
        """
        for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                kill()
            except OSError:
                pass
        try:
            return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        except ChildProcessError:
            return -signal.SIGKILL

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("grading process", timeout)
            self._take(left)
        return self.returncode

    def kill_group(self) -> None:
        """Ask the server to kill the process and its group (it alone knows the pid is still its)."""
        if self.returncode is None:
            try:
                self._sock.send(json.dumps({"cmd": "kill"}).encode())
            except OSError:
                self._take(None)  # the server is gone: the process is ours to end


def _receive(sock: socket.socket) -> dict:
    try:
        data = sock.recv(MESSAGE_MAX)
    except OSError:
        return {}
    return json.loads(data) if data else {}


# -- the server's side ------------------------------------------------------------------


def warm() -> None:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:
                pass
        import _pytest.config as pytest_config
        for plugin in pytest_config.default_plugins:
            try:
                importlib.import_module(f"_pytest.{plugin}")
            except Exception:
                pass
    _warm_checks()
    _skip_absent_entry_points()
    # Everything imported so far lives as long as the server: keep it out of every future
    # garbage collection (cheaper collections in the children, and fewer copied pages).
    gc.collect()
    gc.freeze()


def _warm_checks() -> None:
    """Import the drills' fixtures and checks as a grade will, and read the manifest, once.

    pytest imports `grader/checks/check_<drill>.py` as the top-level module `check_<drill>`
    (its folder prepended to sys.path); one already in sys.modules from the same file is reused.
    """
    import importlib

    from grader import manifest
    from grader.engine import examiner as child, plugin

    manifest.load()
    sys.path.insert(0, str(child.CHECKS_DIR))
    try:
        for name in [*plugin.pytest_plugins, "grader.live_server",
                     *(f"check_{drill}" for drill in manifest.load().names)]:
            try:
                importlib.import_module(name)
            except Exception:
                pass
    finally:
        sys.path.remove(str(child.CHECKS_DIR))


def _skip_absent_entry_points() -> None:
    """Let pytest skip its scan of every installed package for `-p`/`pytest_plugins` names.

    pytest looks each plugin name up among the `pytest11` entry points of all installed
    distributions, reading their metadata from disk every time (about 60 ms per grade here).
    The installed packages do not change during a batch, so the names that are entry points
    are listed once; a lookup of any other name finds nothing, and is skipped.
    """
    from importlib import metadata

    from _pytest.config import PytestPluginManager

    names = {ep.name for ep in metadata.entry_points(group="pytest11")}
    lookup = PytestPluginManager.load_setuptools_entrypoints

    def load_setuptools_entrypoints(self, group: str, name: str | None = None) -> int:
        if group == "pytest11" and name is not None and name not in names:
            return 0
        return lookup(self, group, name=name)

    PytestPluginManager.load_setuptools_entrypoints = load_setuptools_entrypoints


def serve(sock: socket.socket) -> None:
    sandbox.become_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides: EOF on `sock` or SIGTERM
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    terminated = []
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))
    active: int | None = None
    _send(sock, {"event": "warm"})
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        active = _reap(sock, active)
        if terminated:
            data, fds = b"", []
        elif sock not in ready:
            continue
        else:
            try:
                data, fds, flags, _ = socket.recv_fds(sock, MESSAGE_MAX, FDS_MAX)
            except ConnectionResetError:
                data, fds, flags = b"", [], 0
        if not data:  # the parent is gone, or stops us: end everything and stop
            _kill(active)
            _end_orphans()
            return
        request = json.loads(data)
        if request["cmd"] == "spawn" and (flags & socket.MSG_CTRUNC or len(fds) != 3 + sum(request["lent"].values())):
            # a descriptor lost on the way: the grading process would go without what was lent it
            for fd in fds:
                os.close(fd)
            _send(sock, {"error": f"{len(fds)} descriptors arrived for {request['lent']}"})
        elif request["cmd"] == "spawn":
            pid = _fork(request, fds, close=(sock.fileno(), wake_r, wake_w))
            for fd in fds:
                os.close(fd)
            active = pid if pid else None
            _send(sock, {"pid": pid} if pid else {"error": "fork failed"})
        elif request["cmd"] == "kill":
            _kill(active)


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the parent is gone: the next read of `sock` says so


def _reap(sock: socket.socket, active: int | None) -> int | None:
    """Collect ended children; when the grading process has ended, clean up and report it."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return active
        if pid == 0:
            return active
        if pid == active:
            _end_orphans()
            _send(sock, {"exit": os.waitstatus_to_exitcode(status)})
            active = None


def _kill(pid: int | None) -> None:
    if pid is None:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass


def _end_orphans() -> None:
    """Kill every process the grading process left behind: as a subreaper, they are ours."""
    sandbox.end_descendants()


def _fork(request: dict, fds: list[int], close: tuple[int, ...]) -> int | None:
    """Fork the grading process; return its pid once it is in its own session."""
    ready_r, ready_w = os.pipe()
    server = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(ready_r)
        os.close(ready_w)
        return None
    if pid == 0:
        os.close(ready_r)
        _become_grading_process(request, fds, close, ready_w, server)
    os.close(ready_w)
    os.read(ready_r, 1)  # the child is in its own session (or dead): safe to report its pid
    os.close(ready_r)
    return pid


def _become_grading_process(request: dict, fds: list[int], close: tuple[int, ...], ready: int,
                            server: int) -> None:
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:
            os.close(fd)
        os.setsid()
        # Learner code that kills its parent (this server) ends its own grading process with it,
        # instead of being handed to the batch process, which it could then kill too.
        sandbox.die_with_parent()
        if os.getppid() != server:
            os._exit(70)
        sandbox.limiter(request["memory_mb"], request["file_mb"])()
        out, err, channel, *lent = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((devnull, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd in lent:
            os.set_inheritable(fd, False)  # the grader's alone, not the learner's subprocesses'
        for var, count in request.get("lent", {}).items():
            os.environ[var] = ",".join(map(str, lent[:count]))
            lent = lent[count:]
        sys.argv = ["grader.engine.examiner", *request["args"]]
        sys.path[0] = request["cwd"]  # as for `python -m grader.engine.examiner` started in cwd
        os.write(ready, b"1")
        os.close(ready)
        from grader.engine import examiner as child

        code = child.main([*request["args"], "--channel", str(channel)])
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code if isinstance(code, int) else 70)


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    warm()
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
