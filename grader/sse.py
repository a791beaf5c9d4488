"""Read a `text/event-stream` body exactly as a browser's `EventSource` does.

The rules are the WHATWG HTML standard's "Server-sent events" section: UTF-8 with one
optional leading BOM; lines end with CRLF, LF or CR; `:` starts a comment; `field: value`
loses exactly one space after the colon; a blank line dispatches the event, unless its data
buffer is empty; an event the stream cut off before its blank line is discarded.

Besides the events, a parse keeps what a learner needs to see when it goes wrong: lines
whose field a browser ignores, and the unfinished event at the end of the stream.
`Parser` is incremental (feed it chunks as they arrive); `parse` reads a whole body.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

BOM = "\ufeff"
DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Event:
    data: str
    type: str = "message"
    last_event_id: str = ""


@dataclass
class Stream:
    """A whole parsed body: what a browser dispatched, and what it silently dropped."""

    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # lines with a field no browser knows
    unfinished: list[str] = field(default_factory=list)  # lines of an event cut off by the end
    retry: int | None = None

    @property
    def data(self) -> list[str]:
        return [event.data for event in self.events]


class Parser:
    """Feed bytes as they arrive; each `feed` returns the events that chunk completed."""

    def __init__(self) -> None:
        self.stream = Stream()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""  # decoded text not yet split into lines
        self._started = False
        self._data: list[str] = []
        self._type = ""
        self._last_id = ""
        self._lines: list[str] = []  # lines since the last blank line

    def feed(self, chunk: bytes) -> list[Event]:
        return self._take(self._decoder.decode(chunk))

    def close(self) -> Stream:
        """End of stream: the unfinished event (and any unended last line) is discarded."""
        self._take(self._decoder.decode(b"", final=True))
        if self._text.endswith("\r"):  # a final CR still ends its line
            self._line(self._text[:-1])
            self._text = ""
        self.stream.unfinished = self._lines + ([self._text] if self._text else [])
        self._text = ""
        return self.stream

    def _take(self, text: str) -> list[Event]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix(BOM)
        self._text += text
        before = len(self.stream.events)
        start = 0
        while True:
            cr, lf = self._text.find("\r", start), self._text.find("\n", start)
            end = min(i for i in (cr, lf) if i >= 0) if cr >= 0 or lf >= 0 else -1
            if end < 0:
                break
            if self._text[end] == "\r" and end + 1 == len(self._text):
                break  # a CR at the end of a chunk may be the first half of a CRLF
            step = 2 if self._text.startswith("\r\n", end) else 1
            self._line(self._text[start:end])
            start = end + step
        self._text = self._text[start:]
        return self.stream.events[before:]

    def _line(self, line: str) -> None:
        if line == "":
            self._lines = []
            self._dispatch()
            return
        self._lines.append(line)
        if line.startswith(":"):
            self.stream.comments.append(line[1:])
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value and set(value) <= DIGITS:
                self.stream.retry = int(value)
        else:
            self.stream.ignored.append(line)

    def _dispatch(self) -> None:
        data, kind = self._data, self._type
        self._data, self._type = [], ""
        if data:  # the spec's "data buffer is empty": no data line at all
            self.stream.events.append(Event("\n".join(data), kind or "message", self._last_id))


def parse(body: bytes | str) -> Stream:
    parser = Parser()
    parser.feed(body.encode() if isinstance(body, str) else body)
    return parser.close()
