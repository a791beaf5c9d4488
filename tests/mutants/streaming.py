"""Buggy streaming apps: the mistakes learners make, each caught by the check that names it."""

from grader.browser import find_chromium
from tests.mutants import SOLUTIONS, Mutant

SOLUTION = (SOLUTIONS / "streaming.py").read_text()
ROUTE = SOLUTION[SOLUTION.index('@app.get("/chat"'):SOLUTION.index('@app.get("/", ')]
SAFE = '"".join(f"data: {line}\\n" for line in data.split("\\n")) + "\\n"'
DONE_FRAME = '"data: [DONE]\\n\\n"'
NO_BUFFERING = '{"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}'
# Without Chromium the browser check is skipped (with its reason), never failed.
BROWSER = "failed" if find_chromium() else "skipped"


def hand_rolled(frame: str, *, done: str = "frame(DONE)", media: str = "text/event-stream",
                headers: str = NO_BUFFERING) -> tuple[tuple[str, str], ...]:
    """The route rewritten as a StreamingResponse that frames each event with `frame`."""
    route = f'''def frame(data: str) -> str:
    return {frame}


@app.get("/chat")
async def chat(q: str):
    async def events():
        async with aclosing(llm.stream(q)) as tokens:
            async for token in tokens:
                yield frame(token)
        yield {done}

    return StreamingResponse(events(), media_type={media!r}, headers={headers})


'''
    return ((ROUTE, route),
            ("from fastapi.responses import HTMLResponse\n",
             "from fastapi.responses import HTMLResponse, StreamingResponse\n"))


MUTANTS = [
    # Also no EventSourceResponse headers, but no_cache is a stretch check.
    Mutant("text_plain", "streaming.event_stream", hand_rolled(SAFE, media="text/plain")),
    # Every token framed wrong fails multiline_tokens too: its tokens are tokens.
    Mutant("json_quoted", "streaming.frames_tokens", (
        ("            yield ServerSentEvent(raw_data=token)\n", "            yield token\n"),),
        also=("streaming.multiline_tokens",)),
    # With no blank lines every data line, [DONE] included, runs into one event, and no event
    # is complete while the LLM holds its 2nd token.
    Mutant("no_blank_line", "streaming.frames_tokens", hand_rolled('f"data: {data}\\n"', done=DONE_FRAME),
           also=("streaming.done_last", "streaming.incremental", "streaming.multiline_tokens")),
    # Lines without `data:` are no events at all, so none has arrived while the LLM is held.
    Mutant("no_data_prefix", "streaming.frames_tokens", hand_rolled('f"{data}\\n\\n"', done=DONE_FRAME),
           also=("streaming.multiline_tokens", "streaming.incremental")),
    # The stand-in DemoLLM answers instead of the grader's llm, so the tokens are wrong too,
    # and the grader's llm (held by streaming.incremental) never gets to speak at all.
    Mutant("seam_copied_at_import", "streaming.passes_question", (
        ("async with aclosing(llm.stream(q))", "async with aclosing(ASK(q))"),
        ("llm = DemoLLM()\n", "llm = DemoLLM()\nASK = llm.stream\n")),
        also=("streaming.frames_tokens", "streaming.incremental", "streaming.multiline_tokens")),
    Mutant("no_done", "streaming.done_last", (("    yield ServerSentEvent(raw_data=DONE)\n", ""),)),
    Mutant("done_trailing_space", "streaming.done_last", hand_rolled(SAFE, done='"data: [DONE] \\n\\n"')),
    Mutant("done_first", "streaming.done_last", (
        ("    yield ServerSentEvent(raw_data=DONE)\n", ""),
        ("    async with aclosing(llm.stream(q)) as tokens:\n",
         "    yield ServerSentEvent(raw_data=DONE)\n    async with aclosing(llm.stream(q)) as tokens:\n"))),
    Mutant("buffers_answer", "streaming.incremental", (
        ("        async for token in tokens:\n", "        for token in [t async for t in tokens]:\n"),)),
    # The blank line before each event, not after: each event is dispatched one event late.
    Mutant("blank_line_first", "streaming.incremental",
           hand_rolled('"\\n" + "".join(f"data: {line}\\n" for line in data.split("\\n"))',
                       done='"\\ndata: [DONE]\\n\\n"')),
    Mutant("ignores_question", "streaming.passes_question", (
        ("aclosing(llm.stream(q))", 'aclosing(llm.stream("What is DocChat?"))'),)),
    Mutant("question_optional", "streaming.requires_question", (
        ("async def chat(q: str)", 'async def chat(q: str = "")'),)),
    Mutant("naive_frames", "streaming.multiline_tokens", hand_rolled('f"data: {data}\\n\\n"')),
    # splitlines() drops the empty line after a final newline: "last line\n" arrives as "last line".
    Mutant("splitlines_frames", "streaming.multiline_tokens",
           hand_rolled('"".join(f"data: {line}\\n" for line in data.splitlines()) + "\\n"')),
    Mutant("strips_tokens", "streaming.multiline_tokens", (
        ("ServerSentEvent(raw_data=token)", "ServerSentEvent(raw_data=token.strip())"),)),
    Mutant("producer_task", "streaming.stops_on_disconnect", (
        ("    async with aclosing(llm.stream(q)) as tokens:\n        async for token in tokens:\n",
         "    queue = asyncio.Queue()\n\n"
         "    async def pump() -> None:  # outlives the request\n"
         "        async for token in llm.stream(q):\n"
         "            await queue.put(token)\n"
         "        await queue.put(None)\n\n"
         "    asyncio.get_running_loop().create_task(pump())\n"
         "    if True:\n"
         "        while (token := await queue.get()) is not None:\n"),)),
    Mutant("no_cache_headers", "streaming.no_cache", hand_rolled(SAFE, headers="None")),
    Mutant("no_page", "streaming.browser_page", (('@app.get("/", ', '@app.get("/page", '),), status=BROWSER),
    Mutant("page_shows_done", "streaming.browser_page", (
        ('if (event.data === "[DONE]") { es.close(); return; }',
         'if (event.data === "[DONE]") es.close();'),), status=BROWSER),
]
