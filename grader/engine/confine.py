"""Confining the current process with Landlock and seccomp, using nothing but ctypes.

The fallback sandbox when bubblewrap is missing: a freshly forked child calls `confine()`
just before importing learner code. Files outside the listed paths, TCP, non-Unix sockets,
signals and abstract sockets reaching outside the child, and a short list of kernel-facing
syscalls (ptrace, mount, bpf, ...) are refused with EACCES or EPERM.
"""

from __future__ import annotations

import ctypes
import os
import platform
import stat
import struct
import sys

__all__ = ["ConfineError", "available", "confine", "landlock_abi", "python_paths"]

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # same on x86_64 and aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _PR_GET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 21, 2

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "kexec_load", "init_module",
           "finit_module", "mount", "umount2", "pivot_root", "unshare", "setns", "bpf",
           "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
           "io_uring_setup", "personality")
# machine -> (AUDIT_ARCH_*, syscall numbers); aarch64 uses the asm-generic table.
_ARCHES = {
    "x86_64": (0xC000003E, dict(
        socket=41, socketpair=53, ptrace=101, process_vm_readv=310, process_vm_writev=311,
        kexec_load=246, init_module=175, finit_module=313, mount=165, umount2=166, pivot_root=155,
        unshare=272, setns=308, bpf=321, perf_event_open=298, keyctl=250, add_key=248,
        request_key=249, userfaultfd=323, io_uring_setup=425, personality=135)),
    "aarch64": (0xC00000B7, dict(
        socket=198, socketpair=199, ptrace=117, process_vm_readv=270, process_vm_writev=271,
        kexec_load=104, init_module=105, finit_module=273, mount=40, umount2=39, pivot_root=41,
        unshare=97, setns=268, bpf=280, perf_event_open=241, keyctl=219, add_key=217,
        request_key=218, userfaultfd=282, io_uring_setup=425, personality=92)),
}
_X32_SYSCALL_BIT = 0x40000000
_AF_UNIX = 1


