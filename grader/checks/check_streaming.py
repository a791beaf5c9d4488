"""Checks for drill 3, streaming (docs/contract.md). Timing is observed through gates, never sleeps.

Bodies are read with grader.sse, the way a browser's EventSource reads them; a failure
shows the raw bytes beside the events they parse to, and names the mistake when it is a
common one.
"""

from __future__ import annotations

import json

import pytest

from grader import sse
from grader.fakes.streaming import (
    DONE, MULTILINE_TOKENS, PAGE_TOKENS, PATIENCE, QUESTION, STREAM_LIMIT, TOKENS, Chat, PageVisit,
    StreamingDrill, Watch, expect_closed, in_chromium, in_flight, leave_mid_answer, mistake, query_for,
    received, shown, snapshot, visit_page)
from grader.expect import describe, fail, trim
from grader.engine.learner import explain

check = pytest.mark.check
UNICODE_QUESTION = "What's in chapter 2? (résumé & co)"
BROWSER_S = 7.0  # Chromium's start, the page, the whole answer: well inside the check's limit


def head(chat: Chat) -> str:
    """Status and Content-Type, then the body, for checks about the response itself."""
    if chat.exchange is None or chat.status_code is None:
        return f"no response started within {STREAM_LIMIT:g} s"
    kind = chat.headers.get("content-type", "(none)")
    return f"{describe(chat)}; Content-Type {kind}"


def expect_streamed(streaming: StreamingDrill, chat: Chat, sent: str) -> None:
    """The basics every body check needs: a 200 that came from the grader's llm."""
    if chat.status_code != 200:
        fail(sent=sent, got=head(chat), expected="200 and a stream of events")
    if not streaming.llm.questions:
        fail(sent=sent, got=received(chat.body),
             expected="events made from the tokens of the grader's `llm`",
             note="llm.stream was never called. Call it through the module-level name `llm` "
                  "when the request runs (not a copy taken at import).")


def ask(streaming: StreamingDrill, serve, question: str | None = QUESTION) -> Chat:
    with serve(streaming.learner) as client:
        return streaming.chat(client, question)


def expect_each_token(streaming: StreamingDrill, serve, tokens: list[str]) -> None:
    """The LLM answers `tokens`: one event per token must arrive, data exactly the token."""
    streaming.llm.tokens = list(tokens)
    chat, sent = ask(streaming, serve), streaming.sent()
    expect_streamed(streaming, chat, sent)
    if token_data(chat.stream.data) != tokens:
        fail(sent=sent, got=received(chat.body),
             expected=f"one event per token, in order: {shown(tokens)} (then {DONE}), "
                      "each ended by a blank line",
             note=lost_last_newline(chat.stream, tokens) or mistake(chat.stream, tokens) or _unended(chat))


def token_data(data: list[str]) -> list[str]:
    """The events' data without the end marker (a last one near [DONE] is done_last's to judge)."""
    data = [d for d in data if d != DONE]
    return data[:-1] if data and data[-1].strip() == DONE else data


def lost_last_newline(stream, tokens: list[str]) -> str:
    """Name a token that arrived without its final newline(s): what `splitlines()` does."""
    data = token_data(stream.data)
    if len(data) != len(tokens):
        return ""
    cut = [(t, d) for t, d in zip(tokens, data) if t != d]
    if cut and all(len(d) < len(t) and t.rstrip("\n") == d.rstrip("\n") for t, d in cut):
        token, got = cut[0]
        return (f"every event arrived, but the token {json.dumps(token)} arrived as {json.dumps(got)}: "
                "its last newline was lost. `splitlines()` drops the empty line after a final "
                "newline; split on \"\\n\" instead, so every line of the token, the last empty one "
                "too, gets its own `data:` line.")
    return ""


def _unended(chat: Chat) -> str:
    return "" if chat.ended else f"the response had not ended after {STREAM_LIMIT:g} s."


