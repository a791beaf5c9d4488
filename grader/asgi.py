"""A direct ASGI driver, for what TestClient cannot show.

TestClient builds the whole request body in memory and hides when messages were sent. This
driver feeds the body from an iterator, counts the bytes the app pulls through `receive()`,
records every message the app sends with a timestamp, can trace the app's peak memory, and
can disconnect on demand. Run it on a TestClient's portal so the app's lifespan has run.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio

BODY_KEEP = 1 << 20


# The request being driven (its `tag`), as seen from whatever the app runs on its behalf: code
# awaited in the route, threads it starts with to_thread, and its BackgroundTasks inherit it.
CURRENT_REQUEST: ContextVar[object] = ContextVar("docchat_current_request", default=None)


class Timeline:
    """An ordered log shared by the driver and the grader's fakes: who did what, when."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, str]] = []

    def mark(self, what: str) -> None:
        self.entries.append((time.perf_counter(), what))

    def index(self, what: str) -> int | None:
        for i, (_, entry) in enumerate(self.entries):
            if entry == what:
                return i
        return None


@dataclass
class Exchange:
    """What happened during one request."""

    method: str
    path: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent: list[tuple[float, dict]] = field(default_factory=list)
    bytes_pulled: int = 0
    peak_memory: int | None = None
    cut_off: bool = False  # the driver hung up after `max_pull` bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def status_code(self) -> int | None:
        return self.status


class Together:
    """Holds each request's last body piece until `n` requests have reached theirs: their
    handlers then start at the same moment, as on a busy server (one event loop)."""

    def __init__(self, n: int) -> None:
        self.n, self.arrived = n, 0
        self._all_here = anyio.Event()

    async def wait(self, seconds: float = 5.0) -> None:
        self.arrived += 1
        if self.arrived >= self.n:
            self._all_here.set()
        with anyio.move_on_after(seconds):  # a request that never comes must not hold the rest
            await self._all_here.wait()


class Disconnect:
    """Set it and the next `receive()` after the body tells the app the client has gone."""

    def __init__(self) -> None:
        self.event = anyio.Event()

    def set(self) -> None:
        self.event.set()


async def drive(app: Any, method: str, path: str, *, body: Iterable[bytes] = (),
                headers: dict[str, str] | None = None, trace_memory: bool = False,
                timeline: Timeline | None = None, disconnect: Disconnect | None = None,
                query: str = "", state: dict | None = None, max_pull: int | None = None,
                on_body: Callable[[bytes], None] | None = None, tag: object = None,
                together: Together | None = None) -> Exchange:
    """Send one HTTP request straight into `app` and return what came back.

    `on_body` sees each response body chunk the moment the app sends it (to watch a stream).
    `tag` is what CURRENT_REQUEST says in code the app runs on this request's behalf.
    `together` holds the body's last piece until as many requests as it counts have theirs.
    """
    CURRENT_REQUEST.set(tag)  # in this task's own context: this request only
    exchange = Exchange(method, path)
    pieces: Iterator[bytes] = iter(body)
    pending: bytes | None = next(pieces, None)
    gone = disconnect or Disconnect()

    async def receive() -> dict:
        nonlocal pending
        if max_pull is not None and exchange.bytes_pulled >= max_pull and pending is not None:
            exchange.cut_off = True  # enough seen: hang up rather than feed the rest
            pending = None
            gone.set()
        if pending is not None:
            chunk, pending = pending, next(pieces, None)
            if pending is None and together is not None:
                await together.wait()
            exchange.bytes_pulled += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": pending is not None}
        await gone.event.wait()  # set by the check, or once the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        now = time.perf_counter()
        exchange.sent.append((now, {k: v for k, v in message.items() if k != "body"}))
        kind = message["type"]
        if timeline is not None:
            timeline.mark(kind + ("" if message.get("more_body") else ".final")
                          if kind == "http.response.body" else kind)
        if kind == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                                for k, v in message.get("headers", [])}
        elif kind == "http.response.body":
            if on_body is not None:
                on_body(message.get("body", b""))
            if len(exchange.body) < BODY_KEEP:
                exchange.body += message.get("body", b"")
            if not message.get("more_body"):
                gone.set()  # like a real client: after the response, receive() says disconnect

    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "", "headers": raw_headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "state": dict(state) if isinstance(state, dict) else {},
    }
    reset, read = _memory_probe(app) if trace_memory else (None, None)
    if reset:
        reset()
    try:
        await app(scope, receive, send)
    finally:
        if read:
            exchange.peak_memory = read()
    return exchange


def _memory_probe(app: Any) -> tuple[Callable[[], None], Callable[[], int]]:
    """How to measure the app's peak memory during one request.

    An app in an app host (grader.engine.remote.RemoteApp) is measured from outside, as the
    rise of its process's peak resident size; an app in this process, with tracemalloc.
    """
    probe = getattr(app, "memory_probe", None)
    if probe is not None:
        return probe()

    def reset() -> None:
        tracemalloc.start()
        tracemalloc.reset_peak()

    def read() -> int:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    return reset, read
