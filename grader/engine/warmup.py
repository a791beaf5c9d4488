"""Warm the app host template: run a small app through FastAPI's first-use paths, once.

FastAPI, Starlette and Pydantic build much of their machinery on first use (validators,
serializers, the multipart parser, OpenAPI models). Doing that once in the template, before
it forks, means each app host starts with it built: importing a learner's module and its
first request cost a few milliseconds instead of tens.

Everything here is async and driven by `asyncio.run`, so no thread is started: the template
must fork its app hosts from a single-threaded process (grader.engine.confine). (No
`from __future__ import annotations`: FastAPI must see the endpoints' local types.)
"""

import asyncio
from contextlib import asynccontextmanager
from typing import Annotated, Any

BOUNDARY = "docchatwarmup"


def _app() -> Any:
    from fastapi import (BackgroundTasks, Depends, FastAPI, File, Form, HTTPException, Request,
                         UploadFile, status)
    from fastapi.responses import JSONResponse, StreamingResponse
    from fastapi.sse import EventSourceResponse
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
        size: int = 0

    class Problem(Exception):
        pass

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield {"ready": True}

    app = FastAPI(lifespan=lifespan)

    async def settings(request: Request) -> dict:
        return {"state": request.state}

    async def later(name: str) -> None:
        return None

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse({"error": {"code": "problem"}}, status_code=409)

    @app.post("/upload", status_code=status.HTTP_202_ACCEPTED)
    async def upload(file: Annotated[UploadFile, File()], tasks: BackgroundTasks,
                     deps: Annotated[dict, Depends(settings)], note: Annotated[str, Form()] = "") -> dict:
        while await file.read(1024):
            pass
        tasks.add_task(later, file.filename or "")
        return {"name": file.filename, "type": file.content_type}

    @app.post("/items", response_model=Item)
    async def create(item: Item) -> Item:
        return item

    @app.get("/items/{item_id}")
    async def read(item_id: int, q: str | None = None) -> dict:
        if item_id < 0:
            raise HTTPException(status_code=404, detail="no such item")
        if item_id == 0:
            raise Problem()
        return {"id": item_id, "q": q}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():
            yield b"a"
        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/events", response_class=EventSourceResponse)
    async def events():
        yield {"token": "a"}

    return app


def _multipart() -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4 warm\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n"
            f"--{BOUNDARY}--\r\n").encode()


REQUESTS = (
    ("POST", "/upload", f"multipart/form-data; boundary={BOUNDARY}", _multipart()),
    ("POST", "/upload", "application/json", b"{}"),
    ("POST", "/items", "application/json", b'{"name": "a", "size": 1}'),
    ("POST", "/items", "application/json", b'{"name": 1}'),
    ("GET", "/items/1?q=x", "", b""),
    ("GET", "/items/-1", "", b""),
    ("GET", "/items/0", "", b""),
    ("GET", "/missing", "", b""),
    ("GET", "/stream", "", b""),
    ("GET", "/events", "", b""),
    ("GET", "/openapi.json", "", b""),
    ("GET", "/docs", "", b""),
)


async def _request(app: Any, state: dict, method: str, target: str, content_type: str, body: bytes) -> None:
    path, _, query = target.partition("?")
    headers = [(b"host", b"warmup"), (b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("warmup", 80),
             "state": dict(state)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        return None

    await app(scope, receive, send)


async def _run(app: Any) -> None:
    state: dict = {}
    inbox = [{"type": "lifespan.startup"}]
    started = asyncio.Event()

    async def receive() -> dict:
        if inbox:
            return inbox.pop(0)
        await started.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict) -> None:
        return None

    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
                                         receive, send))
    for request in REQUESTS:
        await _request(app, state, *request)
    started.set()
    await lifespan


def warm() -> None:
    """Run the warm-up app once; a failure only means a colder start, never a broken one."""
    try:
        asyncio.run(_run(_app()))
    except Exception:  # noqa: BLE001 - warming is an optimisation
        pass