@check("streaming.event_stream")
def check_event_stream(streaming, serve):
    chat = ask(streaming, serve)
    if chat.status_code != 200 or chat.media_type != "text/event-stream":
        fail(sent=streaming.sent(), got=head(chat), expected="200 with Content-Type text/event-stream")


@check("streaming.frames_tokens")
def check_frames_tokens(streaming, serve):
    expect_each_token(streaming, serve, TOKENS)


@check("streaming.done_last")
def check_done_last(streaming, serve):
    chat = ask(streaming, serve)
    sent = streaming.sent()
    if chat.status_code != 200:
        fail(sent=sent, got=head(chat), expected="200 and a stream of events ending with [DONE]")
    data = chat.stream.data
    if data.count(DONE) != 1 or data[-1] != DONE:
        near = [d for d in data if d != DONE and d.strip() == DONE]
        where = (f"no event with data exactly {DONE}; instead an event with data {json.dumps(near[0])}"
                 if near and DONE not in data else
                 f"no [DONE] event; the last event's data was {json.dumps(data[-1])}"
                 if data and DONE not in data else
                 "no [DONE] event" if DONE not in data else
                 f"{data.count(DONE)} [DONE] events" if data.count(DONE) > 1 else
                 f"[DONE] as event {data.index(DONE) + 1} of {len(data)}")
        note = (f"the data of an event is everything after `data: `, spaces included: {json.dumps(near[0])} "
                f"is not {DONE}" if near else "")
        fail(sent=sent, got=f"{where}: {received(chat.body)}",
             expected=f"exactly one event with data {DONE}, after the last token",
             note=note or mistake(chat.stream, streaming.llm.tokens) or _unended(chat))


async def first_event_dispatched(client, llm, query: str):
    """Release one token, hold the second: has a complete event (WHATWG) been dispatched?

    Stricter than the token's text arriving: an app that writes the blank line before each
    event leaves the first one undispatched until the second begins, one event late.
    """
    watch = Watch()
    llm.hold(watch, released=1)
    async with in_flight(client, query, watch) as got:
        await watch.until(lambda: bool(got.events) or got.done, PATIENCE)
        seen = snapshot(got, llm)
        dispatched = [event.data for event in got.events]
        llm.release_all()
    return got, (seen, dispatched)


@check("streaming.incremental")
def check_incremental(streaming, serve):
    sent = streaming.sent() + ", the LLM holding its 2nd token until the 1st event arrives"
    with serve(streaming.learner) as client:
        got, (seen, dispatched) = streaming.run(client, first_event_dispatched, streaming.llm,
                                                query_for(QUESTION))
    if seen.asked and dispatched:
        return
    so_far = received(seen.body)
    if not seen.asked:
        fail(sent=sent, got=f"llm.stream was never called; the client received {so_far}",
             expected="llm.stream(q) called, and its first token sent as an event at once")
    if seen.done:
        fail(sent=sent, got=f"the response ended without a single event: {so_far}",
             expected="the first token as an event, sent as soon as it exists")
    if seen.started:
        fail(sent=sent, got=f"after {PATIENCE:g} s with the 2nd token held back, the client had "
                            f"received {so_far}",
             expected="a complete first event: its data line, then the blank line that ends it",
             note=mistake(sse.parse(seen.body), streaming.llm.tokens) if sse.parse(seen.body).ignored
             else "the first token arrived, but its event is not ended yet, so a browser has not "
                  "shown it: end each event with its blank line as you send it (a blank line "
                  "written before the next event makes every event one token late).")
    fail(sent=sent, got=f"after {PATIENCE:g} s with the 2nd token held back, the client had "
                        f"received {so_far}",
         expected="the first event to reach the client at once, before the LLM makes its 2nd token",
         note="the response is buffered: it waits for more of the answer before sending anything. "
              "Send each event as soon as its token exists.")


