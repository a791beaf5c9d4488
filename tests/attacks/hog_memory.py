# Map 1.5 GiB of shared memory (which RLIMIT_DATA does not count) and touch every page.
import mmap

_blob = mmap.mmap(-1, 1536 * 1024 * 1024)
for _i in range(0, len(_blob), 4096):
    _blob[_i] = 1
