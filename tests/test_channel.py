"""The report channel: records from several threads of the examiner arrive whole."""

from __future__ import annotations

import os
import threading

from grader.engine.channel import Channel, Lines


def test_long_records_sent_from_two_threads_at_once_arrive_whole():
    read_fd, write_fd = os.pipe()
    senders = [Channel(write_fd), Channel(os.dup(write_fd))]  # as the examiner and its plugin have
    received: list[dict] = []

    def read() -> None:
        lines = Lines()
        while chunk := os.read(read_fd, 1 << 12):  # small reads: the writers block, and interleave
            received.extend(lines.feed(chunk))

    reader = threading.Thread(target=read)
    reader.start()

    def send(channel: Channel, who: str) -> None:
        for i in range(200):
            channel.send("progress", text=f"{who}{i}:" + who * 20000)

    threads = [threading.Thread(target=send, args=(c, w)) for c, w in zip(senders, "ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for channel in senders:
        channel._file.close()
    reader.join()
    os.close(read_fd)
    assert sorted(r["text"].split(":")[0] for r in received) == sorted(f"{w}{i}" for w in "ab" for i in range(200))
