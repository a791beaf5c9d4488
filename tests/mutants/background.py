"""Buggy background jobs: the mistakes learners make, each caught by the check that names it."""

from tests.mutants import SOLUTIONS, Mutant

RUN_WORKER = '    request.app.state.wakeup.set()\n'
RUN_IN_TASK = '''

async def ingest_now(jobs: JobStore) -> None:
    job = jobs.claim()
    try:
        await asyncio.to_thread(ingest, job["job_id"], Path(job["path"]))
    except Exception as exc:
        jobs.set_status(job["job_id"], "failed", str(exc))
    else:
        jobs.set_status(job["job_id"], "done")


async def get_jobs('''
CALL_INGEST = 'await asyncio.to_thread(ingest, job["job_id"], Path(job["path"]))'
FAILED = 'jobs.set_status(job["job_id"], "failed", f"{type(exc).__name__}: {exc}")'
CONFIRM = "    tasks.add_task(send_confirmation, email, file.filename)\n"

DONE = 'jobs.set_status(job["job_id"], "done")'
SOLUTION = (SOLUTIONS / "background.py").read_text()
WORK_BODY = SOLUTION[SOLUTION.index("        try:\n            # ingest blocks"):
                    SOLUTION.index("\n\n@asynccontextmanager")] + "\n"
# Jobs in a module-level store: they outlive a restart of the app, not a fresh start of the process.
MODULE_STORE = (
    ("sqlite3.connect(path, isolation_level=None)",
     "sqlite3.connect(path, isolation_level=None, check_same_thread=False)"),
    ("\n\nasync def work(", '\n\nJOBS = JobStore(":memory:")\n\n\nasync def work('),
    ('    app.state.jobs = JobStore(UPLOAD_DIR / "jobs.sqlite3")\n',
     "    app.state.jobs = JOBS\n"
     "    JOBS.db.execute(\"UPDATE jobs SET status = 'queued' WHERE status = 'processing'\")\n"),
    ("        app.state.jobs.close()\n", ""))

MUTANTS = [
    Mutant("answers_200", "background.accepts_202", (
        ('@app.post("/upload", status_code=status.HTTP_202_ACCEPTED)', '@app.post("/upload")'),)),
    Mutant("status_received", "background.accepts_202", (
        ('return {"job_id": job_id, "status": "queued"}', 'return {"job_id": job_id, "status": "received"}'),)),
    Mutant("ingest_in_background_tasks", "background.off_request", (
        (RUN_WORKER, "    tasks.add_task(ingest_now, jobs)\n"),
        ("\n\nasync def get_jobs(", RUN_IN_TASK))),
    Mutant("ingest_inline", "background.off_request", (
        (RUN_WORKER, "    await ingest_now(jobs)\n"),
        ("\n\nasync def get_jobs(", RUN_IN_TASK))),
    Mutant("blocking_worker", "background.off_request", (
        (CALL_INGEST, 'ingest(job["job_id"], Path(job["path"]))'),)),
    # A job that says done before ingest has run can look done to any poll, whatever ingest does.
    Mutant("done_before_ingest", "background.off_request", (
        ("\"UPDATE jobs SET status = 'processing', attempts", "\"UPDATE jobs SET status = 'done', attempts"),),
        also=("background.failure_reported",)),
    Mutant("never_done", "background.completes", (
        ('jobs.set_status(job["job_id"], "done")', 'jobs.set_status(job["job_id"], "processing")'),)),
    # A worker with no loop: the first job is done, every later one stays queued.
    Mutant("worker_handles_one_job", "background.completes", (
        (DONE, DONE + "\n            return"),)),
    # The contract's job shape is {"job_id", "status", "error"}.
    Mutant("job_status_only", "background.completes", (
        ("    return job\n", '    return {"status": job["status"]}\n'),),
        also=("background.failure_reported",)),
    Mutant("ingest_gets_bare_filename", "background.ingest_args", (
        (CALL_INGEST, 'await asyncio.to_thread(ingest, job["job_id"], Path(Path(job["path"]).name))'),)),
    Mutant("ingest_args_swapped", "background.ingest_args", (
        (CALL_INGEST, 'await asyncio.to_thread(ingest, Path(job["path"]), job["job_id"])'),)),
    Mutant("swallows_errors", "background.failure_reported", (
        (FAILED, 'jobs.set_status(job["job_id"], "done")'),)),
    Mutant("failed_without_error", "background.failure_reported", (
        (FAILED, 'jobs.set_status(job["job_id"], "failed")'),)),
    # Records the failure, then the worker is gone: no later job is ever run.
    Mutant("worker_dies_after_failure", "background.failure_reported", (
        (FAILED, FAILED + "\n                return"),)),
    # No try/except at all: the exception ends the worker task.
    Mutant("worker_dies_on_exception", "background.failure_reported", (
        (WORK_BODY, '        await asyncio.to_thread(ingest, job["job_id"], Path(job["path"]))\n'
                    '        jobs.set_status(job["job_id"], "done")\n'),)),
    Mutant("unknown_job_200", "background.unknown_job_404", (
        ('        raise HTTPException(status.HTTP_404_NOT_FOUND, "Unknown job")\n',
         '        return {"job_id": job_id, "status": "unknown", "error": None}\n'),)),
    Mutant("confirmation_before_response", "background.confirmation_after_response", (
        (CONFIRM, "    send_confirmation(email, file.filename)\n"),)),
    Mutant("confirmation_args_swapped", "background.confirmation_after_response", (
        (CONFIRM, "    tasks.add_task(send_confirmation, file.filename, email)\n"),)),
    Mutant("no_retry", "background.retries", (
        ("MAX_ATTEMPTS = 3\n", "MAX_ATTEMPTS = 1\n"),)),
    Mutant("attempts_not_reported", "background.retries", (
        ('"SELECT job_id, status, error, attempts FROM jobs WHERE job_id = ?"',
         '"SELECT job_id, status, error FROM jobs WHERE job_id = ?"'),)),
    Mutant("saves_under_client_filename", "background.many_jobs", (
        ('    dest = UPLOAD_DIR / f"{job_id}.pdf"\n', '    dest = UPLOAD_DIR / file.filename\n'),)),
    # Ids from a count of jobs, taken before the file is read: unique one upload at a time;
    # under concurrency two uploads get one id, and the later overwrites the earlier.
    Mutant("job_id_from_job_count", "background.many_jobs", (
        ("    job_id = str(uuid4())\n",
         '    job_id = str(jobs.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] + 1)\n'),
        ("INSERT INTO jobs", "INSERT OR REPLACE INTO jobs"))),
    Mutant("jobs_in_memory", "background.survives_restart", (
        ('JobStore(UPLOAD_DIR / "jobs.sqlite3")', 'JobStore(":memory:")'),)),
    Mutant("jobs_in_module_store", "background.survives_restart", MODULE_STORE),
    Mutant("interrupted_job_not_requeued", "background.survives_restart", (
        ("        self.db.execute(\"UPDATE jobs SET status = 'queued' WHERE status = 'processing'\")\n", ""),)),
]
