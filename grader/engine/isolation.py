"""Where the learner's code runs: the sandbox backends, and the app host template inside one.

Backends, strongest first, chosen at run time and named in every report (`isolation`):
- `bubblewrap`: the template runs under `bwrap` with no network, its own pid, IPC and
  mount namespaces, a cleared environment, Python and the grader's engine read-only (the
  checks and fakes hidden), the grade's scratch folder the only writable place besides a
  size-capped /tmp; everything in it dies with the examiner.
- `landlock`: each app host confines itself (grader.engine.confine: Landlock for files, TCP
  and signals, seccomp for other sockets and ptrace) before it imports the learner's file.
- `none`: no sandbox (macOS, old kernels): fine for a learner's own file, refused by batch
  grading unless `--unsandboxed`.
Every backend also gets the app host's own limits: address space, file size, open files.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from grader.engine import sandbox

if TYPE_CHECKING:
    from grader.engine import remote

BACKENDS = ("bubblewrap", "landlock", "none")
TMP_BYTES = 256 << 20
ENV_KEEP = ("LANG", "LC_ALL", "TZ")
NOBODY = 65534
READ_ONLY_ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
                 "/etc/nsswitch.conf", "/etc/mime.types", "/etc/os-release")


class SandboxUnavailable(RuntimeError):
    """The backend asked for cannot run here."""


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


@functools.cache
def available() -> tuple[str, ...]:
    """The backends that work on this machine, strongest first ('none' always does)."""
    found = []
    if _bubblewrap_works():
        found.append("bubblewrap")
    from grader.engine import confine

    if confine.available():
        found.append("landlock")
    return (*found, "none")


def choose(wanted: str | None = None) -> str:
    """`wanted` if it works here (SandboxUnavailable if not); else the strongest that does."""
    if wanted in (None, "", "auto"):
        return available()[0]
    if wanted not in BACKENDS:
        raise SandboxUnavailable(f"unknown sandbox {wanted!r} (one of {', '.join(BACKENDS)})")
    if wanted not in available():
        raise SandboxUnavailable(f"the {wanted} sandbox does not work on this machine")
    return wanted


def _bubblewrap_works() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
        return False
    try:
        # --as-pid-1: no init process of bwrap's own, which its outer process does not wait for
        # and which a subreaper up the tree would then inherit as a zombie
        probe = subprocess.run([*_bwrap_args(Path("/")), "--as-pid-1", "--", "true"], capture_output=True,
                               timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _python_paths() -> list[str]:
    """Python itself and its installed packages: never the working folder or another sys.path entry."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    paths = set(roots)
    paths.update(p for p in sys.path if p and os.path.isabs(p) and Path(p).is_dir() and (
        any(p.startswith(root + os.sep) for root in roots) or p.rstrip(os.sep).endswith(("site-packages", "dist-packages"))))
    return sorted(paths)


def _bwrap_args(scratch: Path) -> list[str]:
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if os.geteuid() == 0:  # nobody inside, and without any capability outside its namespaces
        args += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    # First the fresh /tmp, /proc and /dev (its /dev/shm a capped tmpfs of its own): a bind below
    # them made before them would be hidden.
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/dev/shm",
             "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in (*READ_ONLY_ETC, *_python_paths()):
        args += ["--ro-bind-try", path, path]
    grader = package_dir()
    args += ["--ro-bind", str(grader), str(grader)]
    for hidden in ("checks", "fakes"):  # the examiner's, never the learner's to read
        if (grader / hidden).is_dir():
            args += ["--tmpfs", str(grader / hidden), "--remount-ro", str(grader / hidden)]
    if scratch != Path("/"):
        args += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    # The sandbox's own root and /dev (a tmpfs, emptied by nothing): nothing of a grade kept there.
    return [*args, "--remount-ro", "/dev", "--remount-ro", "/"]


def environment(scratch: Path, seed: str = "", memory_mb: int = 0) -> dict[str, str]:
    """The app host's whole environment: an allow-list, nothing of the grader's or the CI's."""
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch / "tmp"),
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2",
                "PYTHONPATH": str(package_dir().parent), "NO_COLOR": "1"})
    if seed:
        env["DOCCHAT_SEED"] = seed
    if memory_mb:
        env["DOCCHAT_MEMORY_MB"] = str(memory_mb)  # for the learner's "more than N MiB" message
    return env


