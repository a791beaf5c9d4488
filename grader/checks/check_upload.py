"""Checks for drill 1, uploads (docs/contract.md). Big bodies go through the direct ASGI driver."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.asgi import Together
from grader.bodies import PIECE, Multipart, pdf_upload
from grader.expect import (
    describe, expect_queued, fail, job_id_of, json_body, needs_first, shown, size, trim)

check = pytest.mark.check
MiB = 1 << 20
ROUNDS = 3  # rounds of concurrent uploads in upload.unique_job_ids
CONCURRENT = 6  # uploads sent at once by unique_job_ids


def small_pdf(n: int = 48 * 1024) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(n)


def post_file(client, data: bytes, name: str = "report.pdf", kind: str = "application/pdf"):
    return client.post("/upload", files={"file": (name, data, kind)})


def sent_file(data_len: int, name: str = "report.pdf", kind: str = "application/pdf") -> str:
    return f"POST /upload with file={name} ({kind}, {size(data_len)})"


def drive_upload(client, body: Multipart, **kwargs):
    headers = {"content-type": body.content_type, "content-length": str(len(body))}
    return client.drive("POST", "/upload", body=body.pieces(), headers=headers, **kwargs)


def expect_nothing_kept(upload, before: set[Path], *, sent: str, response) -> None:
    new = upload.saved_files() - before
    if new:
        fail(sent=sent, got=f"{describe(response)}; new file(s) left in UPLOAD_DIR: "
             + ", ".join(sorted(p.name for p in new)),
             expected="nothing saved for a refused upload (delete any partial file)")
    if upload.ingest.calls:
        fail(sent=sent, got=f"{describe(response)}; queue_ingest was called",
             expected="nothing queued for a refused upload")


@check("upload.accepts_pdf")
def check_accepts_pdf(upload, serve):
    data = small_pdf()
    with serve(upload.learner) as client:
        response = post_file(client, data)
    expect_queued(response, sent=sent_file(len(data)))


@check("upload.unique_job_ids")
def check_unique_job_ids(upload, serve):
    sent = sent_file(48 * 1024) + ", twice"
    with serve(upload.learner) as client:
        with answered_with_job_id():
            first = job_id_of(post_file(client, small_pdf()), sent=sent)
            second = job_id_of(post_file(client, small_pdf()), sent=sent)
        if first == second:
            fail(sent=sent, got=f"the same job_id both times: {first!r}", expected="two different job ids")
        # At once, as a real server gets them: ids made from a counter or a count of saved
        # files are read by several requests before any of them has saved its file.
        # Several rounds: whether two requests overlap is up to the scheduler each time.
        n, each = CONCURRENT, 3 * MiB // 2  # over 1 MiB: on disk, so each read awaits a thread
        sent = sent_file(each, f"at-once-1.pdf … at-once-{n}.pdf") + f", {n} at once (from {n} threads)"
        for _ in range(ROUNDS):
            together = Together(n)

            def one(i: int):
                return drive_upload(client, pdf_upload(each, filename=f"at-once-{i + 1}.pdf"), together=together)

            with ThreadPoolExecutor(n) as pool:
                responses = list(pool.map(one, range(n)))
            with answered_with_job_id():
                ids = [job_id_of(response, sent=sent) for response in responses]
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                break
    if repeated:
        fail(sent=sent, got=f"{len(set(ids))} different job ids among {n}: "
             + ", ".join(f"{i!r} {ids.count(i)} times" for i in repeated),
             expected=f"{n} different job ids",
             note="ids that are unique one request at a time (a counter, a count of saved files) "
                  "repeat when requests overlap: make an id that is unique by itself")


def answered_with_job_id():
    return needs_first("upload.accepts_pdf", "an upload answered with its job id")


@check("upload.saves_bytes")
def check_saves_bytes(upload, serve):
    with serve(upload.learner) as client:
        for data in (small_pdf(3 * MiB // 2), small_pdf(10 * 1024)):
            sent = sent_file(len(data))
            before = _stamps(upload.saved_files())
            response = post_file(client, data)
            new = sorted(upload.saved_files() - set(before))
            if len(new) != 1:
                rewritten = sorted(p.name for p, stamp in before.items() if _stamp(p) != stamp)
                fail(sent=sent, got=f"{describe(response)}; {len(new)} new file(s) under "
                     f"UPLOAD_DIR ({upload.upload_dir.name}/)" + (
                         f", and {', '.join(rewritten)} (an earlier upload's file) overwritten"
                         if rewritten else ""),
                     expected="exactly one new file for the upload",
                     note="both uploads were sent as report.pdf: a name taken from the client is not "
                          "unique, so the second upload replaced the first" if rewritten else "")
            saved = upload.read(new[0])
            if saved != data:
                fail(sent=sent, got=f"a saved file of {size(len(saved))} that differs from what was "
                     f"sent (first difference at byte {_first_difference(saved, data)})",
                     expected=f"a byte-identical copy ({size(len(data))})")


def _stamps(paths: set[Path]) -> dict[Path, tuple[int, int]]:
    return {p: _stamp(p) for p in paths}


def _stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: what changes when a file is written again."""
    try:
        info = path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


