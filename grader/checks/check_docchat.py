"""Checks for drill 6, DocChat end to end (docs/contract.md).

Real PDFs made by the grader go through the learner's whole product: upload, the queue,
pypdf, the full-text index and the streamed answer. Only `llm` is the grader's.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlencode
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from grader.expect import compact, describe, fail, json_body, trim
from grader.engine.learner import explain
from grader.fakes.docchat import (
    DONE, FINAL, INGEST_S, MAX_BYTES, PAGE_TOKENS, QUESTION, SENTENCE, SETTLE_LIMIT, TOKENS, UPLOADED, PageRun,
    corrupt, handbook, long_report, pdf, sent_upload, use_page)
from grader.fakes.streaming import expect_closed, in_chromium, leave_mid_answer

check = pytest.mark.check
# Long PDFs, all queued at once: the workers take some (the solution has two), the others are
# still queued when the app stops, as the ones taken last well beyond the stop; more PDFs only
# when none was still queued (a consumer with more workers).
UPLOADS, REPORT_PAGES = (3, 9), 500
SOURCE_SHAPE = '[{"page": 2, "chunk": ..., "text": "..."}, ...]'


def files_holding(data_dir: Path, data: bytes) -> list[str]:
    """Files under DATA_DIR whose bytes are `data`, or a start of it (a partial upload)."""
    found = []
    for folder, _, names in os.walk(data_dir):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file() or not 0 < path.stat().st_size <= len(data):
                continue
            if data.startswith(path.read_bytes()):
                found.append(str(path.relative_to(data_dir)))
    return found


def expect_envelope(response, status: int, *, sent: str, note: str = "") -> None:
    """`status` with the API's one error shape: {"error": <code>, "detail": ...}."""
    body = json_body(response, sent=sent)
    if response.status_code != status or not isinstance(body, dict) or not isinstance(body.get("error"), str):
        fail(sent=sent, got=describe(response),
             expected=f'{status} with the error envelope {{"error": "<code>", "detail": ...}}', note=note)


def failed_with(client, data: bytes, filename: str) -> tuple[str, dict]:
    job_id = client.uploaded(data, filename)
    return job_id, client.settle([job_id])[job_id]


def sources_of(stream, *, sent: str) -> list:
    """The data of the stream's one `sources` event, as JSON: a list of chunks."""
    events = [e for e in stream.events if e.type == "sources"]
    if len(events) != 1:
        fail(sent=sent, got=f"{len(events)} events of type `sources`",
             expected=f"exactly one `event: sources` whose data is JSON like {SOURCE_SHAPE}")
    try:
        sources = json.loads(events[0].data)
    except ValueError:
        sources = None
    if not isinstance(sources, list) or not all(isinstance(s, dict) and "page" in s for s in sources):
        fail(sent=sent, got=f"sources data {trim(events[0].data, 200)!r}",
             expected=f"a JSON list of the chunks used, like {SOURCE_SHAPE}")
    return sources


@check("docchat.accepts_pdf_202")
def check_accepts_pdf_202(docchat):
    data = handbook()
    sent = sent_upload(data, "handbook.pdf")
    with docchat.running() as client:
        response = client.upload(data)
    body = json_body(response, sent=sent)
    ok = (response.status_code == 202 and isinstance(body, dict) and body.get("status") == "queued"
          and all(isinstance(body.get(k), str) and body[k] for k in ("job_id", "document_id")))
    if not ok:
        fail(sent=sent, got=describe(response), expected=f"202 Accepted with JSON {UPLOADED}")


@check("docchat.rejects_non_pdf_415")
def check_rejects_non_pdf_415(docchat):
    data = b"Meeting notes: the budget is due on Friday.\n" * 20
    sent = sent_upload(data, "notes.txt", "text/plain")
    with docchat.running() as client:
        response = client.upload(data, "notes.txt", "text/plain")
    expect_envelope(response, 415, sent=sent)
    if saved := files_holding(docchat.data_dir, data):
        fail(sent=sent, got=f"415, but the file was saved anyway: {', '.join(saved)}",
             expected="nothing written for a refused upload")


