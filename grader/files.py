"""Reading what the learner's code wrote, without following its symlinks anywhere else.

The app host can write any symlink into its scratch folder (`report.pdf -> /etc/shadow`, or a
hidden check's path). The grader lists and reads files under a folder one component at a
time with O_NOFOLLOW, so a link is never followed and a folder swapped for a link
mid-read is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

READ_MAX = 256 << 20


def regular_files(root: Path) -> set[Path]:
    """Every regular file under `root` (links, devices and sockets left out; links not followed)."""
    found: set[Path] = set()
    if not root.is_dir() or root.is_symlink():
        return found
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            try:
                if stat.S_ISREG(path.lstat().st_mode):
                    found.add(path)
            except OSError:
                continue
    return found


def read_regular(path: Path, limit: int = READ_MAX) -> bytes | None:
    """The bytes of a regular file, reached with no symlink on the way; None if there is none."""
    parts = Path(os.path.abspath(path)).parts
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(parts[0], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for i, part in enumerate(parts[1:], 1):
            last = i == len(parts) - 1
            try:
                nxt = os.open(part, flags | (0 if last else os.O_DIRECTORY), dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = nxt
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read(limit)
    finally:
        os.close(fd)


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(Path(path).lstat().st_mode) and read_regular(path, 0) is not None
    except OSError:
        return False
