"""The streaming drill's seam: a fake `llm` the check controls, and a client that watches.

`FakeLLM.stream(q)` records the question and hands out its tokens one at a time. Held
(`hold`), each token waits behind a gate until the check releases it, so a check can ask
"has the first event reached the client while the second token does not exist yet?" and
get an exact answer, with no sleeps. The app and the check share the TestClient's event
loop: each scenario below is one coroutine run there with `client.portal.call`, and a
`Watch` wakes it whenever the LLM or the client makes progress.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import pytest

from grader import sse
from grader.asgi import Disconnect, Exchange, drive
from grader.browser import BrowserError, find_chromium, open_browser
from grader.engine.learner import Learner
from grader.engine.session import session_of
from grader.expect import fail

QUESTION = "What is DocChat?"
DONE = "[DONE]"
TOKENS = ["Streaming", "sends", "each", "token", "at", "once."]
MULTILINE_TOKENS = ["Steps:", "\n1. upload a PDF", "\n2. ask", " a question", "\n\n",
                    "  indented", "last line\n"]
# For the browser: no spaces or newlines, so any way of showing text shows exactly this.
PAGE_TOKENS = ["Doc", "Chat", "-", "answers", "-", "streamed", "-", "live."]
PATIENCE = 2.0  # seconds to wait for something a correct app does at once
STREAM_LIMIT = 3.0  # seconds a whole answer of a few tokens may take
AFTER_ANSWER_S = 0.25  # once the stream has ended, how long the page's text must stay the same


class Watch:
    """Wakes a waiting check whenever the LLM or the client makes progress (one event loop)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def changed(self) -> None:
        await self._event.wait()

    async def until(self, condition: Callable[[], Any], seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            while not condition():
                await self.changed()
        return bool(condition())


class FakeLLM:
    """Stands in for `llm`: records questions, counts tokens handed out, notes the stream's end."""

    __remote__ = ("stream",)

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.questions: list[object] = []
        self.asked = threading.Event()  # for checks that run the app in another thread
        self.pulled = 0  # tokens handed out, over every stream
        self.waiting_for = 0  # which token (1-based) a stream is held at, 0 when none is
        self.ended = False  # a stream's `finally` ran: it finished, or it was closed
        self._watch: Watch | None = None
        self._released: int | None = None  # tokens let out; None: all of them

    def hold(self, watch: Watch, released: int = 1) -> None:
        """From now on only the first `released` tokens come out until `release_all`."""
        self._watch, self._released = watch, released

    def release_all(self) -> None:
        self._released = None
        self._notify()

    def stream(self, q: object) -> AsyncIterator[str]:
        self.questions.append(q)
        self.asked.set()
        return self._produce()

    async def _produce(self) -> AsyncIterator[str]:
        try:
            for n, token in enumerate(self.tokens, 1):
                while self._released is not None and n > self._released:
                    self.waiting_for = n
                    self._notify()
                    await self._watch.changed()
                self.waiting_for = 0
                self.pulled += 1
                self._notify()
                yield token
        finally:
            self.waiting_for = 0
            self.ended = True
            self._notify()

    def _notify(self) -> None:
        if self._watch is not None:
            self._watch.notify()


@dataclass
class Received:
    """What the client has seen of one response so far, parsed as a browser would."""

    watch: Watch
    disconnect: Disconnect
    chunks: list[bytes] = field(default_factory=list)
    parser: sse.Parser = field(default_factory=sse.Parser)
    exchange: Exchange | None = None
    error: BaseException | None = None
    done: bool = False

    def started(self, llm: FakeLLM) -> bool:
        """The LLM was asked, and an event (or at least the first token's text) arrived."""
        return bool(llm.questions) and (bool(self.events) or llm.tokens[0].encode() in self.body)

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.parser.feed(chunk)
        self.watch.notify()

    @property
    def events(self) -> list[sse.Event]:
        return self.parser.stream.events

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Chat:
    """One finished (or abandoned) GET /chat: the response, and its body read as events."""

    exchange: Exchange | None
    body: bytes
    chunks: list[bytes]
    stream: sse.Stream
    ended: bool  # the response completed within the time allowed

    @property
    def status_code(self) -> int | None:
        return self.exchange.status if self.exchange else None

    @property
    def headers(self) -> dict[str, str]:
        return self.exchange.headers if self.exchange else {}

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@asynccontextmanager
async def in_flight(client: Any, query: str, watch: Watch) -> AsyncIterator[Received]:
    """GET /chat running in the background while the check watches; always wound down.

    Leaving the block hangs up and gives the app a moment to finish. An exception from the
    learner's app is stored and raised by the caller, outside the task group.
    """
    received = Received(watch, Disconnect())

    async def run() -> None:
        try:
            received.exchange = await drive(client.app, "GET", "/chat", query=query, state=client.request_state,
                                            disconnect=received.disconnect, on_body=received.add)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:
            received.error = exc
        finally:
            received.done = True
            watch.notify()

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            yield received
        finally:
            received.disconnect.set()
            await watch.until(lambda: received.done, PATIENCE)
            group.cancel_scope.cancel()


def query_for(question: str | None) -> str:
    return "" if question is None else urlencode({"q": question})


async def whole_answer(client: Any, query: str) -> tuple[Received, bool]:
    watch = Watch()
    async with in_flight(client, query, watch) as got:
        ended = await watch.until(lambda: got.done, STREAM_LIMIT)
    return got, ended


@dataclass(frozen=True)
class Snapshot:
    """The state of the client and the held LLM at one moment."""

    started: bool  # the first token's text had reached the client
    body: bytes
    done: bool
    asked: bool
    pulled: int
    waiting_for: int


def snapshot(got: Received, llm: FakeLLM) -> Snapshot:
    return Snapshot(got.started(llm), got.body, got.done, bool(llm.questions), llm.pulled,
                    llm.waiting_for)


async def first_event_while_held(client: Any, llm: FakeLLM, query: str) -> tuple[Received, Snapshot]:
    """Release one token, hold the second: what has the client got once it settles?"""
    watch = Watch()
    llm.hold(watch, released=1)
    async with in_flight(client, query, watch) as got:
        await watch.until(lambda: got.started(llm) or got.done, PATIENCE)
        seen = snapshot(got, llm)
        llm.release_all()
    return got, seen


@dataclass(frozen=True)
class Departure:
    """What happened when the client hung up while the LLM was held at its second token."""

    before: Snapshot  # when the client hung up (or gave up waiting to)
    ready: bool  # the first event had arrived and the LLM was held at token 2
    app_returned: bool  # the app's request handling ended after the hang-up
    ended: bool  # the LLM stream's `finally` ran
    pulled_after: int  # tokens handed out after the hang-up


async def leave_mid_answer(client: Any, llm: FakeLLM, query: str) -> tuple[Received, Departure]:
    watch = Watch()
    llm.hold(watch, released=1)
    async with in_flight(client, query, watch) as got:
        ready = await watch.until(lambda: (got.started(llm) and llm.waiting_for == 2) or got.done,
                                  PATIENCE)
        before = snapshot(got, llm)
        if not ready or got.done:
            llm.release_all()
            return got, Departure(before, False, got.done, llm.ended, 0)
        got.disconnect.set()
        returned = await watch.until(lambda: got.done, PATIENCE)
        llm.release_all()  # a stream still being read now runs on: that is what we look for
        await watch.until(lambda: llm.ended or llm.pulled > before.pulled, PATIENCE)
        return got, Departure(before, True, returned, llm.ended, llm.pulled - before.pulled)


def expect_closed(left: Departure, sent: str, *, first: str) -> None:
    """The verdict on `leave_mid_answer`: no token pulled after the client left, the stream closed.

    `first` names the check that must pass before this one can say anything.
    """
    if not left.ready:
        fail(sent=sent.split(";")[0], got=f"{received(left.before.body)}; "
                                          f"the LLM held at token {left.before.waiting_for or 'none'}",
             expected="the first event, then the app waiting for the LLM's 2nd token",
             note=f"this check needs {first} to pass first.")
    if left.pulled_after:
        fail(sent=sent, got=f"the app pulled {left.pulled_after} more token(s) from the LLM after "
                            "the client left" + ("" if left.app_returned else
                                                 ", and the request had not ended"),
             expected="no token pulled after the client left: the LLM stream closed with the request",
             note="something still reads the LLM stream (a task started for it?) after the "
                  "response is gone.")
    if not left.ended:
        fail(sent=sent, got="the LLM stream was never closed: its `finally` block had not run "
                            f"{PATIENCE:g} s after the client left",
             expected="the LLM stream closed as soon as the client leaves")


def in_chromium(scenario: Callable[[str], Any]) -> Any:
    """`scenario(executable)` in the installed Chromium. Skipped, with the reason, when there is
    none or it cannot be driven; a failure when the learner's app does not start."""
    from grader.live_server import ServerError  # uvicorn: imported only by the checks that need it

    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium installed (looked for `chromium` and `chromium-browser` on PATH); "
                    "on Debian or Ubuntu, `apt-get install chromium` lets this check run")
    try:
        return scenario(executable)
    except ServerError as exc:
        fail(sent="the app served with uvicorn", got=str(exc), expected="the app to start")
    except BrowserError as exc:
        pytest.skip(f"Chromium ({executable}) is installed but could not be driven: {exc}")


