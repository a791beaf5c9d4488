"""Checks for drill 5, background jobs (docs/contract.md).

Every request has a time limit (grader/fakes/background.py), so an app that blocks its own
event loop fails with the likely cause instead of hanging the run.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from uuid import uuid4

import pytest

from grader.fakes.background import EMAIL, FINAL, SETTLE_LIMIT, pdf, sent_upload
from grader.expect import compact, describe, expect_queued, fail, job_id_of, needs_first, trim

check = pytest.mark.check
MiB = 1 << 20
STUCK = {
    "queued": "nothing took the job off the queue: is a worker started in the lifespan, and "
              "does it wait on the queue the route puts jobs on?",
    "processing": "the worker ran ingest but never recorded how it ended",
}


def uploaded(jobs, data: bytes, filename: str = "report.pdf") -> str:
    """Upload a file and return its job id."""
    with needs_first("background.accepts_202", "an upload answered with its job id"):
        return job_id_of(jobs.upload(data, filename), sent=sent_upload(data, filename))


def one_job(background) -> tuple[str, dict]:
    """Upload one file and follow its job until it is done or failed (or time runs out)."""
    with background.running() as jobs:
        return settled(jobs, pdf())


def settled(jobs, data: bytes, filename: str = "report.pdf") -> tuple[str, dict]:
    """Upload a file, then follow its job until it is done or failed (or time runs out)."""
    job_id = uploaded(jobs, data, filename)
    return job_id, jobs.settle([job_id])[job_id]


def why_stuck(background, job_id: str, status: object) -> str:
    """The likely cause of a job that never finished, from what ingest saw."""
    if status in ("queued", "processing") and background.ingest.calls_for(job_id):
        return ("ingest ran for this job, yet it never finished: if ingest raised, your worker "
                "may have died with the exception (catch it around each job, inside the loop)")
    return STUCK.get(status, "")


def expect_job_shape(job: dict, job_id: str, *, sent: str) -> None:
    """GET /jobs/{id} answers the contract's shape: {"job_id", "status", "error"}."""
    missing = [key for key in ("job_id", "status", "error") if key not in job]
    if missing or job.get("job_id") != job_id or not isinstance(job.get("error"), (str, type(None))):
        fail(sent=sent, got=f"the job {trim(compact(job), 200)}"
             + (f" (no {', '.join(repr(k) for k in missing)})" if missing else ""),
             expected=f'the job as {{"job_id": "{job_id}", "status": ..., "error": <a string, or null>}}')


def status_of(job: dict) -> str:
    return trim(repr(job.get("status")), 60)


@check("background.accepts_202")
def check_accepts_202(background):
    data = pdf()
    sent = sent_upload(data, "report.pdf")
    with background.running() as jobs:
        response = jobs.upload(data)
    expect_queued(response, sent=sent)


@check("background.off_request")
def check_off_request(background):
    with background.running() as jobs:
        background.ingest.hold()
        first = uploaded(jobs, pdf(tag="first"), "first.pdf")
        background.ingest.wait_for(1)  # the worker has taken it, if it ever does
        uploaded(jobs, pdf(tag="second"), "second.pdf")
        job = jobs.job(first)
    if job.get("status") not in ("queued", "processing"):
        fail(sent=f"two uploads, then GET /jobs/{first} while ingest of the first still runs",
             got=f"status {status_of(job)}",
             expected='"queued" or "processing": ingest has not returned yet',
             note="set the status from what the worker has actually done")


@check("background.completes")
def check_completes(background):
    # Two jobs, one after the other: a worker must keep taking jobs, not stop after the first.
    with background.running() as jobs:
        for n, what in ((1, "an upload"), (2, "once that job was done, a second upload")):
            calls = len(background.ingest.calls)
            job_id, job = settled(jobs, pdf(tag=f"job {n}"), f"report-{n}.pdf")
            status = job.get("status")
            sent = (f"{what}, then GET /jobs/{job_id} until it settled (at most {SETTLE_LIMIT:g} s); "
                    "ingest returned at once")
            if status != "done":
                note = STUCK.get(status, "")
                if n == 2 and status == "queued" and len(background.ingest.calls) == calls:
                    note = ("the first job was done, but the worker never took the second: it must "
                            "loop, taking one job after another for as long as the app runs")
                fail(sent=sent, got=f"status {status_of(job)}" + (
                    f", error {trim(repr(job.get('error')), 200)}" if status == "failed" else ""),
                    expected='"done"', note=note)
            expect_job_shape(job, job_id, sent=sent)