class ConfineError(RuntimeError):
    """Confinement failed; the process may be partly confined, so it must not run learner code."""


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _syscall(nr: int, *args: int) -> int:
    result = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _prctl(option: int, *args) -> int:
    args = (*args, 0, 0, 0, 0)[:4]  # the kernel checks unused arguments are zero
    return _libc.prctl(ctypes.c_int(option), *(ctypes.c_ulong(a) if isinstance(a, int) else a
                                                for a in args))


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers, 0 when Landlock is unavailable."""
    if _libc is None:
        return 0
    try:
        return _syscall(_CREATE_RULESET, 0, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def _seccomp_usable() -> bool:
    return _libc is not None and platform.machine() in _ARCHES and \
        _prctl(_PR_GET_SECCOMP) >= 0


def available() -> bool:
    """Whether `confine()` can work here: Landlock (ABI >= 1) and seccomp on a supported arch."""
    return landlock_abi() >= 1 and _seccomp_usable()


def python_paths() -> list[str]:
    """The absolute paths this interpreter must read once confined; the caller adds its own code."""
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path, "/usr", "/lib",
                  "/lib64", "/etc/ld.so.cache", "/etc/localtime", "/dev/null", "/dev/urandom"]
    paths: list[str] = []
    for path in candidates:
        if os.path.isabs(path) and os.path.exists(path) and path not in paths:
            paths.append(path)
    return paths


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
    for version, bit in ((2, 1 << 13), (3, _FS_TRUNCATE), (5, _FS_IOCTL_DEV)):  # REFER, ...
        if abi >= version:
            rights |= bit
    return rights


def _add_path(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FS_FILE_RIGHTS
        attr = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)
        _syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.addressof(attr), 0)
    except OSError as exc:
        raise ConfineError(f"landlock rule for {path}: {exc}") from exc
    finally:
        os.close(fd)


def _landlock(abi: int, read_only: list[str], read_write: list[str]) -> None:
    handled_fs = _fs_rights(abi)
    handled_net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", handled_fs, handled_net, scoped), 24)
    try:
        ruleset = _syscall(_CREATE_RULESET, ctypes.addressof(attr), size, 0)
    except OSError as exc:
        raise ConfineError(f"landlock_create_ruleset: {exc}") from exc
    try:
        for path in read_only:
            _add_path(ruleset, path, _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR)
        for path in read_write:
            _add_path(ruleset, path, handled_fs)
        _syscall(_RESTRICT_SELF, ruleset, 0)
    except OSError as exc:
        raise ConfineError(f"landlock_restrict_self: {exc}") from exc
    finally:
        os.close(ruleset)


def _bpf_program(allow_unix_socketpair: bool) -> list[tuple[int, int, int, int]]:
    """The seccomp filter as (code, jt, jf, k); raises ConfineError on an unsupported arch."""
    machine = platform.machine()
    if machine not in _ARCHES:
        raise ConfineError(f"seccomp filter: unsupported architecture {machine!r}")
    audit_arch, numbers = _ARCHES[machine]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, ..|JGE|K, BPF_RET|K
    # Labels are resolved to relative offsets below; "next" falls through.
    prog: list[tuple] = [(ld, 0, 0, 4), (jeq, "next", "deny", audit_arch), (ld, 0, 0, 0)]
    if machine == "x86_64":  # x32 syscalls carry this bit and would slip past the numbers
        prog.append((jge, "deny", "next", _X32_SYSCALL_BIT))
    prog += [(jeq, "deny", "next", numbers[name]) for name in _DENIED]
    if allow_unix_socketpair:
        prog += [(jeq, "unix", "next", numbers["socket"]),
                 (jeq, "next", "allow", numbers["socketpair"]),
                 (ld, 0, 0, 16),  # "unix": low 32 bits of args[0], the domain (little-endian)
                 (jeq, "allow", "deny", _AF_UNIX)]
    else:
        prog += [(jeq, "deny", "next", numbers["socket"]),
                 (jeq, "deny", "allow", numbers["socketpair"])]
    prog += [(ret, 0, 0, 0x7FFF0000), (ret, 0, 0, 0x00050000 | 1)]  # ALLOW; ERRNO(EPERM)
    labels = {"allow": len(prog) - 2, "deny": len(prog) - 1, "unix": len(prog) - 4}

    def offset(i: int, target) -> int:
        return 0 if target in (0, "next") else labels[target] - i - 1

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(prog)]


def _seccomp(program: list[tuple[int, int, int, int]]) -> None:
    filters = (_SockFilter * len(program))(*(_SockFilter(*insn) for insn in program))
    fprog = _SockFprog(len(program), filters)
    if _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog)) != 0:
        err = ctypes.get_errno()
        raise ConfineError(f"seccomp filter: {os.strerror(err)}")


def confine(*, read_only: list[str], read_write: list[str],
            allow_unix_socketpair: bool = True) -> str:
    """Confine this process for good; returns what was applied, e.g. "landlock ABI 7 + seccomp".

    Call it in a single-threaded process (a fresh fork): both Landlock and seccomp apply
    to the calling thread only. `allow_unix_socketpair=False` refuses socket() and
    socketpair() altogether.
    Raises ConfineError when any step fails.
    """
    if _libc is None:
        raise ConfineError("confinement needs Linux")
    program = _bpf_program(allow_unix_socketpair)  # refuse an unknown arch before changing anything
    abi = landlock_abi()
    if abi < 1:
        raise ConfineError("Landlock is not available")
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        threads = 1
    if threads > 1:
        raise ConfineError(f"the process has {threads} threads; confine only a single-threaded one")
    if _prctl(_PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise ConfineError(f"PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
    _landlock(abi, read_only, read_write)
    _seccomp(program)
    return f"landlock ABI {abi} + seccomp"
