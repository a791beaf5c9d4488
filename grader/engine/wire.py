"""The wire between the examiner and the app host: size-capped frames, values, and calls.

A frame is `!II` (length of a JSON head, length of the binary tail) followed by both. Bytes
inside a value travel in the tail, so a 512 KiB body piece is not turned into JSON. Either
side can call the other (`Peer.call`, `Peer.request`); every call has an id and one answer.

Values are copied for plain data (None, bool, int, float, str, bytes, paths, list, tuple, dict)
and passed by reference for everything else: the receiver gets a proxy built by its own
`Refs`, and a reference that comes back home turns into the original object again. Nothing
received is ever unpickled or evaluated.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path, PurePath
from typing import Any

HEAD = struct.Struct("!II")
CANCEL = "_cancel"  # the one operation the wire answers itself
HEAD_MAX = 4 << 20  # a JSON head larger than this is an attack, not a request
TAIL_MAX = 64 << 20  # the largest binary tail: far above any body piece the grader sends
DEPTH_MAX = 64
IOV_MAX = 64  # buffers per sendmsg, far under the kernel's 1024


PLAIN = (bool, int, float, str)


class Boxed:
    """Send this object by reference even when it is a list or a dict (for looking inside it)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class WireError(Exception):
    """The other side broke the protocol, or went away."""


class RemoteError(Exception):
    """The other side answered a call with an error: `kind` and `info` describe it."""

    def __init__(self, kind: str, info: dict) -> None:
        super().__init__(info.get("message", kind))
        self.kind, self.info = kind, info


class Refs:
    """This side's table of objects the other side refers to, and how to proxy theirs."""

    def __init__(self, proxy: Callable[[int, dict], Any]) -> None:
        self._objects: dict[int, Any] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> ref id, so one object keeps one ref
        self._next = itertools.count(1)
        self._proxy = proxy
        self._lock = threading.Lock()

    def keep(self, obj: Any) -> int:
        with self._lock:
            ref = self._ids.get(id(obj))
            if ref is None or self._objects.get(ref) is not obj:
                ref = next(self._next)
                self._objects[ref], self._ids[id(obj)] = obj, ref
            return ref

    def get(self, ref: Any) -> Any:
        try:
            return self._objects[ref]
        except (KeyError, TypeError):
            raise WireError(f"unknown reference {ref!r}") from None

    def proxy(self, ref: int, meta: dict) -> Any:
        return self._proxy(ref, meta)


def encode(value: Any, refs: Refs, tail: list[bytes], describe: Callable[[Any], dict],
           home: Callable[[Any], int | None], depth: int = 0) -> Any:
    """`value` as JSON, its bytes appended to `tail`; objects by reference (see module doc)."""
    if depth > DEPTH_MAX:
        raise WireError("a value nested too deeply to send")
    if isinstance(value, Boxed):
        inner = value.value
        if inner is None or type(inner) in PLAIN or type(inner) is bytes or home(inner) is not None:
            return encode(inner, refs, tail, describe, home, depth)
        return {"o": refs.keep(inner), **describe(inner)}
    if value is None or type(value) in PLAIN:
        return value
    if type(value) in (bytes, bytearray, memoryview):
        tail.append(bytes(value))
        return {"b": len(tail) - 1}
    if isinstance(value, PurePath):
        return {"p": str(value)}
    theirs = home(value)
    if theirs is not None:
        return {"s": theirs}
    again = lambda v: encode(v, refs, tail, describe, home, depth + 1)  # noqa: E731
    if type(value) is list:
        return {"l": [again(v) for v in value]}
    if type(value) is tuple:
        return {"u": [again(v) for v in value]}
    if type(value) is dict:
        return {"d": [[again(k), again(v)] for k, v in value.items()]}
    return {"o": refs.keep(value), **describe(value)}