@check("background.ingest_args")
def check_ingest_args(background):
    data = pdf(48 * 1024, tag="ingest-args")
    sent = sent_upload(data, "report.pdf")
    with background.running() as jobs:
        job_id = uploaded(jobs, data)
        background.ingest.wait_for(1)
        jobs.settle([job_id])  # a second call, if any, comes before the job is finished
    calls = background.ingest.calls
    if len(calls) != 1:
        fail(sent=sent, got=f"ingest called {len(calls)} times", expected="ingest called exactly once")
    call = calls[0]
    if call.job_id != job_id:
        fail(sent=sent, got=f"ingest(job_id={trim(repr(call.job_id), 80)}, ...) but the response "
             f"said job_id={job_id!r}", expected="the same job id in both")
    if background.upload_dir not in call.path.parents or call.data != data:
        found = "no file there" if call.data is None else (
            "the uploaded bytes" if call.data == data else f"a different file ({len(call.data)} bytes)")
        fail(sent=sent, got=f"ingest(..., path={trim(str(call.path), 160)!r}): {found}",
             expected=f"the path of the saved upload under UPLOAD_DIR ({background.upload_dir})")


@check("background.failure_reported")
def check_failure_reported(background):
    # Judged while the app runs: a worker that died with the exception shows in its jobs.
    with background.running() as jobs:
        background.ingest.fail_always = True
        job_id, job = settled(jobs, pdf(tag="fails"))
        status, error = job.get("status"), job.get("error")
        sent = (f"an upload whose ingest raises IngestFailed, then GET /jobs/{job_id} until it "
                f"settled (at most {SETTLE_LIMIT:g} s)")
        if status != "failed":
            notes = {"done": "the exception was swallowed: the job must say it failed",
                     "processing": "the worker may have died with the exception: catch it and "
                                   "record the failure on the job"}
            fail(sent=sent, got=f"status {status_of(job)}", expected='"failed" with a non-empty "error"',
                 note=notes.get(status) or why_stuck(background, job_id, status))
        if not isinstance(error, str) or not error.strip():
            fail(sent=sent, got=f'status "failed", error {trim(repr(error), 80)}',
                 expected='a non-empty "error" string saying what went wrong')
        # After a failure the worker must still be there for the next job.
        background.ingest.fail_always = False
        calls = len(background.ingest.calls)
        later_id, later = settled(jobs, pdf(tag="after the failure"), "later.pdf")
    # Whether a job that ingest finished reaches "done" is background.completes' question.
    taken = len(background.ingest.calls) > calls
    if not taken or later.get("status") == "failed":
        fail(sent=f"an upload whose ingest raised (its job {job_id} then failed), then a second "
                  f"upload whose ingest succeeds, and GET /jobs/{later_id} until it settled "
                  f"(at most {SETTLE_LIMIT:g} s)",
             got=f"status {status_of(later)}" + ("" if taken else ", and ingest was never called for it"),
             expected='"done": one failed job must not stop the worker or fail the next',
             note="the worker stopped after the failure: catch the exception around each job, "
                  "inside the loop, so the worker goes on to the next")


@check("background.unknown_job_404")
def check_unknown_job_404(background):
    unknown = str(uuid4())
    with background.running() as jobs:
        job_id = uploaded(jobs, pdf())
        jobs.job(job_id, note="checked first, so that a 404 for an unknown id means something")
        response = jobs.get(unknown)
    if response.status_code != 404:
        fail(sent=f"GET /jobs/{unknown} (no such job)", got=describe(response), expected="404 Not Found")


@check("background.confirmation_after_response")
def check_confirmation_after_response(background):
    data = pdf()
    sent = sent_upload(data, "Handbook.pdf")
    with background.running() as jobs:
        jobs.upload(data, "Handbook.pdf")
        calls = background.confirmation.wait_for(1)
    if len(calls) != 1:
        fail(sent=sent, got=f"send_confirmation called {len(calls)} times",
             expected="send_confirmation called exactly once")
    if calls[0] != (EMAIL, "Handbook.pdf"):
        email, filename = calls[0]
        fail(sent=sent, got=f"send_confirmation({trim(repr(email), 80)}, {trim(repr(filename), 80)})",
             expected=f"send_confirmation({EMAIL!r}, 'Handbook.pdf'): the form's email and the "
                      "uploaded file's name")
    answered = background.timeline.index("http.response.body.final")
    confirmed = background.timeline.index("send_confirmation")
    if answered is None or confirmed < answered:
        fail(sent=sent, got="send_confirmation ran before the response was sent, so the client "
             "waited for it", expected="send_confirmation to run after the response has been sent")


