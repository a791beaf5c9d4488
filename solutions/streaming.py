"""Drill 3, streaming: one solution. Lesson: notebooks/03_streaming_sse.ipynb.

GET /chat?q=... streams the LLM's answer as Server-Sent Events, one event per token as soon
as it exists, then a last `[DONE]` event; GET / serves a chat page that reads it with the
browser's EventSource. Grade it with `docchat-grade solutions/streaming.py`.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

DONE = "[DONE]"

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>DocChat</title>
<form><input name="q" placeholder="Ask your PDFs" size="40"> <button>Ask</button></form>
<pre id="answer"></pre>
<script>
  // The form reloads the page as /?q=...; a question in the URL starts the stream.
  const q = new URLSearchParams(location.search).get("q");
  document.querySelector("input").value = q || "";
  if (q) {
    const answer = document.getElementById("answer");
    const es = new EventSource("/chat?" + new URLSearchParams({q}));
    es.onmessage = (event) => {
      // Close at [DONE]: left open, EventSource would reconnect and ask again.
      if (event.data === "[DONE]") { es.close(); return; }
      answer.textContent += event.data;
    };
  }
</script>
"""


class DemoLLM:
    """A stand-in model so the app runs on its own (the grader swaps in its own `llm`)."""

    async def stream(self, q: str) -> AsyncIterator[str]:
        for token in ["DocChat", " streams", " answers", "\ntoken", " by", " token."]:
            await asyncio.sleep(0.2)
            yield token


llm = DemoLLM()

app = FastAPI(title="DocChat streaming")


# The native SSE response frames each event, sends it as soon as it is yielded, and adds
# Cache-Control: no-cache and X-Accel-Buffering: no (so nginx does not buffer the stream).
@app.get("/chat", response_class=EventSourceResponse)
async def chat(q: str) -> AsyncIterator[ServerSentEvent]:
    # `llm` is looked up here, at request time, so the grader's stand-in is the one used.
    # aclosing: when the client leaves, the LLM stream is closed at once, not left to the GC.
    async with aclosing(llm.stream(q)) as tokens:
        async for token in tokens:
            # raw_data sends the text as it is, one `data:` line per line of it; a plain
            # `yield token` would be JSON-encoded, quotes included.
            yield ServerSentEvent(raw_data=token)
    yield ServerSentEvent(raw_data=DONE)


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE
