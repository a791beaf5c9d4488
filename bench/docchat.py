"""Benchmark: the capstone's solution, DocChat (solutions/docchat.py), on this machine.

- ingest: a generated 200-page PDF (different words on every page) read with pypdf, chunked
  and indexed in FTS5 by the solution's `ingest`: pages per second, the median of --repeat;
- chat: 50 documents ingested, then 100 questions, each `GET /chat` over real HTTP (uvicorn),
  timed from sending the request to receiving the first token's event: p50 and p95;
- Redis: 24 documents of 50 pages queued on one redis-server, ingested by 1, 2 and 4
  `huey_consumer solutions.docchat.huey` processes: documents and pages per second, and the
  speed-up against 1 process (skipped, with the reason, without redis-server).

    python bench/docchat.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.fakes.docchat import pdf  # noqa: E402
from grader.live_server import serving  # noqa: E402
from tests.conftest import wait_for  # noqa: E402
from tests.redis_server import MISSING, REDIS_SERVER, redis_server  # noqa: E402

WORDS = ("budget plan river engine museum harvest signal ladder orbit garden lantern copper "
         "meadow pilot quarry ribbon saddle timber velvet walnut anchor canyon dune ember "
         "fossil glacier harbor island jungle kettle lagoon marble nectar oasis prairie").split()
CONSUMER = str(Path(sys.executable).with_name("huey_consumer"))  # installed with huey


def document(rng: random.Random, pages: int) -> bytes:
    """A PDF of `pages` pages, 120 words each, drawn from WORDS."""
    return pdf([" ".join(rng.choices(WORDS, k=120)) for _ in range(pages)])


def solution(data_dir: Path) -> ModuleType:
    """solutions/docchat.py imported afresh, its DATA_DIR in `data_dir`, tables made."""
    name = f"docchat_bench_{time.monotonic_ns()}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "solutions" / "docchat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DATA_DIR = data_dir
    module.setup()
    return module


def stored(module: ModuleType, data: bytes, name: str) -> str:
    """A document as the upload leaves it: its PDF in DATA_DIR and its row, queued."""
    document_id = f"{name}-{time.monotonic_ns()}"
    module.pdf_path(document_id).write_bytes(data)
    with module.connect() as db:
        db.execute("INSERT INTO documents (id, filename, status) VALUES (?, ?, 'queued')", (document_id, name))
    return document_id


def bench_ingest(folder: Path, repeat: int) -> None:
    module = solution(folder / "ingest")
    data = document(random.Random(1), 200)
    times = []
    for n in range(repeat):
        document_id = stored(module, data, f"report-{n}")
        start = time.perf_counter()
        module.ingest(document_id)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"ingest     a 200-page PDF ({len(data) // 1024} KiB): {median:.2f} s, {200 / median:.0f} pages/s "
          f"(median of {repeat})")


def first_token(port: int, path: str) -> float:
    """Seconds from sending GET `path` to receiving its first event (the whole answer read).

    A plain socket, so that the figure is the server's: an HTTP client library can add its
    own delays (httpx2 here added about 40 ms to the first chunk of a stream).
    """
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start, first, seen = time.perf_counter(), None, b""
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        while chunk := sock.recv(65536):
            seen += chunk
            if first is None and b"\n\n" in seen.partition(b"\r\n\r\n")[2]:  # the first event, a token, is whole
                first = time.perf_counter() - start
    assert first is not None and b"event: sources" in seen, seen[-300:]
    return first


def bench_chat(folder: Path) -> None:
    module = solution(folder / "chat")
    rng = random.Random(2)
    documents = [stored(module, document(rng, 10), f"doc-{n}") for n in range(50)]
    for document_id in documents:
        module.ingest(document_id)
    with serving(module.app) as live:
        port = int(live.url.rsplit(":", 1)[1])
        times = [first_token(port, "/chat?" + urlencode({"q": " ".join(rng.choices(WORDS, k=4)),
                                                         "document_id": documents[n % 50]}))
                 for n in range(100)]
    cuts = statistics.quantiles(times, n=20)
    print(f"chat       time to first token over 100 questions on 50 documents: "
          f"p50 {1000 * statistics.median(times):.1f} ms, p95 {1000 * cuts[18]:.1f} ms")


def bench_redis(folder: Path, repeat: int) -> None:
    if REDIS_SERVER is None:
        print(f"redis      skipped: {MISSING}")
        return
    rng = random.Random(3)
    files = [document(rng, 50) for _ in range(24)]
    pages = 50 * len(files)
    runs: dict[int, list[float]] = {1: [], 2: [], 4: []}
    with redis_server(folder) as url:
        for n in range(repeat):  # interleaved, so that a busy spell on the machine hits them alike
            for processes, seconds in runs.items():
                seconds.append(through_consumers(folder / f"consumers-{processes}-{n}", files, processes, url))
    one = statistics.median(runs[1])
    for processes, seconds in runs.items():
        median = statistics.median(seconds)
        print(f"redis      {len(files)} documents ({pages} pages), {processes} consumer process(es): {median:.2f} s, "
              f"{len(files) / median:.1f} documents/s, {pages / median:.0f} pages/s, x{one / median:.2f} against 1 "
              f"(median of {repeat})")


def through_consumers(folder: Path, files: list[bytes], processes: int, url: str) -> float:
    """Seconds from queueing every file until all are done, with `processes` consumers ready."""
    folder.mkdir()
    os.environ["DOCCHAT_REDIS_URL"] = url  # the app's side: enqueue on Redis
    module = solution(folder / "docchat-data")  # "./docchat-data" for consumers run in `folder`
    queue = module.make_queue()
    del os.environ["DOCCHAT_REDIS_URL"]
    queue.huey.flush()
    env = {**os.environ, "DOCCHAT_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    logs = [folder / f"consumer-{n}.log" for n in range(processes)]
    consumers = [subprocess.Popen([CONSUMER, "solutions.docchat.huey", "--workers", "1"], cwd=folder, env=env,
                                  stdout=subprocess.DEVNULL, stderr=log.open("wb")) for log in logs]
    try:
        wait_for(lambda: all("consumer started" in log.read_text() for log in logs), 30, "the consumers to start")
        document_ids = [stored(module, data, f"doc-{n}") for n, data in enumerate(files)]
        start = time.perf_counter()
        for document_id in document_ids:
            queue(document_id)

        def all_done() -> bool:
            with module.connect() as db:
                return db.execute("SELECT count(*) FROM documents WHERE status = 'done'").fetchone()[0] == len(files)

        wait_for(all_done, 120, f"{len(files)} documents ingested")
        return time.perf_counter() - start
    finally:
        for consumer in consumers:
            consumer.send_signal(signal.SIGINT)  # Huey's graceful stop
        for consumer in consumers:
            consumer.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs to take the median of (ingest, and each number of consumers)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docchat-bench-") as tmp:
        bench_ingest(Path(tmp), args.repeat)
        bench_chat(Path(tmp))
        bench_redis(Path(tmp), args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