@dataclass
class PageVisit:
    """What a real browser did with the learner's page."""

    url: str
    how: str  # how the question was started
    text: str  # what the page showed at the end
    responses: list[tuple[str, int, str]]  # (url, status, type) the page received
    problems: list[str]  # script errors, console errors, failed loads
    app_errors: list[BaseException]


def visit_page(learner: Learner, llm: FakeLLM, executable: str, profile: Path, seconds: float) -> PageVisit:
    """Serve the app with uvicorn, open /?q=... in Chromium, wait for the whole answer.

    A page that does not start on its own is given the question the way a user would: typed
    into its first text field and submitted.
    """
    from grader.live_server import serving  # uvicorn: imported only by the check that needs it

    deadline = time.monotonic() + seconds
    answer = "".join(llm.tokens)
    with serving(learner.app) as live, open_browser(executable, profile, deadline=deadline) as browser:
        url = f"{live.url}/?{query_for(QUESTION)}"
        session = browser.open(url)
        browser.wait_event("Page.loadEventFired", PATIENCE)
        how, text = "opened the page", ""
        no_page = any(kind == "Document" and status != 200 for _, status, kind in browser.responses())
        if not no_page:
            if not llm.asked.wait(0.5):
                how = browser.ask(session, QUESTION) or "opened the page; it has no text field to ask in"
            def nothing_open() -> bool:  # nothing running in the app: a still page shows all it will
                return not live.open_requests

            text = browser.wait_for_text(session, answer, deadline - time.monotonic(), settled=nothing_open)
            if answer in text:  # what else the stream makes the page show ([DONE]?) comes before its end
                if browser.wait_loaded(min(PATIENCE, deadline - time.monotonic())):
                    text = browser.text(session)  # every request has ended: nothing more comes
                else:
                    text = browser.wait_for_text(session, None, deadline - time.monotonic(),
                                                 settled=nothing_open, still_s=AFTER_ANSWER_S)
        return PageVisit(url, how, text, browser.responses(), browser.page_problems(), list(live.errors))


