"""The capstone's Redis path: a real redis-server, two consumer processes, 20 documents.

With DOCCHAT_REDIS_URL set, solutions/docchat.py enqueues on Redis and starts no consumer of
its own; workers started as a deployment would, `huey_consumer solutions.docchat.huey`, take
the jobs. Each job must run exactly once, whichever worker takes it. Skipped, with the
reason, where Debian's `redis-server` (or the `redis` client library) is missing; CI
installs both.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from grader.fakes.docchat import handbook
from tests.conftest import ROOT, SOLUTIONS, interruptible, wait_for
from tests.redis_server import MISSING, REDIS_SERVER, redis_server

pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING),
    pytest.mark.skipif(importlib.util.find_spec("redis") is None, reason="the redis client library is not installed"),
]
DOCUMENTS = 20
WORKERS = 2
SETTLE_S = 60  # a generous bound, only so that a broken queue fails instead of hanging
CONSUMER = str(Path(sys.executable).with_name("huey_consumer"))  # installed with huey
EXECUTING = re.compile(r"Executing \S+\.ingest: ([0-9a-f-]{36})")


@pytest.fixture
def redis_url(tmp_path: Path):
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def docchat_module(tmp_path: Path, redis_url: str, monkeypatch):
    """solutions/docchat.py imported afresh, on Redis, with DATA_DIR under tmp_path."""
    monkeypatch.setenv("DOCCHAT_REDIS_URL", redis_url)
    spec = importlib.util.spec_from_file_location("docchat_redis_under_test", SOLUTIONS / "docchat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DATA_DIR = tmp_path / "docchat-data"  # what "./docchat-data" is for workers run in tmp_path
    return module


def test_two_consumer_processes_ingest_each_document_exactly_once(docchat_module, redis_url, tmp_path):
    from fastapi.testclient import TestClient

    # run in tmp_path, where "./docchat-data" is the app's DATA_DIR; the module found from ROOT
    env = {**os.environ, "DOCCHAT_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [subprocess.Popen([CONSUMER, "solutions.docchat.huey", "--workers", "2"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=log.open("wb"), preexec_fn=interruptible)
               for log in logs]
    try:
        with TestClient(docchat_module.app) as client:
            job_ids = []
            for n in range(DOCUMENTS):
                response = client.post("/documents", files={"file": (f"doc-{n}.pdf", handbook(f"doc {n}"), "application/pdf")})
                assert response.status_code == 202, response.text
                job_ids.append(response.json()["job_id"])

            def statuses() -> Counter:
                return Counter(client.get(f"/jobs/{job_id}").json()["status"] for job_id in job_ids)

            wait_for(lambda: statuses()["done"] == DOCUMENTS or statuses()["failed"], SETTLE_S,
                     f"{DOCUMENTS} jobs done (statuses: {statuses()})")
            assert statuses() == Counter(done=DOCUMENTS)
            answer = client.get("/chat", params={"q": "powerhouse of the cell", "document_id": job_ids[-1]})
            assert "event: sources" in answer.text and '"page": 2' in answer.text
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)  # Huey's graceful stop
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    runs = [task for log in logs for task in EXECUTING.findall(log.read_text())]
    assert len(runs) == DOCUMENTS and len(set(runs)) == DOCUMENTS, (
        f"{len(runs)} task runs for {DOCUMENTS} uploads, {len(set(runs))} different: "
        + " | ".join(log.read_text()[-500:] for log in logs))
