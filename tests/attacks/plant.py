# Leave something behind for the next learner graded in the same lane: files in the sandbox's
# /tmp, /dev/shm, /dev and every writable folder above the working one, and a process that waits.
import os
from pathlib import Path

for _folder in ["/tmp", "/dev/shm", "/dev", *map(str, Path.cwd().parents)]:
    try:
        Path(_folder, "planted-$MARKER").write_text("$MARKER")
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    try:
        os.execv("/bin/sleep", ["$MARKER", "60"])
    except OSError:
        os._exit(0)