@check("streaming.passes_question")
def check_passes_question(streaming, serve):
    chat = ask(streaming, serve, UNICODE_QUESTION)
    sent = streaming.sent(UNICODE_QUESTION)
    asked = streaming.llm.questions
    if asked != [UNICODE_QUESTION]:
        called = (f"llm.stream called with {', '.join(repr(q) for q in asked)}" if asked
                  else "llm.stream never called")
        fail(sent=sent, got=f"{called}; {head(chat)}",
             expected=f"llm.stream called once, with q exactly: {UNICODE_QUESTION!r}")


@check("streaming.requires_question")
def check_requires_question(streaming, serve):
    chat = ask(streaming, serve, None)
    if chat.status_code != 422:
        fail(sent=streaming.sent(None), got=head(chat), expected="422 Unprocessable Content")


@check("streaming.multiline_tokens")
def check_multiline_tokens(streaming, serve):
    expect_each_token(streaming, serve, MULTILINE_TOKENS)


@check("streaming.stops_on_disconnect")
def check_stops_on_disconnect(streaming, serve):
    llm = streaming.llm
    sent = (streaming.sent() + "; once the 1st event arrived (the LLM holding its 2nd token), "
            "the client hung up and the LLM was let go")
    with serve(streaming.learner) as client:
        got, left = streaming.run(client, leave_mid_answer, llm, query_for(QUESTION))
    expect_closed(left, sent, first="streaming.incremental")


@check("streaming.no_cache")
def check_no_cache(streaming, serve):
    chat = ask(streaming, serve)
    cache = [v.strip().lower() for v in chat.headers.get("cache-control", "").split(",")]
    accel = chat.headers.get("x-accel-buffering", "").strip().lower()
    if "no-cache" not in cache or accel != "no":
        shown_headers = "; ".join(f"{k}: {chat.headers[k]}" for k in ("cache-control", "x-accel-buffering")
                                  if k in chat.headers) or "neither header"
        fail(sent=streaming.sent(), got=shown_headers,
             expected="Cache-Control: no-cache and X-Accel-Buffering: no")


@check("streaming.browser_page")
def check_browser_page(streaming, workdir):
    streaming.llm.tokens = list(PAGE_TOKENS)
    answer = "".join(PAGE_TOKENS)
    streaming.progress("waiting for the page to show the answer in headless Chromium")
    visit = in_chromium(lambda executable: visit_page(streaming.learner, streaming.llm, executable,
                                                      workdir / "chromium", BROWSER_S))
    sent = (f"GET /?{query_for(QUESTION)} in headless Chromium ({visit.how}), "
            f"the LLM answering {shown(PAGE_TOKENS)}")
    page = [status for url, status, kind in visit.responses if kind == "Document"]
    if page and page[0] != 200:
        fail(sent=sent, got=f"GET / answered {page[0]}", expected="200 and an HTML page at /")
    if answer not in visit.text:
        # the same words however the wait ended (its stream over, or BROWSER_S), for repeatable reports
        fail(sent=sent, got=f"the page showed {_page_text(visit)}, and nothing more",
             expected=f"the page to show the whole answer: {answer}", note=_what_happened(visit, streaming))
    if DONE in visit.text:
        fail(sent=sent, got=f"the page showed {_page_text(visit)}",
             expected=f"the answer {answer} without the [DONE] marker",
             note="[DONE] tells the page the answer is complete: close the EventSource there, "
                  "and show only the tokens.")


def _page_text(visit: PageVisit) -> str:
    return repr(trim(visit.text.strip(), 200)) if visit.text.strip() else "no text at all"


def _what_happened(visit: PageVisit, streaming: StreamingDrill) -> str:
    chat = [f"{status} ({kind})" for url, status, kind in visit.responses if "/chat" in url]
    facts = [f"llm.stream was called {len(streaming.llm.questions)} time(s)",
             "GET /chat answered " + (", ".join(chat) if chat else "never: the page did not request it")]
    facts += [f"the page reported: {trim(p, 200)}" for p in visit.problems[:3]]
    facts += [f"your app {explain(e, streaming.learner.path)}" for e in visit.app_errors[:2]]
    return "; ".join(facts) + "."