@check("docchat.rejects_oversized_413")
def check_rejects_oversized_413(docchat):
    valid = handbook()
    data = valid + b"%" + b"x" * (MAX_BYTES - len(valid))  # a PDF comment: MAX_BYTES + 1 bytes
    sent = sent_upload(data, "big.pdf") + f" with MAX_BYTES = {MAX_BYTES}"
    with docchat.running() as client:
        response = client.upload(data, "big.pdf")
        expect_envelope(response, 413, sent=sent)
        if left := files_holding(docchat.data_dir, data):
            fail(sent=sent, got=f"413, but part of the file was left behind: {', '.join(left)}",
                 expected="no trace of a refused upload", note="delete what you wrote before refusing")
        accepted = client.upload(valid)
    if not 200 <= accepted.status_code < 300:
        fail(sent=f"{sent}, then a small PDF", got=describe(accepted), expected="202: a PDF under the limit is fine",
             note="the limit is MAX_BYTES, read when the request runs")


@check("docchat.ingests_to_done")
def check_ingests_to_done(docchat):
    data = handbook()
    with docchat.running() as client:
        job_id = client.uploaded(data)
        job = client.settle([job_id])[job_id]
        sent = (f"{sent_upload(data, 'handbook.pdf')} (a real 3-page PDF), then GET /jobs/{job_id} "
                f"until it settled (at most {SETTLE_LIMIT:g} s)")
        if job.get("status") != "done" or job.get("job_id") != job_id or "error" not in job:
            fail(sent=sent, got=f"the job {trim(compact(job), 300)}",
                 expected=f'{{"job_id": "{job_id}", "status": "done", "error": null}}',
                 note={"queued": "nothing took the job off the queue: is the consumer started in the lifespan?",
                       "processing": "the job started but never recorded how it ended"}.get(job.get("status"), ""))
        document_id = client.documents[job_id]
        response = client.request("GET", f"/documents/{document_id}", f"GET /documents/{document_id}")
        body = json_body(response, sent=f"GET /documents/{document_id}")
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "done":
            fail(sent=f"{sent}; then GET /documents/{document_id}", got=describe(response),
                 expected='200 with the document, its "status" "done"')


@check("docchat.chat_streams_answer")
def check_chat_streams_answer(docchat):
    with docchat.running() as client:
        document_id = client.ingested(handbook())
        response, stream = client.chat(QUESTION, document_id)
    sent = (f"GET /chat?q={QUESTION}&document_id={document_id} for an ingested 3-page PDF whose "
            f"page 2 alone says {SENTENCE!r}; the grader's llm streams {TOKENS!r}")
    media = response.headers.get("content-type", "")
    if response.status_code != 200 or not media.startswith("text/event-stream"):
        fail(sent=sent, got=describe(response), expected="200 with media type text/event-stream")
    messages = [e.data for e in stream.events if e.type == "message"]
    if messages[:-1] != TOKENS:
        fail(sent=sent, got=f"message events {trim(repr(messages), 300)}",
             expected=f"one event per token, each token intact, then [DONE]: {TOKENS + [DONE]!r}",
             note="a token may hold a line break: each of its lines needs its own `data:` line")
    if not stream.events or stream.events[-1].data != DONE or messages.count(DONE) != 1:
        fail(sent=sent, got=f"events ending {trim(repr(stream.data[-3:]), 200)}",
             expected="exactly one [DONE], the very last event (after the sources)")
    calls = docchat.llm.calls
    context = calls[-1][1] if calls else None
    if not calls or calls[-1][0] != QUESTION or not isinstance(context, list) \
            or not any(isinstance(c, str) and SENTENCE in c for c in context):
        fail(sent=sent, got=f"llm.stream called with {trim(repr(calls[-1]) if calls else 'nothing', 300)}",
             expected=f"llm.stream(q, context): the question, and a list of chunk texts that holds {SENTENCE!r}")
    sources = sources_of(stream, sent=sent)
    if not sources or sources[0].get("page") != 2:
        fail(sent=sent, got=f"sources {trim(compact(sources), 300)}",
             expected=f"the best chunk first, and it is on page 2 (numbered from 1): {SOURCE_SHAPE}")


@check("docchat.stops_on_disconnect")
def check_stops_on_disconnect(docchat):
    llm = docchat.llm
    with docchat.running() as client:
        document_id = client.ingested(handbook())
        query = urlencode({"q": QUESTION, "document_id": document_id})
        got, left = client.client.portal.call(leave_mid_answer, client.client, llm, query)
    if got.error is not None:
        raise got.error
    sent = (f"GET /chat?{query} for an ingested PDF; once the 1st event arrived (the LLM holding its "
            "2nd token), the client hung up and the LLM was let go")
    expect_closed(left, sent, first="docchat.chat_streams_answer")


