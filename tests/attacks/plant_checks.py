# Reach the other checks of this grade: each import runs in the working folder of one check
# (`work` in a folder of the check's own). Write into every folder beside this check's, one and
# two levels up (the other checks' folders, the grade's, the lane's), but not the HOME, TMPDIR
# and /tmp the grade's checks share, where no check looks: a file planted beside a check's
# folder could fool a check that looks at it. Any write that lands is shown, as
# the import's error, so the test sees it.
import os
from pathlib import Path

_own = Path.cwd().parent
_landed = []
for _up in (_own.parent, _own.parent.parent):
    _targets = [_up]
    try:
        _targets += [p for p in _up.iterdir() if p.is_dir() and p != _own]
        _targets += [p / "work" for p in _targets if (p / "work").is_dir()]
    except OSError:
        pass
    for _folder in _targets:
        _shared = {os.environ.get("HOME"), os.environ.get("TMPDIR"), "/tmp"}
        if _own in (_folder, *_folder.parents) or str(_folder) in _shared:
            continue
        try:
            (_folder / "planted-$MARKER").write_text("$MARKER")
            _landed.append(str(_folder))
        except OSError:
            pass
if _landed:
    raise RuntimeError("planted a file in another check's reach: " + ", ".join(sorted(set(_landed))))
