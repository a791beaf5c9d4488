"""Serve an ASGI app over real HTTP on 127.0.0.1, for a real browser to talk to.

uvicorn runs in a thread of the grading process, on a port the OS picks, so it shares the
grader's fakes with the check. Startup and shutdown are both bounded in time, and the server
is always stopped when the `with` block ends, whatever happened inside it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn


class ServerError(Exception):
    """The app could not be served (its startup failed, or it did not start in time)."""


@dataclass
class LiveServer:
    url: str
    errors: list[BaseException] = field(default_factory=list)  # what the app raised
    open_requests: int = 0  # HTTP requests the app is still answering


class _Recording:
    """Passes requests to the app, counting those still open and keeping what it raised."""

    def __init__(self, app: Any, live: LiveServer) -> None:
        self.app, self.live = app, live

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        http = scope["type"] == "http"
        self.live.open_requests += http
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope["type"] != "lifespan":
                self.live.errors.append(exc)
            raise
        finally:
            self.live.open_requests -= http


class _Server(uvicorn.Server):
    """uvicorn's server without its fixed waits when told to stop.

    uvicorn looks at `should_exit` every 0.1 s, then sleeps 0.1 s more before it waits for the
    open connections: 0.1-0.2 s that every browser check paid at its end. Here `stop()` wakes
    the main loop at once, and the shutdown polls the connections every 10 ms, within the same
    graceful limit, before the lifespan's shutdown.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._told = asyncio.Event()  # bound to the server's loop when first awaited there

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._told.wait(), 0.1)
            except asyncio.TimeoutError:
                pass

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()
        end = time.monotonic() + self.config.timeout_graceful_shutdown
        while (state.connections or state.tasks) and time.monotonic() < end:
            await asyncio.sleep(0.01)
        for task in state.tasks:
            task.cancel()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """From another thread: stop serving now (`loop`: the server's, once it runs)."""
        self.should_exit = True
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._told.set)
            except RuntimeError:  # its loop has closed: it has stopped already
                pass


@contextmanager
def serving(app: Any, *, start_s: float = 5.0, stop_s: float = 2.0) -> Iterator[LiveServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    live = LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(_Recording(app, live), lifespan="auto", log_level="critical",
                            access_log=False, http="h11", ws="none", loop="asyncio",
                            timeout_graceful_shutdown=1)
    server = _Server(config)
    running: dict[str, Any] = {}

    async def serve() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        await server.serve(sockets=[sock])

    def run() -> None:
        try:
            asyncio.run(serve())
        except (SystemExit, asyncio.CancelledError):  # a failed startup, or stopped by force
            pass

    thread = threading.Thread(target=run, daemon=True, name="docchat-live-server")
    thread.start()
    try:
        deadline = time.monotonic() + start_s
        while not server.started:
            if not thread.is_alive():
                raise ServerError("the app stopped during startup (its lifespan failed?)")
            if time.monotonic() > deadline:
                raise ServerError(f"the app did not start within {start_s:g} s")
            time.sleep(0.01)
        yield live
    finally:
        server.stop(running.get("loop"))
        thread.join(stop_s)
        if thread.is_alive() and running:  # a stuck lifespan or request: cancel it all
            running["loop"].call_soon_threadsafe(running["task"].cancel)
            thread.join(stop_s)
        sock.close()