def decode(data: Any, refs: Refs, tail: list[bytes], depth: int = 0) -> Any:
    if depth > DEPTH_MAX:
        raise WireError("a value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or len(data) < 1:
        raise WireError("a malformed value")
    again = lambda v: decode(v, refs, tail, depth + 1)  # noqa: E731
    if "b" in data:
        try:
            return tail[data["b"]]
        except (IndexError, TypeError):
            raise WireError("a value names a missing blob") from None
    if "s" in data:
        return refs.get(data["s"])
    if "p" in data and isinstance(data["p"], str):
        return Path(data["p"])
    if "o" in data:
        if not isinstance(data["o"], int):
            raise WireError("a malformed reference")
        return refs.proxy(data["o"], data)
    for key, kind in (("l", list), ("u", tuple)):
        if key in data:
            if not isinstance(data[key], list):
                raise WireError("a malformed list")
            return kind(again(v) for v in data[key])
    if "d" in data and isinstance(data["d"], list):
        out = {}
        for pair in data["d"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("a malformed dict")
            key = again(pair[0])
            try:
                out[key] = again(pair[1])
            except TypeError:
                raise WireError("an unhashable dict key") from None
        return out
    raise WireError("a value of an unknown kind")


class FrameReader:
    """Reads one socket's frames through a buffer it keeps, so that a big body costs one copy
    out of it rather than fresh memory (and page faults) for each piece the kernel hands over."""

    KEEP = 4 << 20  # a buffer for a larger frame is made for that frame only

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray(64 << 10)

    def _read(self, n: int) -> memoryview:
        buffer = self._buffer if n <= len(self._buffer) else bytearray(n)
        if n <= self.KEEP:
            self._buffer = buffer
        view, got = memoryview(buffer)[:n], 0
        while got < n:
            chunk = self.sock.recv_into(view[got:], n - got)
            if not chunk:
                raise WireError("the other side went away")
            got += chunk
        return view

    def frame(self) -> tuple[dict, list[bytes]]:
        head_len, tail_len = HEAD.unpack(self._read(HEAD.size))
        if head_len > HEAD_MAX or tail_len > TAIL_MAX:
            raise WireError(f"a frame of {head_len + tail_len} bytes, over the limit")
        view = self._read(head_len + tail_len)
        try:
            head = json.loads(bytes(view[:head_len]))
        except (ValueError, RecursionError):  # RecursionError: JSON nested past the parser's depth
            raise WireError("a frame that is not JSON") from None
        sizes = head.get("t", []) if isinstance(head, dict) else None
        if not isinstance(head, dict) or not isinstance(sizes, list) or not all(
                type(s) is int and s >= 0 for s in sizes) or sum(sizes) != tail_len:
            raise WireError("a malformed frame")
        tail, at = [], head_len
        for size in sizes:
            tail.append(bytes(view[at:at + size]))
            at += size
        return head, tail


def send_parts(sock: socket.socket, parts: list[bytes]) -> None:
    """Send `parts` back to back, without joining them first (a big body is not copied again)."""
    views = [memoryview(part) for part in parts if part]
    while views:
        sent = sock.sendmsg(views[:IOV_MAX])
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0], sent = views[0][sent:], 0


class Peer:
    """One end of the wire: sends calls, answers the other side's through `handle`.

    `handle(op, args) -> value` runs for each incoming call, on a thread `dispatch` picks; a
    value that is a Future is answered when it completes. Replies are matched by id.
    """

    def __init__(self, sock: socket.socket, refs: Refs, *, describe: Callable[[Any], dict],
                 home: Callable[[Any], int | None], handle: Callable[[str, dict], Any],
                 dispatch: Callable[[Callable[[], None], str], None], on_close: Callable[[str], None]) -> None:
        self.sock, self.refs = sock, refs
        self._describe, self._home, self._handle, self._dispatch = describe, home, handle, dispatch
        self._on_close = on_close
        self._pending: dict[int, Future] = {}
        self._serving: dict[int, Future] = {}  # the other side's calls still being answered
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self.closed: str | None = None

    def start(self) -> None:
        threading.Thread(target=self._read, name="docchat-wire", daemon=True).start()

    def request(self, op: str, **args: Any) -> Future:
        future: Future = Future()
        with self._state_lock:
            if self.closed is not None:
                future.set_exception(WireError(self.closed))
                return future
            call_id = next(self._ids)
            self._pending[call_id] = future
            future.call_id = call_id
        try:
            self._send({"k": "q", "i": call_id, "op": op}, args)
        except BaseException as exc:
            with self._state_lock:
                self._pending.pop(call_id, None)
            if not future.done():
                future.set_exception(exc if isinstance(exc, WireError) else WireError(str(exc)))
        return future

    def cancel(self, future: Future) -> None:
        """Tell the other side to stop answering the call behind `future` (its caller has gone)."""
        call_id = getattr(future, "call_id", None)
        if call_id is not None and self.closed is None:
            self.request(CANCEL, call=call_id)

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        return self.request(op, **args).result(timeout)

    def close(self, why: str = "closed") -> None:
        with self._state_lock:
            if self.closed is not None:
                return
            self.closed = why
            pending, self._pending = self._pending, {}
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._on_close(why)
        finally:
            # Callers learn of the close last, so whoever sees a call fail sees on_close done too.
            for future in pending.values():
                if not future.done():
                    future.set_exception(WireError(why))

    def _send(self, head: dict, value: Any) -> None:
        tail: list[bytes] = []
        head["v"] = encode(value, self.refs, tail, self._describe, self._home)
        head["t"] = [len(t) for t in tail]
        data = json.dumps(head, separators=(",", ":")).encode()
        with self._send_lock:
            try:
                send_parts(self.sock, [HEAD.pack(len(data), sum(head["t"])), data, *tail])
            except OSError as exc:
                raise WireError(f"the other side went away ({exc.strerror})") from None

    def _read(self) -> None:
        reader = FrameReader(self.sock)
        try:
            while True:
                head, tail = reader.frame()
                self._receive(head, tail)
        except WireError as exc:
            self.close(str(exc))
        except OSError as exc:
            self.close(f"the connection broke ({exc})")
        except Exception as exc:  # noqa: BLE001 - whatever a frame does, the wire closes: never half-dead
            self.close(f"a frame that could not be read ({type(exc).__name__})")

    def _receive(self, head: dict, tail: list[bytes]) -> None:
        kind, call_id = head.get("k"), head.get("i")
        if not isinstance(call_id, int):
            raise WireError("a frame without an id")
        value = decode(head.get("v"), self.refs, tail)
        if kind == "q" and head.get("op") == CANCEL and isinstance(value, dict):
            serving = self._serving.get(value.get("call"))
            if serving is not None:
                serving.cancel()
            self._reply(call_id, None)
        elif kind == "q" and isinstance(head.get("op"), str) and isinstance(value, dict):
            self._dispatch(lambda: self._answer(call_id, head["op"], value), head["op"])
        elif kind in ("a", "e"):
            with self._state_lock:
                future = self._pending.pop(call_id, None)
            if future is None:
                raise WireError(f"an answer to no call ({call_id})")
            if future.done():  # the caller gave up on it (cancelled)
                return
            if kind == "a":
                future.set_result(value)
            else:
                info = value if isinstance(value, dict) else {}
                future.set_exception(RemoteError(str(info.get("kind", "error")), info))
        else:
            raise WireError("a frame of an unknown kind")

    def _answer(self, call_id: int, op: str, args: dict) -> None:
        try:
            result = self._handle(op, args)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the caller's error
            self._reply_error(call_id, exc)
            return
        if isinstance(result, Future):
            self._serving[call_id] = result
            result.add_done_callback(lambda f: self._settle(call_id, f))
        else:
            self._reply(call_id, result)

    def _settle(self, call_id: int, future: Future) -> None:
        self._serving.pop(call_id, None)
        if future.cancelled():
            self._reply_error(call_id, WireError("cancelled"))
        elif future.exception() is not None:
            self._reply_error(call_id, future.exception())
        else:
            self._reply(call_id, future.result())

    def _reply(self, call_id: int, value: Any) -> None:
        try:
            self._send({"k": "a", "i": call_id}, value)
        except WireError:
            pass
        except Exception as exc:  # noqa: BLE001 - a value that cannot be sent
            self._reply_error(call_id, exc)

    def _reply_error(self, call_id: int, exc: BaseException) -> None:
        info = getattr(exc, "wire_info", None) or {"kind": type(exc).__name__, "message": str(exc)[:2000]}
        try:
            self._send({"k": "e", "i": call_id}, info)
        except Exception:  # noqa: BLE001 - the error itself cannot be sent: give up on this call
            pass
