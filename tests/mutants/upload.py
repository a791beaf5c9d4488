"""Buggy uploads: the mistakes learners make, each caught by the check that names it."""

from tests.mutants import Mutant

MUTANTS = [
    Mutant("answers_200", "upload.accepts_pdf", (
        ("@app.post(\"/upload\", status_code=status.HTTP_202_ACCEPTED,", "@app.post(\"/upload\","),)),
    Mutant("status_received", "upload.accepts_pdf", (
        ('return {"job_id": job_id, "status": "queued"}', 'return {"job_id": job_id, "status": "received"}'),)),
    Mutant("same_job_id", "upload.unique_job_ids", (
        ('    job_id = str(uuid4())\n', '    job_id = "job-1"\n'),
        ('dest = UPLOAD_DIR / f"{job_id}.pdf"', 'dest = UPLOAD_DIR / f"{uuid4()}.pdf"'))),
    # Ids from a count of saved files: unique one upload at a time, the same under concurrency.
    Mutant("job_id_from_file_count", "upload.unique_job_ids", (
        ('    job_id = str(uuid4())\n', ''),
        ('    first = await file.read(CHUNK)\n',
         '    job_id = str(len(list(UPLOAD_DIR.glob("*.pdf"))) + 1)\n    first = await file.read(CHUNK)\n'))),
    Mutant("writes_half_of_each_chunk", "upload.saves_bytes", (
        ("                out.write(chunk)\n", "                out.write(chunk[: CHUNK // 2])\n"),)),
    Mutant("ingest_inline", "upload.queues_ingest", (
        ("    tasks.add_task(queue_ingest, job_id, dest)\n    return {\"job_id\"",
         "    queue_ingest(job_id, dest)\n    return {\"job_id\""),)),
    Mutant("ingest_wrong_job_id", "upload.queues_ingest", (
        ("    tasks.add_task(queue_ingest, job_id, dest)\n    return {\"job_id\"",
         "    tasks.add_task(queue_ingest, str(uuid4()), dest)\n    return {\"job_id\""),)),
    Mutant("ingest_client_filename", "upload.queues_ingest", (
        ("    tasks.add_task(queue_ingest, job_id, dest)\n    return {\"job_id\"",
         "    tasks.add_task(queue_ingest, job_id, Path(file.filename))\n    return {\"job_id\""),)),
    Mutant("seam_copied_at_import", "upload.queues_ingest", (
        ("    tasks.add_task(queue_ingest, job_id, dest)\n    return {\"job_id\"",
         "    tasks.add_task(INGEST, job_id, dest)\n    return {\"job_id\""),
        ("\n\nasync def save_pdf", "\n\nINGEST = queue_ingest\n\n\nasync def save_pdf"))),
    Mutant("accepts_any_type", "upload.rejects_non_pdf", (
        ('    if file.content_type != "application/pdf":\n', '    if file.content_type == "text/html":\n'),
        ("    if not first.startswith(PDF_MAGIC):\n", "    if first.startswith(b\"<\"):\n"))),
    Mutant("saves_before_type_check", "upload.rejects_non_pdf", (
        ('    if file.content_type != "application/pdf":\n        raise',
         '    if file.content_type != "application/pdf":\n'
         '        UPLOAD_DIR.mkdir(parents=True, exist_ok=True)\n'
         '        (UPLOAD_DIR / "rejected.bin").write_bytes(await file.read())\n        raise'),)),
    Mutant("oversized_leaves_partial", "upload.rejects_oversized", (
        ("        dest.unlink(missing_ok=True)  # no partial file survives a refusal or a crash\n", ""),)),
    Mutant("no_size_limit", "upload.rejects_oversized", (
        ("                if written > MAX_BYTES:\n", "                if written > 2 * MAX_BYTES:\n"),)),
    Mutant("off_by_one", "upload.accepts_exact_limit", (
        ("                if written > MAX_BYTES:\n", "                if written >= MAX_BYTES:\n"),)),
    Mutant("body_limit_too_tight", "upload.accepts_exact_limit", (
        ("BODY_LIMIT = MAX_BYTES + 64 * 1024", "BODY_LIMIT = MAX_BYTES"),)),
    Mutant("reads_whole_file", "upload.streams_to_disk", (
        ("    first = await file.read(CHUNK)\n", "    first = await file.read()\n"),)),
    # Streams, but in pieces so big that two of them overflow the memory allowed.
    Mutant("huge_chunks", "upload.streams_to_disk", (
        ("CHUNK = 1024 * 1024\n", "CHUNK = 4 * 1024 * 1024\n"),)),
    Mutant("file_optional", "upload.requires_file", (
        ("    file: Annotated[UploadFile, File(description=\"The PDF to ingest\")],\n    tasks: BackgroundTasks,\n",
         "    tasks: BackgroundTasks,\n"
         "    file: Annotated[UploadFile | None, File(description=\"The PDF to ingest\")] = None,\n"),
        ("    job_id, dest = await save_pdf(file)\n    # Runs after",
         "    if file is None:\n        return {\"job_id\": \"\", \"status\": \"no file\"}\n"
         "    job_id, dest = await save_pdf(file)\n    # Runs after"))),
    Mutant("trusts_content_type", "upload.sniffs_magic_bytes", (
        ("    if not first.startswith(PDF_MAGIC):\n", "    if not first:\n"),)),
    # Two uploads both named report.pdf overwrite each other, so saves_bytes fails too.
    Mutant("uses_client_filename", "upload.ignores_client_filename", (
        ('    dest = UPLOAD_DIR / f"{job_id}.pdf"\n', '    dest = UPLOAD_DIR / file.filename\n'),),
        also=("upload.saves_bytes",)),
    Mutant("no_early_rejection", "upload.rejects_early", (
        ("          max_body_size=BODY_LIMIT)\n", ")\n"),)),
    Mutant("no_upload_many", "upload.many", (
        ('@app.post("/upload-many"', '@app.post("/uploads-many"'),)),
    Mutant("undocumented_errors", "upload.documents_openapi", (
        ('@app.post("/upload", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS,',
         '@app.post("/upload", status_code=status.HTTP_202_ACCEPTED,'),)),
]