def _first_difference(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@check("upload.queues_ingest")
def check_queues_ingest(upload, serve):
    body = pdf_upload(256 * 1024, filename="report.pdf")
    sent = f"POST /upload with file=report.pdf (application/pdf, {size(256 * 1024)})"
    with serve(upload.learner) as client:
        response = drive_upload(client, body, timeline=upload.timeline)
        calls = upload.ingest.wait_for(1)
    if len(calls) != 1:
        fail(sent=sent, got=f"{describe(response)}; queue_ingest called {len(calls)} times",
             expected="queue_ingest called exactly once")
    with answered_with_job_id():
        job_id = job_id_of(response, sent=sent)
    call = calls[0]
    answered = upload.timeline.index("http.response.body.final")
    queued = upload.timeline.index("queue_ingest")
    if answered is None or queued < answered:
        fail(sent=sent, got="queue_ingest ran before the response was sent, so the client "
             "waited for it", expected="queue_ingest to run after the response has been sent")
    if call.job_id != job_id:
        fail(sent=sent, got=f"queue_ingest(job_id={call.job_id!r}, ...) but the response said "
             f"job_id={job_id!r}", expected="the same job id in both")
    if upload.upload_dir not in call.path.parents or not call.existed:
        fail(sent=sent, got=f"queue_ingest(..., path={shown(call.path)!r}); file existed: {call.existed}",
             expected=f"the path of the saved file under UPLOAD_DIR ({shown(upload.upload_dir)}), "
             "existing when queue_ingest runs")


@check("upload.rejects_non_pdf")
def check_rejects_non_pdf(upload, serve):
    with serve(upload.learner) as client:
        for name, kind, data in (("notes.txt", "text/plain", b"just some notes\n"),
                                 ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + os.urandom(512))):
            before = upload.saved_files()
            response = post_file(client, data, name, kind)
            sent = sent_file(len(data), name, kind)
            if response.status_code != 415:
                fail(sent=sent, got=describe(response), expected="415 Unsupported Media Type")
            expect_nothing_kept(upload, before, sent=sent, response=response)


@check("upload.rejects_oversized")
def check_rejects_oversized(upload, serve):
    n = upload.max_bytes + 1
    sent = sent_file(n, "big.pdf") + ", that is MAX_BYTES + 1"
    with serve(upload.learner) as client:
        before = upload.saved_files()
        response = drive_upload(client, pdf_upload(n))
    if response.status_code != 413:
        fail(sent=sent, got=describe(response), expected="413 Content Too Large")
    expect_nothing_kept(upload, before, sent=sent, response=response)


@check("upload.accepts_exact_limit")
def check_accepts_exact_limit(upload, serve):
    n = upload.max_bytes
    sent = sent_file(n, "big.pdf") + ", exactly MAX_BYTES"
    with serve(upload.learner) as client:
        response = drive_upload(client, pdf_upload(n))
    if not 200 <= (response.status_code or 0) < 300:
        fail(sent=sent, got=describe(response),
             expected="202 Accepted: MAX_BYTES is the largest size allowed",
             note=_who_refused(response))


def _who_refused(response) -> str:
    """For a 413: did the app's own size check send it, or a limit on the whole request body?"""
    if response.status_code != 413:
        return ""
    if "json" in response.headers.get("content-type", ""):
        return ("the 413 came from your own size check (a JSON answer): a file of exactly "
                "MAX_BYTES must pass it, so look at your comparison")
    return ("the 413 is not JSON, so your route never ran: it came from a limit on the whole "
            "request body (such as max_body_size), which also counts the multipart headers "
            "around the file, so that limit must leave room above MAX_BYTES")


@check("upload.streams_to_disk")
def check_streams_to_disk(upload, serve):
    # Just under MAX_BYTES, so that a limit bug is not also reported here.
    n, limit = upload.max_bytes - MiB, 8 * MiB
    body = pdf_upload(n)
    sent = sent_file(n, "big.pdf") + f", in {size(PIECE)} pieces"
    with serve(upload.learner) as client:
        before = upload.saved_files()
        response = drive_upload(client, body, trace_memory=True)
    if not any(p.stat().st_size for p in upload.saved_files() - before):
        fail(sent=sent, got=f"{describe(response)}; nothing saved under UPLOAD_DIR",
             expected="the file streamed to disk, so that memory use can be measured")
    if response.peak_memory is None:
        pytest.skip("this system does not let the grader read a process's peak memory (Linux's /proc does)")
    if response.peak_memory >= limit:
        # The app's memory rose by about the file's size: it held the whole file. Less than
        # that, yet over the limit: it read in chunks, each too large.
        whole = response.peak_memory >= 0.9 * n
        fail(sent=sent, got=f"peak memory {size(response.peak_memory)} while handling it",
             expected=f"under {size(limit)}: " + ("read and write the file in chunks" if whole
                                                 else "smaller chunks"),
             note="memory rose by about the file's size: it was held whole somewhere" if whole else
             f"memory rose by less than the file's size ({size(n)}), so you do read in chunks, but "
             f"each chunk is too large: a few of them in memory at once pass {size(limit)}")


