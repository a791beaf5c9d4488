"""grader.engine.confine: each test confines a fresh interpreter, then has it try something."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from grader.engine.confine import landlock_abi

if not sys.platform.startswith("linux"):
    pytest.skip("Landlock and seccomp are Linux-only", allow_module_level=True)
ABI = landlock_abi()
if ABI == 0:
    pytest.skip("Landlock is not available on this kernel", allow_module_level=True)

HELPERS = """
import ctypes, json, os, sys
from grader.engine.confine import ConfineError, confine, python_paths

def attempt(label, fn):
    try:
        fn()
    except Exception as exc:
        print(label, type(exc).__name__)
    else:
        print(label, "ok")
"""
PRELUDE = HELPERS + """
extra = json.loads(sys.argv[1])
print("applied", confine(read_only=python_paths() + extra["ro"], read_write=extra["rw"]))
"""


def confined(body: str, ro=(), rw=(), *, prelude: str = PRELUDE, **kwargs) -> dict[str, str]:
    """Run `body` in a confined child; returns {label: outcome} from its printed lines."""
    extra = json.dumps({"ro": [str(p) for p in ro], "rw": [str(p) for p in rw]})
    done = subprocess.run([sys.executable, "-c", prelude + body, extra],
                          capture_output=True, text=True, timeout=60, **kwargs)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_files_inside_and_outside_the_rules(tmp_path: Path):
    ro, rw, outside = tmp_path / "ro", tmp_path / "rw", tmp_path / "outside"
    for folder in (ro, rw, outside):
        folder.mkdir()
    (ro / "given.txt").write_text("given")
    (outside / "secret.txt").write_text("secret")
    seen = confined(f"""
attempt("read_ro", lambda: open({str(ro / 'given.txt')!r}).read())
attempt("list_ro", lambda: os.listdir({str(ro)!r}))
attempt("write_ro", lambda: open({str(ro / 'given.txt')!r}, "a").write("x"))
attempt("create_ro", lambda: open({str(ro / 'new.txt')!r}, "w"))
attempt("write_rw", lambda: open({str(rw / 'out.txt')!r}, "w").write("written"))
attempt("mkdir_rw", lambda: os.mkdir({str(rw / 'sub')!r}))
attempt("read_outside", lambda: open({str(outside / 'secret.txt')!r}).read())
attempt("list_tmp", lambda: os.listdir({str(tmp_path)!r}))
attempt("proc_environ", lambda: open("/proc/self/environ", "rb").read())
attempt("sys_kernel", lambda: open("/sys/kernel/mm/transparent_hugepage/enabled").read())
attempt("etc_passwd", lambda: open("/etc/passwd").read())
""", ro=[ro, tmp_path / "does-not-exist"], rw=[rw])
    assert seen.pop("applied").startswith(f"landlock ABI {ABI} + seccomp")
    assert seen == {
        "read_ro": "ok", "list_ro": "ok", "write_ro": "PermissionError",
        "create_ro": "PermissionError", "write_rw": "ok", "mkdir_rw": "ok",
        "read_outside": "PermissionError", "list_tmp": "PermissionError",
        "proc_environ": "PermissionError", "sys_kernel": "PermissionError",
        "etc_passwd": "PermissionError",
    }
    assert (rw / "out.txt").read_text() == "written"
    assert (ro / "given.txt").read_text() == "given"


def test_stdlib_and_site_packages_import_after_confinement():
    seen = confined("""
attempt("stdlib", lambda: __import__("decimal") and __import__("email.mime.text"))
attempt("extension", lambda: __import__("_decimal") and __import__("_ssl"))
attempt("site_packages", lambda: __import__("fastapi") and __import__("pydantic_core"))
""")
    assert seen == {"applied": f"landlock ABI {ABI} + seccomp", "stdlib": "ok",
                    "extension": "ok", "site_packages": "ok"}


def test_tcp_is_refused_and_the_listener_hears_nothing():
    listener = socket.create_server(("127.0.0.1", 0))
    # Made here and handed over, so that Landlock's TCP rule is tested past seccomp.
    unconnected = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with listener, unconnected:
        port = listener.getsockname()[1]
        seen = confined(f"""