SCRATCH_VAR = "DOCCHAT_SCRATCH"  # where scratch folders go, if set
MEMORY_DISK = "/dev/shm"
MEMORY_DISK_FREE = 4 << 30  # used only with this much room, so that no grade runs out of it


def scratch_parent() -> str | None:
    """Where grades' scratch folders go: $DOCCHAT_SCRATCH; else a roomy tmpfs, where the
    learner's fsyncs (SQLite commits, Huey's queue) cost nothing; else the system's temp folder."""
    if os.environ.get(SCRATCH_VAR):
        return os.environ[SCRATCH_VAR]
    try:
        room = os.statvfs(MEMORY_DISK)
        if room.f_bavail * room.f_frsize >= MEMORY_DISK_FREE and os.access(MEMORY_DISK, os.W_OK):
            return MEMORY_DISK
    except OSError:
        pass
    return None


def new_scratch(prefix: str, inside: Path | None = None) -> Path:
    """A fresh, private scratch folder (in `inside`, else in `scratch_parent()`, named after this
    process, where the folders of graders that were killed are swept away first)."""
    import tempfile

    if inside is not None:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=inside))
    parent = scratch_parent() or tempfile.gettempdir()
    _sweep(Path(parent))
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


STALE_S = 60.0


def _sweep(parent: Path) -> None:
    """Remove the scratch folders of grader processes that no longer run (killed: nothing of
    theirs could clean up), once they are a minute old."""
    import re
    import time

    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        found = re.fullmatch(r"docchat-(?:lane|grade)-(\d+)-\w+", entry.name)
        if not found or int(found[1]) == os.getpid():
            continue
        try:
            if time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_S or not entry.is_dir(
                    follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            os.kill(int(found[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def usage(folder: Path, most_entries: int) -> tuple[int, int]:
    """(bytes stored, entries) below `folder`, symlinks not followed; counting stops past
    `most_entries` (a folder of millions of files is over any limit, and costs time to count)."""
    stored, entries, todo = 0, 0, [str(folder)]
    while todo and entries <= most_entries:
        try:
            with os.scandir(todo.pop()) as found:
                for entry in found:
                    entries += 1
                    info = entry.stat(follow_symlinks=False)
                    stored += info.st_blocks * 512  # what it takes up: a sparse file counts for its data
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
        except OSError:
            continue
    return stored, entries


LANE_VAR = "DOCCHAT_TEMPLATE"  # "BACKEND,PID" in an examiner's environment: its lane's template
LANE_FD_VAR = "DOCCHAT_TEMPLATE_FD"  # and the descriptor of its control socket, lent
WARM_S = 60.0  # how long a new template may take to start Python and FastAPI


class Template:
    """The warm app host template, in its sandbox; forks one app host per load.

    Started by an examiner for its one grade, or by a batch lane (grader.engine.isolation.Lane)
    and lent to each grade's examiner, which adopts it (`Template.lent()`).
    """

    process: subprocess.Popen | None = None
    pid: int | None = None  # the sandbox's outer pid, for translating the app hosts' pids
    _info: int | None = None  # bwrap's info pipe (see _sandbox_init)
    answered = False  # whether it has answered a reset: it is warm

    def __init__(self, backend: str, scratch: Path, *, memory_mb: int, file_mb: int, seed: str = "",
                 preload: tuple[str, ...] = ()) -> None:
        self.backend, self.scratch = backend, scratch
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [sys.executable, "-m", "grader.engine.apphost", "--control", str(theirs.fileno()),
                   "--backend", backend, "--memory-mb", str(memory_mb), "--file-mb", str(file_mb)]
        if seed:
            command += ["--seed", seed]
        if preload:
            command += ["--preload", ",".join(preload)]
        passed = [theirs.fileno()]
        if backend == "bubblewrap":
            # bwrap names the sandbox's init (its child) there: we must reap that process, since its
            # parent may end before it does and leave it to us, the subreaper, as a zombie
            self._info, info = os.pipe()
            os.set_blocking(self._info, False)
            passed.append(info)
            command = [*_bwrap_args(scratch), "--info-fd", str(info), "--", *command]
        try:
            self.process = subprocess.Popen(
                command, cwd=scratch, env=environment(scratch, seed, memory_mb), pass_fds=passed,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=_stderr(),
                start_new_session=True)  # it ends, and ends all below it, when the examiner's socket closes
        finally:
            theirs.close()
            if self._info is not None:
                os.close(info)
        self.control = ours
        self.pid = self.process.pid
        self._spawning = threading.Lock()

    @classmethod
    def lent(cls) -> Template | None:
        """The template a lane lent this examiner (LANE_VAR), or None when none was lent.
        One named but not received is the grader's bug: raised, not replaced by a cold one."""
        if LANE_VAR not in os.environ:
            return None
        try:
            backend, pid = os.environ[LANE_VAR].split(",")
            fd = os.environ[LANE_FD_VAR]
            template = cls.__new__(cls)
            template.backend, template.scratch, template.pid = backend, None, int(pid)
            template.control = socket.socket(fileno=int(fd))
            template._spawning = threading.Lock()
        except (KeyError, ValueError, OSError) as exc:
            raise RuntimeError(f"the lane's sandbox template was lent but did not arrive: {exc!r}") from None
        return template

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def reset(self, seconds: float = 5.0) -> bool:
        """Between two grades: end every process of the last one and empty the sandbox's /tmp.
        True once the template answers (so, on a new one, once it is warm)."""
        from grader.engine.apphost import RESET

        try:
            with self._spawning:
                self.control.settimeout(seconds)
                self.control.sendall(RESET)
                self.answered = self._answered_reset()
                return self.answered
        except OSError:
            return False
        finally:
            try:
                self.control.settimeout(None)
            except OSError:
                pass

    def _answered_reset(self) -> bool:
        """Read up to the reset's "r". An examiner killed halfway through a spawn leaves that
        spawn's answer (an app host's pid and a newline) unread before it: skip it."""
        while True:
            chunk = self.control.recv(64)
            head, found, _ = chunk.partition(b"r")
            if not chunk or head.strip(b"0123456789\n"):
                return False
            if found:
                return True

    def spawn(self, cwd: Path, on_gone=None) -> remote.AppHost:
        """A fresh app host working in `cwd` (inside the scratch folder). A template still warming
        up answers once it is warm."""
        # remote (and asyncio with it) is imported only when needed: an examiner starts its
        # template before anything heavy is imported
        from grader.engine import remote

        try:
            return self._spawn(cwd, on_gone)
        except (OSError, ValueError) as exc:
            raise remote.AppHostGone("the sandbox that runs your code stopped (did your code kill its "
                                     f"parent process?): {exc}") from None

    def _spawn(self, cwd: Path, on_gone=None) -> remote.AppHost:
        from grader.engine import remote

        with self._spawning:  # one exchange at a time on the control socket (spares spawn in threads)
            return self._spawn_now(cwd, remote, on_gone)

    def _spawn_now(self, cwd: Path, remote, on_gone) -> remote.AppHost:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if PASSCRED:  # the kernel names the sender of the handshake, by its pid as seen here
            ours.setsockopt(socket.SOL_SOCKET, PASSCRED, 1)
        try:
            socket.send_fds(self.control, [str(cwd).encode()], [theirs.fileno()])
        finally:
            theirs.close()
        line = b""
        while not line.endswith(b"\n"):
            chunk = self.control.recv(32)
            if not chunk:
                raise remote.AppHostGone(f"the sandbox that runs your code ({self.backend}) stopped, or "
                                         "never started (did your code kill its parent process?)")
            line += chunk
        handshake, pid = _greeting(ours)
        if handshake != b"+":
            why = ours.recv(1000).decode(errors="replace")
            raise SandboxUnavailable(f"the {self.backend} sandbox could not confine the app: {why}")
        return remote.AppHost(ours, pid or int(line), self.backend, on_gone)

    def close(self) -> None:
        try:
            self.control.close()
        except OSError:
            pass
        if self.process is not None:  # a lent one is its lane's to end
            sandbox.end_tree(self.process, also=self._sandbox_init())

    def _sandbox_init(self) -> list[int]:
        """The pid of bwrap's child, the sandbox's init, from what bwrap wrote on its info fd."""
        if self._info is None:
            return []
        try:
            info = json.loads(os.read(self._info, 4096) or b"{}")
            pid = info.get("child-pid") if isinstance(info, dict) else None
            return [pid] if isinstance(pid, int) else []
        except (OSError, ValueError):
            return []
        finally:
            os.close(self._info)
            self._info = None


class Lane:
    """A batch lane's template, warm across its grades, each grade's scratch folder inside it.

    After each grade `after_grade()` ends whatever the grade left running and empties the
    sandbox's /tmp; a template that does not answer, or died, is replaced before the next one.
    """

    def __init__(self, backend: str, *, memory_mb: int, file_mb: int, seed: str = "", warm: bool = True,
                 preload: tuple[str, ...] = ()) -> None:
        self.backend, self.memory_mb, self.file_mb, self.seed = backend, memory_mb, file_mb, seed
        self.warm, self.preload = warm, preload
        self.folder = new_scratch("docchat-lane-")
        self.template: Template | None = None

    def ready(self, warm: bool = True) -> Template:
        """The lane's template, a new one if it died; `warm`: wait until it can fork app hosts
        (a batch lane, between grades; a single grade lets its examiner start meanwhile)."""
        if self.template is None or not self.template.alive():
            if self.template is not None:
                self.template.close()
            self.template = Template(self.backend, self.folder, memory_mb=self.memory_mb,
                                     file_mb=self.file_mb, seed=self.seed, preload=self.preload)
        if warm and not self.template.answered and not self.template.reset(seconds=WARM_S):
            raise SandboxUnavailable(f"the {self.backend} sandbox did not start")
        return self.template

    def check(self) -> None:
        """Before a grade: a warm template that no longer answers (it died since the last grade)
        is replaced, and a new one is started (not waited for)."""
        if self.template is not None and self.template.answered:  # (a new one is still warming up)
            self._reset()
        self.ready(warm=False)

    def _reset(self) -> None:
        """End what the last grade left running; a template that does not answer is closed, and
        a new one made when next needed."""
        if self.template is not None and not self.template.reset():
            self.template.close()
            self.template = None

    def lend(self, launcher) -> dict[str, str]:
        """Lend the template to the examiners `launcher` starts from now on; return what else
        they need in their environment to adopt it."""
        template = self.ready(warm=self.warm)
        launcher.lend((template.control.fileno(),), var=LANE_FD_VAR)
        return {LANE_VAR: f"{template.backend},{template.pid}"}

    def renew(self, launcher) -> dict[str, str]:
        """Before another attempt at one grade: end what the last one left running (a template
        that does not answer is replaced), and lend it again."""
        self._reset()
        return self.lend(launcher)

    def after_grade(self) -> None:
        """End what the grade left running, then empty the lane's folder for the next grade."""
        import shutil

        self._reset()
        for entry in list(self.folder.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def close(self) -> None:
        import shutil

        if self.template is not None:
            self.template.close()
            self.template = None
        shutil.rmtree(self.folder, ignore_errors=True)


PASSCRED = getattr(socket, "SO_PASSCRED", 0)  # Linux; elsewhere the app host shares our pid namespace
CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def _greeting(sock: socket.socket) -> tuple[bytes, int | None]:
    """The app host's first byte, and its pid as the kernel tells it to this process (no /proc scan,
    and nothing the app host could state otherwise)."""
    if not PASSCRED:
        return sock.recv(1), None
    data, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(CREDENTIALS.size))
    sock.setsockopt(socket.SOL_SOCKET, PASSCRED, 0)
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= CREDENTIALS.size:
            pid = CREDENTIALS.unpack(payload[:CREDENTIALS.size])[0]
    return data, pid


def _stderr():
    """The template's stderr: dropped, unless DOCCHAT_DEBUG_SANDBOX names a file for it."""
    target = os.environ.get("DOCCHAT_DEBUG_SANDBOX")
    return open(target, "ab") if target else subprocess.DEVNULL