@check("docchat.chat_409_before_ingest")
def check_chat_409_before_ingest(docchat):
    with docchat.running() as client:
        job_id, job = failed_with(client, corrupt(), "broken.pdf")
        document_id = client.documents[job_id]
        response, _ = client.chat(QUESTION, document_id)
    sent = (f"GET /chat?q=...&document_id={document_id} for a document whose ingest ended "
            f"{job.get('status')!r}")
    expect_envelope(response, 409, sent=sent,
                    note="a document is ready for chat only once its job is done: refuse before streaming")


@check("docchat.delete_removes")
def check_delete_removes(docchat):
    data = handbook()
    with docchat.running() as client:
        document_id = client.ingested(data)
        sent = f"DELETE /documents/{document_id} (an ingested document)"
        response = client.request("DELETE", f"/documents/{document_id}", sent)
        if response.status_code != 204 or response.content:
            fail(sent=sent, got=describe(response), expected="204 No Content with an empty body")
        after, stream = client.chat(QUESTION, document_id)
        if after.status_code != 404:
            fail(sent=f"{sent}, then GET /chat?q=...&document_id={document_id}", got=describe(after),
                 expected="404 in the error envelope: a deleted document is gone from chat",
                 note="delete the document's row and its chunks from the index, not only its file")
        expect_envelope(after, 404, sent=f"{sent}, then GET /chat for it")
        if left := files_holding(docchat.data_dir, data):
            fail(sent=sent, got=f"204, but its PDF is still there: {', '.join(left)}", expected="its file gone")


@check("docchat.corrupt_pdf_fails")
def check_corrupt_pdf_fails(docchat):
    cases = [(corrupt(), "broken.pdf", "a corrupt PDF", ("corrupt", "damaged", "invalid", "malformed")),
             (pdf(["", ""]), "scan.pdf", "a PDF whose two pages hold no text", ("text",))]
    with docchat.running() as client:
        for data, filename, what, words in cases:
            job_id, job = failed_with(client, data, filename)
            error = job.get("error")
            sent = f"{sent_upload(data, filename)}: {what}; then GET /jobs/{job_id} until it settled"
            if job.get("status") != "failed" or not isinstance(error, str):
                fail(sent=sent, got=f"the job {trim(compact(job), 300)}",
                     expected='"status": "failed" with an "error" saying why',
                     note="catch what pypdf raises (and a PDF with no text) in the job, and record it")
            if not any(word in error.lower() for word in words):
                fail(sent=sent, got=f"error {trim(repr(error), 200)}",
                     expected=f"an error a user understands, naming the reason (a word like {words[0]!r})")


@check("docchat.concurrent_uploads")
def check_concurrent_uploads(docchat):
    n = 10
    files = [handbook(tag=f"copy {i}") for i in range(n)]
    sent = f"{n} different PDFs uploaded at once (from threads), then each job followed and each document asked"
    with docchat.running() as client:
        with ThreadPoolExecutor(n) as pool:
            job_ids = list(pool.map(client.uploaded, files))
        if len(set(job_ids)) != n:
            fail(sent=sent, got=f"{len(set(job_ids))} different job ids", expected=f"{n} different job ids",
                 note="make a fresh id for each upload: a count, a clock or the client's filename repeats "
                      "when uploads overlap")
        seen = client.settle(job_ids)
        unfinished = Counter(job.get("status") for job in seen.values() if job.get("status") != "done")
        if unfinished:
            fail(sent=sent, got="not done: " + ", ".join(f"{c} {s!r}" for s, c in unfinished.items()),
                 expected=f"all {n} jobs done")
        for job_id in job_ids:
            _, stream = client.chat(QUESTION, client.documents[job_id])
            sources = sources_of(stream, sent=sent)
            keys = [(s.get("page"), s.get("chunk")) for s in sources]
            if len(keys) != len(set(keys)):
                fail(sent=sent, got=f"sources {trim(compact(sources), 300)}: the same chunk more than once",
                     expected="each chunk indexed once: every job ingested exactly once")


