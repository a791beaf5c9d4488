# Look for what an earlier learner in the same lane left behind.
import os
from pathlib import Path

_found = [str(p) for _folder in ["/tmp", "/dev/shm", "/dev", *map(str, Path.cwd().parents)]
          for p in Path(_folder).glob("planted-*")]
try:
    _found += [p for p in os.listdir("/proc") if p.isdigit() and b"planted" in open(f"/proc/{p}/cmdline", "rb").read()]
except OSError:
    pass
if _found:
    raise RuntimeError("found: " + ", ".join(_found))