@check("background.retries")
def check_retries(background):
    background.ingest.fail_first = True
    job_id, job = one_job(background)
    runs = len(background.ingest.calls_for(job_id))
    sent = f"an upload whose first ingest raises and second succeeds, then GET /jobs/{job_id}"
    if job.get("status") != "done" or runs != 2:
        fail(sent=sent, got=f"status {status_of(job)} after ingest ran {runs} time(s)",
             expected='"done", after ingest ran twice',
             note="count the attempts on the job and put it back on the queue while attempts remain")
    if job.get("attempts") != 2:
        fail(sent=sent, got=f'status "done", attempts {trim(repr(job.get("attempts")), 60)}',
             expected='"attempts": 2 in the job (the first try and one retry)')


@check("background.many_jobs")
def check_many_jobs(background):
    n, at_once = 20, 4
    sent = (f"{n} different files of 1.5 MiB, all named report.pdf, uploaded {at_once} at a time "
            "(from threads)")
    files = [pdf(3 * MiB // 2, tag=f"upload {i}") for i in range(n)]
    with background.running() as jobs:
        background.ingest.hold()  # the worker is busy while the uploads arrive
        # Overlapping requests, as a real server gets them: an id taken from a count (of jobs,
        # of files) before the upload is read is the same for two of them.
        with ThreadPoolExecutor(at_once) as pool:
            uploads = dict(zip(pool.map(lambda data: uploaded(jobs, data), files), files))
        background.ingest.release()
        seen = jobs.settle(uploads)
    if len(uploads) != n:
        fail(sent=sent, got=f"{len(uploads)} different job ids", expected=f"{n} different job ids",
             note="ids that are unique one request at a time (a counter, a count of jobs or files) "
                  "repeat when requests overlap: make an id that is unique by itself")
    unfinished = Counter(job.get("status") for job in seen.values() if job.get("status") != "done")
    if unfinished:
        fail(sent=sent, got=f"once they settled (at most {SETTLE_LIMIT:g} s), not done: "
             + ", ".join(f"{count} {status!r}" for status, count in unfinished.items()),
             expected=f"all {n} jobs done", note=STUCK.get(unfinished.most_common(1)[0][0], ""))
    runs = {job_id: background.ingest.calls_for(job_id) for job_id in uploads}
    twice = sum(len(calls) > 1 for calls in runs.values())
    never = sum(not calls for calls in runs.values())
    if twice or never:
        fail(sent=sent, got=f"{twice} job(s) ingested more than once, {never} never ingested "
             "but reported done", expected="ingest run exactly once per job",
             note="one queue, and one place that takes jobs off it")
    mixed = sum(calls[0].data != uploads[job_id] for job_id, calls in runs.items())
    if mixed:
        fail(sent=sent, got=f"for {mixed} job(s), ingest found another upload's bytes (or none) at "
             "the path it was given: those uploads were lost",
             expected="each job's own file, untouched by later uploads",
             note="the client's filename is not unique; name the saved file yourself")


@check("background.survives_restart")
def check_survives_restart(background, load_learner):
    background.ingest.hold()
    with background.running(hold_through_shutdown=True) as jobs:
        first = uploaded(jobs, pdf(tag="first"), "first.pdf")
        background.ingest.wait_for(1)
        second = uploaded(jobs, pdf(tag="second"), "second.pdf")
        before = {j: jobs.job(j).get("status") for j in (first, second)}
    # The app stopped with `first` in ingest and `second` waiting. A restart is a new process:
    # the module is imported afresh (same UPLOAD_DIR, same working directory), then started.
    background = replace(background, learner=load_learner({
        "UPLOAD_DIR": background.upload_dir, "ingest": background.ingest,
        "send_confirmation": background.confirmation}))
    with background.running() as jobs:
        after = jobs.settle([first, second], context=" after the app restarted in the same directory",
                            note="the job was recorded before the restart: keep the job table "
                                 "somewhere that outlives the process (a file, SQLite), not in memory")
    sent = ("two uploads, ingest held so that the app shuts down before they finish "
            f"(statuses then: {before[first]!r}, {before[second]!r}); the app started again in "
            "the same directory, its module imported afresh; then GET /jobs/{id} for each")
    for job_id, what in ((second, "the job still queued"), (first, "the job cut off mid-ingest")):
        job = after[job_id]
        if job.get("status") not in FINAL:
            fail(sent=sent, got=f"{what} ({job_id}) is still {status_of(job)} after the restart",
                 expected='both jobs "done"',
                 note="on startup, put unfinished jobs (queued, or processing when the app "
                      "stopped) back on the queue")
        if job.get("status") != "done":
            fail(sent=sent, got=f"{what} ({job_id}) ended {status_of(job)}: "
                 f"{trim(repr(job.get('error')), 160)}", expected='both jobs "done"')