@check("docchat.survives_restart")
def check_survives_restart(docchat, load_learner):
    for count in UPLOADS:
        uploads = [(long_report(f"R{n}", REPORT_PAGES), f"report-{n}.pdf") for n in range(count)]
        with docchat.running() as client:
            job_ids = client.uploaded_together(uploads)
        # A restart is a new process: the module imported afresh (same DATA_DIR, same working
        # directory), then started.
        docchat = replace(docchat, learner=load_learner(docchat.seams))
        with docchat.running() as client:
            restarted = Counter(client.job(job_id).get("status") for job_id in job_ids)
            if set(restarted) <= set(FINAL) and count != UPLOADS[-1]:
                continue  # every job ended before the app stopped (many workers?): nothing to judge yet
            after, lost = client.settle_behind(job_ids, handbook(tag="probe"))
        break
    unfinished = {job_id: job.get("status") for job_id, job in after.items() if job.get("status") != "done"}
    sent = (f"{count} PDFs of {REPORT_PAGES} pages uploaded at once, and the app stopped as soon as they were "
            "answered; the app started again in the same DATA_DIR, its module imported afresh (statuses "
            f"then: {', '.join(f'{c} {s!r}' for s, c in restarted.items())}); then GET /jobs/{{id}} for each")
    if lost:
        fail(sent=sent + ", and two more PDFs uploaded one after the other",
             got=f"{len(lost)} job(s) still queued after both later uploads were done: {', '.join(lost)}",
             expected=f"all {len(uploads)} jobs done: the queue kept them across the restart",
             note="the queue must outlive the process: keep it in a file in DATA_DIR (SqliteHuey) or "
                  "Redis, not in memory, and start its consumer again on startup")
    if unfinished:
        fail(sent=sent, got=f"not done within {SETTLE_LIMIT:g} s: {trim(compact(unfinished), 300)}",
             expected=f"all {len(uploads)} jobs done")


@check("docchat.page_in_browser")
def check_page_in_browser(docchat, workdir):
    document = workdir / "handbook.pdf"
    document.write_bytes(handbook())
    run = in_chromium(lambda executable: use_page(docchat.learner, docchat.llm, document, executable,
                                                  workdir / "chromium"))
    answer = "".join(PAGE_TOKENS)
    sent = "GET / in headless Chromium"
    facts = page_facts(run, docchat)
    if run.page_status != 200:
        fail(sent=sent, got=f"GET / answered {run.page_status}", expected="200 and an HTML page at /")
    if not run.uploaded_how:
        fail(sent=sent, got="a page with no file field", expected='a form with an <input type="file"> to upload a PDF')
    sent += f", then {run.uploaded_how} (handbook.pdf, a 3-page PDF)"
    if 202 not in run.uploads:
        answered = ", ".join(map(str, run.uploads)) or "never: the page did not send the file"
        fail(sent=sent, got=f"POST /documents answered {answered}",
             expected="the page to send the file to POST /documents as multipart field `file` (202)", note=facts)
    if not run.job_shown_done:
        fail(sent=sent, got=f"after {INGEST_S:g} s the page showed {page_text(run.done_text)}",
             expected='the job\'s status as GET /jobs/{job_id} says it, until it is "done"',
             note="poll GET /jobs/{job_id} from the page and show its status. " + facts)
    sent += ", the page showing the job done"
    if not run.asked_how:
        fail(sent=sent, got=f"no text field to ask in; the page showed {page_text(run.done_text)}",
             expected="a text field (and its form's button) for the question, once the document is done")
    sent += f"; then {run.asked_how} ({QUESTION!r}), the LLM answering {PAGE_TOKENS}"
    if not run.held:
        fail(sent=sent, got=f"llm.stream was called {len(docchat.llm.questions)} time(s)",
             expected="the page to ask GET /chat, and the app to call llm.stream", note=facts)
    if PAGE_TOKENS[0] not in run.streamed_text:
        fail(sent=sent, got=f"while the LLM held its 2nd token, the page showed {page_text(run.streamed_text)}",
             expected=f"the 1st token {PAGE_TOKENS[0]!r} on the page at once: the answer streams in",
             note="show each event's data as it arrives (EventSource's onmessage), not once the answer is whole")
    if answer not in run.text:
        fail(sent=sent, got=f"the page showed {page_text(run.text)}", expected=f"the whole answer {answer}", note=facts)
    if not re.search(r"\bpage\s*2\b|\bp\.\s*2\b", run.text, re.I) and SENTENCE not in run.text:
        fail(sent=sent, got=f"the page showed {page_text(run.text)}",
             expected=f"the sources listed under the answer: page 2 (as `page 2`), or its text {SENTENCE!r}",
             note="listen for the stream's `sources` event (addEventListener) and list each chunk's page")
    if DONE in run.text:
        fail(sent=sent, got=f"the page showed {page_text(run.text)}", expected=f"the answer without the {DONE} marker",
             note="[DONE] says the answer is complete: close the EventSource there, show only the tokens")


def page_text(text: str) -> str:
    return repr(trim(text.strip(), 300)) if text.strip() else "no text at all"


def page_facts(run: PageRun, docchat) -> str:
    facts = [f"the page reported: {trim(p, 200)}" for p in run.problems[:3]]
    facts += [f"your app {explain(e, docchat.learner.path)}" for e in run.app_errors[:2]]
    return "; ".join(facts)