@dataclass
class StreamingDrill:
    learner: Learner
    llm: FakeLLM
    progress: Callable[[str], None]

    def run(self, client: Any, scenario: Callable[..., Any], *args: Any) -> Any:
        """Run one scenario on the app's event loop; re-raise what the learner's app raised."""
        self.progress("waiting for the answer to GET /chat")
        got, result = client.portal.call(scenario, client, *args)
        if got.error is not None:
            raise got.error
        return got, result

    def chat(self, client: Any, question: str | None = QUESTION) -> Chat:
        got, ended = self.run(client, whole_answer, query_for(question))
        return Chat(got.exchange, got.body, list(got.chunks), got.parser.close(), ended)

    def sent(self, question: str | None = QUESTION) -> str:
        asked = "GET /chat" + (f"?{query_for(question)}" if question is not None else " (no q)")
        return f"{asked}, the LLM answering {len(self.llm.tokens)} tokens {shown(self.llm.tokens)}"


@pytest.fixture
def streaming(request: pytest.FixtureRequest, load_learner) -> StreamingDrill:
    llm = FakeLLM(TOKENS)
    learner = load_learner({"llm": llm})
    return StreamingDrill(learner, llm, session_of(request.config).progress)


# -- showing and naming what went wrong ------------------------------------------------------

def shown(items: list[str], limit: int = 300) -> str:
    text = "[" + ", ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"
    return text if len(text) <= limit else text[: limit - 1] + "…]"


def raw(body: bytes, head: int = 240, tail: int = 100) -> str:
    """The bytes as received, escaped (\\n, \\r visible) and cut in the middle when long."""
    if len(body) <= head + tail + 20:
        return repr(body)
    return f"{body[:head]!r} … {body[-tail:]!r} ({len(body)} bytes in all)"


def received(body: bytes) -> str:
    """The raw body beside the events a browser reads in it."""
    stream = sse.parse(body)
    events = f"{len(stream.events)} event{'s' * (len(stream.events) != 1)} {shown(stream.data)}"
    return f"body {raw(body)}\n          which a browser reads as {events}"


def mistake(stream: sse.Stream, tokens: list[str]) -> str:
    """Name the common mistake the parsed body shows, or ''."""
    data = [d for d in stream.data if d != DONE]
    quoted = [d for d in data if _json_string(d) in tokens and d not in tokens]
    if quoted:
        return (f"the data arrives JSON-encoded ({quoted[0]} instead of {_json_string(quoted[0])}). "
                "With response_class=EventSourceResponse a plain `yield token` is encoded as JSON: "
                "yield ServerSentEvent(raw_data=token) to send the raw text.")
    cut = [line for t in tokens for line in t.split("\n")[1:]]
    if any(line in cut for line in stream.ignored):
        return ("a token holding a newline was written on one `data:` line: the text after the "
                "newline has no `data:` field, so browsers drop it. Write one `data:` line per "
                "line of the token.")
    if stream.ignored:
        return (f"browsers ignore lines that are not `data: ...` fields, such as {stream.ignored[0]!r}: "
                "start each line of an event with `data: `.")
    if any("\n" in d and d not in tokens for d in data) or (not stream.events and any(
            line.startswith("data") for line in stream.unfinished)):
        return ("events must be separated by a blank line: without one, data lines run together "
                "into one event (or never end). End every event with \"\\n\\n\".")
    if any(line.startswith("data") for line in stream.unfinished):
        return (f"the stream ended in the middle of an event ({stream.unfinished[0]!r} has no "
                "blank line after it), so browsers drop that event.")
    lost = [t for t in tokens if t.startswith(" ") and t.lstrip(" ") in data]
    if lost:
        return (f"the token {lost[0]!r} arrived as {lost[0].lstrip(' ')!r}. Browsers remove exactly "
                "one space after `data:`, so `data:` + token loses a leading space: write `data: ` "
                "(with the space) before the text, and never strip the tokens.")
    return ""


def _json_string(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None
