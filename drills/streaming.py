"""Drill 3, streaming. Lesson: notebooks/03_streaming_sse.ipynb.

Build GET /chat?q=..., the answer stream of DocChat: send the LLM's answer as Server-Sent
Events (`text/event-stream`), one event per token as soon as the token exists, whose data is
the token's raw text, then one last event whose data is `[DONE]`.

Check your work with:  docchat-grade drills/streaming.py
Stuck on a check?      docchat-grade hint streaming.<check>
Try it in a browser:   uvicorn drills.streaming:app --reload

The grader swaps `llm` for its own fake model: call `llm.stream(q)` by this module-level
name when a request runs.
"""

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI


class DemoLLM:
    """A stand-in model so the app runs on its own. Leave it as it is: the grader replaces it."""

    async def stream(self, q: str) -> AsyncIterator[str]:
        for token in ["DocChat", " streams", " answers", "\ntoken", " by", " token."]:
            await asyncio.sleep(0.2)
            yield token


llm = DemoLLM()

app = FastAPI(title="DocChat streaming")


@app.get("/chat")
async def chat(q: str):
    # TODO: stream the tokens of llm.stream(q) as Server-Sent Events (text/event-stream),
    #       one event per token, sent as soon as the token arrives. Tokens may hold "\n".
    # TODO: finish with one last event whose data is [DONE].
    return {"question": q}


# TODO (going further): when the client leaves, close the LLM stream (no more tokens pulled).
# TODO (going further): GET / serving a chat page that shows the answer with EventSource.
