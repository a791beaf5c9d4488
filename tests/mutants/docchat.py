"""Buggy DocChats: the mistakes learners make, each caught by the check that names it."""

from grader.browser import find_chromium
from tests.mutants import SOLUTIONS, Mutant

TYPE_CHECK = '    if file.content_type != "application/pdf" or not first.startswith(b"%PDF-"):\n'
REFUSE_415 = '        raise StarletteHTTPException(415, "Only PDF files are accepted")\n'
SET_DONE = "db.execute(\"UPDATE documents SET status = 'done', error = NULL, pages = ? WHERE id = ?\","
SOLUTION = (SOLUTIONS / "docchat.py").read_text()
# DELETE's database work: the document's row and its chunks.
DELETE_ROWS = SOLUTION[SOLUTION.index("    document_or_404(document_id)\n    with connect()"):
                       SOLUTION.index("    pdf_path(document_id).unlink(missing_ok=True)")]
SOURCES = '    yield ServerSentEvent(data=sources, event="sources")\n'
LAST = '    yield ServerSentEvent(raw_data=DONE)\n'
# Without Chromium the browser check is skipped (with its reason), never failed.
BROWSER = "failed" if find_chromium() else "skipped"
LISTS_SOURCES = SOLUTION[SOLUTION.index('    es.addEventListener("sources"'):SOLUTION.index('    es.onerror')]