import socket
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5))
inherited = socket.socket(fileno={unconnected.fileno()})
attempt("inherited_connect", lambda: inherited.connect(("127.0.0.1", {port})))
""", pass_fds=[unconnected.fileno()])
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert seen["connect"] == "PermissionError"
    if ABI >= 4:
        assert seen["inherited_connect"] == "PermissionError"


def test_only_unix_sockets_can_be_made():
    seen = confined("""
import socket
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("udp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
attempt("inet_pair", lambda: socket.socketpair(socket.AF_INET))
attempt("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
""")
    assert seen == {"applied": f"landlock ABI {ABI} + seccomp", "udp": "PermissionError",
                    "udp6": "PermissionError", "netlink": "PermissionError",
                    "inet_pair": "PermissionError", "unix": "ok"}


def test_without_unix_sockets_no_socket_can_be_made():
    seen = confined("""
import socket
confine(read_only=python_paths(), read_write=[], allow_unix_socketpair=False)
attempt("socketpair", socket.socketpair)
""", prelude=HELPERS)
    assert seen == {"socketpair": "PermissionError"}


def test_socketpair_and_an_asyncio_loop_work():
    seen = confined("""
import asyncio, socket

def pair():
    a, b = socket.socketpair()
    a.sendall(b"ping")
    assert b.recv(4) == b"ping"

async def answer():
    await asyncio.sleep(0.01)
    return 42

attempt("socketpair", pair)
attempt("asyncio", lambda: asyncio.run(answer()) == 42 or 1 / 0)
""")
    assert seen["socketpair"] == "ok"
    assert seen["asyncio"] == "ok"


def test_signals_cannot_reach_the_parent():
    if ABI < 6:
        pytest.skip(f"Landlock ABI {ABI} has no signal scoping (needs 6)")
    seen = confined(f"""
attempt("kill_parent", lambda: os.kill({os.getpid()}, 0))
attempt("kill_self", lambda: os.kill(os.getpid(), 0))
""")
    assert seen["kill_parent"] == "PermissionError"
    assert seen["kill_self"] == "ok"


def test_ptrace_and_other_kernel_facing_syscalls_are_refused():
    seen = confined(f"""
import errno, platform
from grader.engine.confine import _ARCHES
libc = ctypes.CDLL(None, use_errno=True)

def refused(result):
    if result != -1 or ctypes.get_errno() != errno.EPERM:
        raise RuntimeError(f"got {{result}}, errno {{ctypes.get_errno()}}")

numbers = _ARCHES[platform.machine()][1]
attempt("ptrace_attach", lambda: refused(libc.ptrace(16, {os.getpid()}, None, None)))
attempt("ptrace_traceme", lambda: refused(libc.ptrace(0, 0, None, None)))
attempt("personality", lambda: refused(libc.syscall(numbers["personality"], 0xFFFFFFFF)))
attempt("unshare", lambda: refused(libc.unshare(0x10000000)))
attempt("bpf", lambda: refused(libc.syscall(numbers["bpf"], 0, None, 0)))
attempt("mount", lambda: refused(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)))
if platform.machine() == "x86_64":  # an x32 socket(AF_INET) must not slip past the filter
    attempt("x32_socket", lambda: refused(libc.syscall(0x40000000 | numbers["socket"], 2, 1, 0)))
""")
    seen.pop("applied")
    assert seen == dict.fromkeys(seen, "ok") and len(seen) >= 6


def test_refuses_before_changing_anything():
    threaded = confined("""
import threading, time
threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
attempt("threaded", lambda: confine(read_only=[], read_write=[]))
attempt("still_free", lambda: open("/proc/self/environ", "rb").read())
""", prelude=HELPERS)
    foreign = confined("""
import platform
platform.machine = lambda: "riscv64"
attempt("foreign_arch", lambda: confine(read_only=[], read_write=[]))
attempt("still_free", lambda: open("/proc/self/environ", "rb").read())
""", prelude=HELPERS)
    assert threaded == {"threaded": "ConfineError", "still_free": "ok"}
    assert foreign == {"foreign_arch": "ConfineError", "still_free": "ok"}