@check("upload.requires_file")
def check_requires_file(upload, serve):
    sent = "POST /upload with a multipart field named 'document' but no 'file'"
    with serve(upload.learner) as client:
        response = client.post("/upload", files={"document": ("report.pdf", small_pdf(64), "application/pdf")})
    if response.status_code != 422:
        fail(sent=sent, got=describe(response), expected="422 Unprocessable Content")


@check("upload.sniffs_magic_bytes")
def check_sniffs_magic_bytes(upload, serve):
    data = b"<html>this is not a PDF</html>\n" * 64
    sent = sent_file(len(data), "fake.pdf") + ", bytes starting '<html>'"
    with serve(upload.learner) as client:
        before = upload.saved_files()
        response = post_file(client, data, "fake.pdf")
    if response.status_code != 415:
        fail(sent=sent, got=describe(response), expected="415: the bytes do not start with %PDF-")
    expect_nothing_kept(upload, before, sent=sent, response=response)


@check("upload.ignores_client_filename")
def check_ignores_client_filename(upload, serve, workdir):
    root = workdir.parent
    target = root / "elsewhere"
    target.mkdir(exist_ok=True)
    names = ("../../escape.pdf", str(target / "x.pdf"))
    before = _files_outside(root, upload.upload_dir)
    with serve(upload.learner) as client:
        for name in names:
            response = post_file(client, small_pdf(), name)
            escaped = _files_outside(root, upload.upload_dir) - before
            if escaped:
                fail(sent=sent_file(48 * 1024, name), got=f"{describe(response)}; wrote "
                     + ", ".join(trim(shown(p), 120) for p in sorted(escaped)),
                     expected="no file written outside UPLOAD_DIR")


def _files_outside(root: Path, inside: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and inside not in p.parents}


@check("upload.rejects_early")
def check_rejects_early(upload, serve):
    n = 100 * MiB
    allowed = upload.max_bytes + MiB
    sent = sent_file(n, "huge.pdf") + f" with Content-Length {len(pdf_upload(n))}"
    with serve(upload.learner) as client:
        response = drive_upload(client, pdf_upload(n, filename="huge.pdf"), max_pull=allowed + 1)
    if response.cut_off:
        fail(sent=sent, got=f"no answer after the app had read {size(response.bytes_pulled)} of the "
             "body (the grader hung up there)",
             expected=f"413 after reading at most {size(allowed)} (MAX_BYTES + 1 MiB)")
    if response.status_code != 413:
        fail(sent=sent, got=describe(response), expected="413 Content Too Large")
    if response.bytes_pulled > allowed:
        fail(sent=sent, got=f"413, but only after reading {size(response.bytes_pulled)} of the body",
             expected=f"413 after reading at most {size(allowed)} (MAX_BYTES + 1 MiB)")


@check("upload.many")
def check_many(upload, serve):
    names = ["a.pdf", "b.pdf", "c.pdf"]
    files = [("files", (name, small_pdf(1024), "application/pdf")) for name in names]
    sent = "POST /upload-many with files=" + ", ".join(names)
    with serve(upload.learner) as client:
        response = client.post("/upload-many", files=files)
    body = json_body(response, sent=sent) if response.status_code < 500 else None
    items = _list_in(body)
    expected = ('202 with one {"filename", "job_id"} per file, e.g. '
                '[{"filename": "a.pdf", "job_id": "..."}, ...]')
    if response.status_code != 202 or items is None or len(items) != len(names):
        fail(sent=sent, got=describe(response), expected=expected)
    got_names = [i.get("filename") if isinstance(i, dict) else None for i in items]
    ids = [i.get("job_id") if isinstance(i, dict) else None for i in items]
    if got_names != names or not all(isinstance(j, str) and j for j in ids) or len(set(ids)) != len(ids):
        fail(sent=sent, got=describe(response), expected=expected + ", each job id different")


def _list_in(body):
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list)]
        return lists[0] if len(lists) == 1 else None
    return None


@check("upload.documents_openapi")
def check_documents_openapi(upload, serve):
    sent = "GET /openapi.json"
    with serve(upload.learner) as client:
        response = client.get("/openapi.json")
    schema = json_body(response, sent=sent)
    operation = schema.get("paths", {}).get("/upload", {}).get("post")
    if operation is None:
        fail(sent=sent, got="no POST /upload in the schema", expected="POST /upload documented")
    form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data", {})
    fields = _resolve(schema, form.get("schema", {})).get("properties", {})
    codes = sorted(operation.get("responses", {}))
    missing = [c for c in ("202", "413", "415") if c not in codes]
    if "file" not in fields or missing:
        fail(sent=sent, got=f"form fields {sorted(fields)}, responses {codes}",
             expected="a `file` form field, and responses 202, 413 and 415")


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref", "")
    if ref.startswith("#/"):
        for part in ref[2:].split("/"):
            schema = schema.get(part, {})
        return schema
    return node
