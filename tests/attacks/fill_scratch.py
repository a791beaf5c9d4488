# Fill the folders the learner's code may write to until the machine's disk, or RAM, runs out:
# files of 64 MiB each (under the per-file limit), in $HOME when it can, else where it runs.
import os

_chunk = b"\1" * (64 << 20)
for _folder in (os.environ.get("HOME", "."), "."):
    try:
        for _i in range(200):
            with open(os.path.join(_folder, f"fill-{_i}.bin"), "wb") as _f:
                _f.write(_chunk)
    except OSError:
        continue
