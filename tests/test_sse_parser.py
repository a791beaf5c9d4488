"""grader.sse reads event streams as browsers do; httpx-sse is the cross-check.

Each corpus case is parsed whole and byte by byte (so CRLF pairs and UTF-8 sequences are
split across chunks). Where httpx-sse differs from the WHATWG rules the case says how, in
`HTTPX_SSE_DIFFERS`; every other case must give the same events from both parsers.
"""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import EventSource

from grader.sse import Event, Parser, parse

# name -> (body, the data of each event a browser dispatches)
CORPUS: dict[str, tuple[bytes, list[str]]] = {
    "lf": (b"data: a\n\ndata: b\n\n", ["a", "b"]),
    "crlf": (b"data: a\r\n\r\ndata: b\r\n\r\n", ["a", "b"]),
    "cr": (b"data: a\r\rdata: b\r\r", ["a", "b"]),
    "mixed_line_ends": (b"data: a\r\n\ndata: b\r\r\n", ["a", "b"]),
    "no_space_after_colon": (b"data:a\n\n", ["a"]),
    "only_one_space_stripped": (b"data:  a\n\n", [" a"]),
    "multi_line_data": (b"data: a\ndata: b\n\n", ["a\nb"]),
    "empty_data_line_inside": (b"data: a\ndata:\ndata: b\n\n", ["a\n\nb"]),
    "trailing_newline_in_data": (b"data: end\ndata: \n\n", ["end\n"]),
    "comments": (b": ping\n\ndata: x\n: mid\ndata: y\n\n", ["x\ny"]),
    "ends_without_blank_line": (b"data: a\n\ndata: b\n", ["a"]),
    "ends_mid_line": (b"data: a\n\ndata: b", ["a"]),
    "final_cr_is_a_line_end": (b"data: a\n\r", ["a"]),
    "field_without_colon": (b"data\n\n", [""]),
    "unknown_fields": (b"dat: x\n\nParis\n\n is\n\n", []),
    "leading_blank_lines": (b"\n\n\ndata: a\n\n", ["a"]),
    "done_marker": (b"data: tok\n\ndata: [DONE]\n\n", ["tok", "[DONE]"]),
    "utf8": ("data: café ✓\n\n".encode(), ["café ✓"]),
    "invalid_utf8": (b"data: \xff\n\n", ["\ufffd"]),
    "json_quoted": (b'data: "Paris"\n\n', ['"Paris"']),
    "bom": (b"\xef\xbb\xbfdata: a\n\n", ["a"]),
    "event_without_data": (b"event: x\n\ndata: y\n\n", ["y"]),
    "id_without_data": (b"id: 7\n\ndata: y\n\n", ["y"]),
    "retry_without_data": (b"retry: 1000\n\ndata: y\n\n", ["y"]),
}

# Where httpx-sse (0.4) and browsers part ways: name -> what httpx-sse yields instead.
HTTPX_SSE_DIFFERS: dict[str, list[str]] = {
    # A BOM is not stripped, so the first field is named "\ufeffdata" and ignored.
    "bom": [],
    # An event with no data line is still dispatched (with empty data); browsers skip it.
    "event_without_data": ["", "y"],
    "id_without_data": ["", "y"],
    "retry_without_data": ["", "y"],
}


def whole(body: bytes) -> list[bytes]:
    return [body]


def bytewise(body: bytes) -> list[bytes]:
    return [body[i:i + 1] for i in range(len(body))]


def ours(chunks: list[bytes]) -> list[str]:
    parser = Parser()
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close().data


def httpx_sse(chunks: list[bytes]) -> list[str]:
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))
    return [event.data for event in EventSource(response).iter_sse()]


@pytest.mark.parametrize("split", [whole, bytewise])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_parser_follows_whatwg(name: str, split) -> None:
    body, expected = CORPUS[name]
    assert ours(split(body)) == expected


@pytest.mark.parametrize("split", [whole, bytewise])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_httpx_sse_agrees_except_where_documented(name: str, split) -> None:
    body, expected = CORPUS[name]
    assert httpx_sse(split(body)) == HTTPX_SSE_DIFFERS.get(name, expected)


def test_retry_needs_ascii_digits() -> None:
    # httpx-sse takes int(value), so "+5", " 5" and "1_0" also set it; browsers ignore them.
    assert parse(b"retry: 1500\n\n").retry == 1500
    for value in (b"+5", b"-5", b"1_0", b"5s", b""):
        assert parse(b"retry: " + value + b"\n\n").retry is None


def test_event_type_and_last_event_id() -> None:
    stream = parse(b"event: token\nid: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\n")
    assert stream.events == [Event("a", "token", "1"), Event("b", "message", "1"),
                             Event("c", "message", "1")]  # an id holding NUL is ignored


def test_feed_returns_the_events_each_chunk_completes() -> None:
    parser = Parser()
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"\ndata: b\r") == [Event("a")]
    assert parser.feed(b"\n") == []  # the LF completes the CRLF; no blank line yet
    assert parser.feed(b"\r\n") == [Event("b")]


def test_what_browsers_drop_is_kept_for_diagnosis() -> None:
    stream = parse(b": hello\n\nParis\n\ndata: [DONE]\n")
    assert stream.events == []
    assert stream.comments == [" hello"]
    assert stream.ignored == ["Paris"]
    assert stream.unfinished == ["data: [DONE]"]
    assert parse(b"data: a\n\ndata: b").unfinished == ["data: b"]
    assert parse(b"data: a\n\n").unfinished == []
