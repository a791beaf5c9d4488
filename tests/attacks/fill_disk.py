# Write 1.2 GB and 50,000 files outside the scratch folder, and leave a daemon behind.
import os

for _folder in ("$OUTSIDE", os.path.expanduser("~/docchat-attack"), "/var/tmp/docchat-attack-$MARKER"):
    try:
        os.makedirs(_folder, exist_ok=True)
        with open(os.path.join(_folder, "big.bin"), "wb") as _f:
            for _ in range(1200):
                _f.write(b"\0" * (1 << 20))
        for _i in range(50000):
            open(os.path.join(_folder, f"f{_i}"), "w").close()
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        try:
            os.execv("/bin/sleep", ["$MARKER", "30"])  # found by its command line
        except OSError:
            pass
    os._exit(0)
