# Fill the one writable folder (the scratch) until the machine's disk, or RAM, runs out:
# files of 64 MiB each (under the per-file limit), one after another.
import os

_chunk = b"\1" * (64 << 20)
for _i in range(200):
    try:
        with open(f"fill-{_i}.bin", "wb") as _f:
            _f.write(_chunk)
    except OSError:
        break