MUTANTS = [
    Mutant("answers_200", "docchat.accepts_pdf_202", (
        ('@app.post("/documents", status_code=status.HTTP_202_ACCEPTED)', '@app.post("/documents")'),)),
    Mutant("no_document_id", "docchat.accepts_pdf_202", (
        ('return {"job_id": document_id, "document_id": document_id, "status": "queued"}',
         'return {"job_id": document_id, "status": "queued"}'),)),
    Mutant("accepts_any_file", "docchat.rejects_non_pdf_415", ((TYPE_CHECK, "    if False:\n"),)),
    Mutant("refuses_with_400", "docchat.rejects_non_pdf_415", (
        (REFUSE_415, '        raise StarletteHTTPException(400, "Only PDF files are accepted")\n'),)),
    # The limit copied at import: the grader's MAX_BYTES is never seen.
    Mutant("limit_not_the_seam", "docchat.rejects_oversized_413", (
        ("if written > MAX_BYTES:", "if written > 20 * 1024 * 1024:"),)),
    Mutant("leaves_partial_file", "docchat.rejects_oversized_413", (
        ("        dest.unlink(missing_ok=True)\n", ""),)),
    # The contract's job shape is {"job_id", "status", "error"}.
    Mutant("job_without_id", "docchat.ingests_to_done", (
        ('    return {"job_id": job_id, "status": document["status"], "error": document["error"]}\n',
         '    return {"status": document["status"], "error": document["error"]}\n'),)),
    # Chunks indexed, but the job never says so: chat (409) and delete (needs a done document) suffer.
    Mutant("never_done", "docchat.ingests_to_done", (
        (SET_DONE, SET_DONE.replace("'done'", "'processing'")),),
        also=("docchat.chat_streams_answer", "docchat.delete_removes")),
    Mutant("tokens_json_encoded", "docchat.chat_streams_answer", (
        ("yield ServerSentEvent(raw_data=token)", "yield ServerSentEvent(data=token)"),)),
    Mutant("pages_from_zero", "docchat.chat_streams_answer", (
        ("for number, text in enumerate(pages, 1)", "for number, text in enumerate(pages)"),)),
    Mutant("done_before_sources", "docchat.chat_streams_answer", ((SOURCES + LAST, LAST + SOURCES),)),
    Mutant("llm_without_context", "docchat.chat_streams_answer", (
        ('llm.stream(q, [hit["text"] for hit in hits])', "llm.stream(q, [])"),)),
    # A task reads the LLM into a queue: it outlives the request and keeps pulling tokens.
    Mutant("llm_read_by_a_task", "docchat.stops_on_disconnect", (
        ('    async with aclosing(llm.stream(q, [hit["text"] for hit in hits])) as tokens:\n'
         "        async for token in tokens:\n",
         "    queue = asyncio.Queue()\n\n"
         "    async def pump() -> None:  # outlives the request\n"
         '        async for token in llm.stream(q, [hit["text"] for hit in hits]):\n'
         "            await queue.put(token)\n"
         "        await queue.put(None)\n\n"
         "    asyncio.get_running_loop().create_task(pump())\n"
         "    if True:\n"
         "        while (token := await queue.get()) is not None:\n"),)),
    # Only a queued document is refused: a failed one streams an answer from nothing.
    Mutant("only_queued_is_409", "docchat.chat_409_before_ingest", (
        ('    if document["status"] != "done":\n        raise StarletteHTTPException(409',
         '    if document["status"] == "queued":\n        raise StarletteHTTPException(409'),)),
    Mutant("delete_keeps_index", "docchat.delete_removes", ((DELETE_ROWS, "    document_or_404(document_id)\n"),)),
    Mutant("delete_answers_200", "docchat.delete_removes", (
        ("    return Response(status_code=status.HTTP_204_NO_CONTENT)\n",
         '    return Response(b"deleted", status_code=200)\n'),)),
    Mutant("raw_pypdf_error", "docchat.corrupt_pdf_fails", (
        ('raise Unreadable(f"the PDF is corrupt ({type(exc).__name__}: {exc})")', "raise Unreadable(str(exc))"),)),
    Mutant("textless_pdf_done", "docchat.corrupt_pdf_fails", (
        ("    if not any(text.strip() for text in texts):\n"
         '        raise Unreadable("the PDF has no extractable text (a scan needs OCR first)")\n', ""),)),
    # Documents named by the client's filename: ten uploads of handbook.pdf are one document.
    Mutant("id_from_filename", "docchat.concurrent_uploads", (
        ("    document_id = str(uuid4())\n", '    document_id = Path(file.filename or "upload.pdf").stem\n'),
        ("INSERT INTO documents", "INSERT OR REPLACE INTO documents"))),
    # The upload indexes the PDF at once (so that chat works sooner) and the queued job indexes
    # it again, without clearing the document's chunks first: every chunk is in the index twice.
    Mutant("indexed_on_upload_too", "docchat.concurrent_uploads", (
        ('        db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))\n'
         "        db.executemany(", "        db.executemany("),
        ("    ingest_job(document_id)  # enqueues",
         "    try:\n"
         "        rows = [(chunk, document_id, number, n) for number, text in enumerate(pages_of(dest), 1)\n"
         "                for n, chunk in enumerate(chunks_of(text)) if chunk]\n"
         "    except Unreadable:\n"
         "        rows = []\n"
         "    with connect() as db:\n"
         '        db.executemany("INSERT INTO chunks (text, document_id, page, chunk) VALUES (?, ?, ?, ?)", rows)\n'
         "    ingest_job(document_id)  # enqueues"))),
    Mutant("queue_in_memory", "docchat.survives_restart", (
        ('SqliteHuey("docchat", filename=str(DATA_DIR / "queue.sqlite3"))', 'MemoryHuey("docchat")'),
        ("from huey import Huey, RedisHuey, SqliteHuey\n", "from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey\n"))),
    # The page never listens for the `sources` event: the answer comes, its sources never show.
    Mutant("page_without_sources", "docchat.page_in_browser", ((LISTS_SOURCES, ""),), status=BROWSER),
    # The page keeps the tokens until [DONE], then shows the answer at once: nothing streams.
    Mutant("page_shows_whole_answer", "docchat.page_in_browser", (
        ('      if (e.data === "[DONE]") { es.close(); return; }  // else EventSource reconnects\n'
         '      $("answer").textContent += e.data;\n',
         '      if (e.data === "[DONE]") { es.close(); $("answer").textContent = es.answer; return; }\n'
         '      es.answer = (es.answer || "") + e.data;\n'),), status=BROWSER),
]
