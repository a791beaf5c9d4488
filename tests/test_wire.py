"""The wire's frames: big bodies in several pieces arrive whole and in order, however the
kernel splits them; a send the kernel takes only part of is finished; and a frame that cannot
be read, whatever the reason, closes the wire."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from grader.engine import wire

MiB = 1 << 20


def test_frames_with_big_pieces_arrive_whole_and_in_order() -> None:
    ours, theirs = socket.socketpair()
    for end in (ours, theirs):  # small buffers: every frame comes in many pieces
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 10)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
    sizes = [0, 1, 512 << 10, 3 * MiB // 2, wire.FrameReader.KEEP + 1, 100, 6 * MiB]
    pieces = [os.urandom(n) for n in sizes]
    frames = [[pieces[0], pieces[1]], [pieces[2]], [pieces[3], pieces[4]], [pieces[5]], [pieces[6], b"end"]]

    def send() -> None:
        for i, tail in enumerate(frames):
            head = f'{{"k":"q","i":{i},"t":[{",".join(str(len(t)) for t in tail)}]}}'.encode()
            wire.send_parts(ours, [wire.HEAD.pack(len(head), sum(map(len, tail))), head, *tail])

    sender = threading.Thread(target=send)
    sender.start()
    reader = wire.FrameReader(theirs)
    for i, tail in enumerate(frames):
        head, got = reader.frame()
        assert head["i"] == i
        assert [type(t) for t in got] == [bytes] * len(tail) and got == tail
    sender.join(10)
    ours.close()
    theirs.close()


class Stingy:
    """A socket whose every send takes at most 1,000 bytes."""

    def __init__(self) -> None:
        self.received = bytearray()

    def sendmsg(self, buffers) -> int:
        taken = b"".join(bytes(b) for b in buffers)[:1000]
        self.received += taken
        return len(taken)


def test_a_partial_send_is_finished() -> None:
    parts = [b"head", os.urandom(2500), b"", os.urandom(10), os.urandom(4000)]
    sock = Stingy()
    wire.send_parts(sock, parts)
    assert bytes(sock.received) == b"".join(parts)


def test_a_frame_that_raises_anything_while_read_closes_the_wire() -> None:
    """Not only the wire's own errors: whatever reading a frame raises ends the wire, so that
    the other side's calls fail at once instead of waiting on a reader that has died."""
    ours, theirs = socket.socketpair()
    closed: list[str] = []

    def proxy(ref: int, meta: dict) -> None:
        raise ValueError("a stand-in that cannot be made")

    peer = wire.Peer(ours, wire.Refs(proxy), describe=lambda o: {}, home=lambda v: None,
                     handle=lambda op, args: None, dispatch=lambda job, op: job(), on_close=closed.append)
    peer.start()
    pending = peer.request("anything")
    head = b'{"k":"a","i":1,"v":{"o":7},"t":[]}'
    theirs.sendall(wire.HEAD.pack(len(head), 0) + head)
    try:
        with pytest.raises(wire.WireError):
            pending.result(timeout=5)
        assert closed and "ValueError" in closed[0]
    finally:
        theirs.close()
