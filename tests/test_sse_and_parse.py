"""The stream parsers give the same result however the bytes are split."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_es.cli.regress import parse_bytes
from stages.models import AnswerHead
from stages.parse import parse_answer
from stages.payload import PROTOCOLS
from stages.sse import SseState, end_sse, feed_sse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEGACY_SSE = (FIXTURES / "real" / "20-post-valid-sse-stream-on.body.sse").read_bytes()
AIPKIT_SSE = (FIXTURES / "real-aipkit" / "05-get-stream-message-1.body.sse").read_bytes()
LEGACY_HEAD = AnswerHead("", 200, (("content-type", "text/event-stream;charset=UTF-8"),))
AIPKIT_HEAD = AnswerHead("", 200, (("content-type", "text/event-stream; charset=utf-8"),))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def unicode_stream(pieces: list[str], crlf: bool) -> bytes:
    import json
    end = "\r\n" if crlf else "\n"
    events = [f"data: {json.dumps({'choices': [{'delta': {'content': p}}]}, ensure_ascii=False)}{end}{end}"
              for p in pieces]
    return ("".join(events) + f"data: [DONE]{end}{end}").encode()


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_real_streams_parse_the_same_however_split(cuts: list[int]) -> None:
    for data, protocol, head in ((LEGACY_SSE, "legacy", LEGACY_HEAD), (AIPKIT_SSE, "aipkit", AIPKIT_HEAD)):
        whole = parse_bytes(protocol, "stream", head, [data])
        assert whole["chunks"] == ["Echo", ":", " Hello", " there"] and whole["error"] is None
        assert parse_bytes(protocol, "stream", head, split(data, cuts)) == whole


@settings(max_examples=200)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8), st.booleans(),
       st.lists(st.integers(min_value=0, max_value=2000), max_size=40))
def test_multibyte_text_survives_any_split(pieces: list[str], crlf: bool, cuts: list[int]) -> None:
    data = unicode_stream(pieces, crlf)
    result = parse_bytes("legacy", "message", LEGACY_HEAD, split(data, cuts))
    assert result["error"] is None
    assert "".join(result["chunks"]) == "".join(pieces)


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=10))
def test_sse_framing_is_split_invariant_on_any_bytes(data: bytes, cuts: list[int]) -> None:
    def events(chunks: list[bytes]) -> list[object]:
        state, found = SseState(), list[object]()
        for chunk in chunks:
            state, new = feed_sse(state, chunk)
            found += new
        return found + list(end_sse(state))
    assert events(split(data, cuts)) == events([data])


def test_the_parse_driver_yields_each_chunk_as_it_arrives() -> None:
    """Incremental: a text chunk is out before the next bytes are even produced."""
    seen: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        for part in LEGACY_SSE.split(b"\n\n")[:-1]:
            yield part + b"\n\n"
            seen.append("sent")

    async def run() -> list[str]:
        order: list[str] = []
        async for outcome in parse_answer(PROTOCOLS["legacy"], "message", LEGACY_HEAD, body()):
            order.append(f"text:{getattr(outcome, 'text', '')}|sent:{len(seen)}")
        return order

    order = asyncio.run(run())
    assert order == ["text:Echo|sent:1", "text::|sent:2", "text: Hello|sent:3", "text: there|sent:4"]


def test_a_localised_nonce_refusal_is_still_a_nonce_refusal() -> None:
    head = AnswerHead("", 403, (("content-type", "text/html; charset=UTF-8"),))
    result = parse_bytes("legacy", "message", head, [b"El enlace que has seguido ha caducado."])
    assert result["error"] == "NonceRejectedError"


def test_byte_order_marks_and_lone_surrogates_are_handled() -> None:
    json_head = AnswerHead("", 200, (("content-type", "application/json"),))
    body = b'\xef\xbb\xbf{"status":"success","data":"Hi \\ud83d there"}'
    assert parse_bytes("legacy", "message", json_head, [body])["chunks"] == ["Hi \ufffd there"]
    stream = b'\xef\xbb\xbfdata: {"choices":[{"delta":{"content":"Hello"}}]}\n\ndata: [DONE]\n\n'
    assert parse_bytes("legacy", "message", LEGACY_HEAD, [stream])["chunks"] == ["Hello"]


def test_held_text_is_delivered_when_done_comes_without_a_finish_reason() -> None:
    stream = b'data: {"choices":[{"delta":{"content":"Du"}}]}\n\ndata: [DONE]\n\n'
    assert parse_bytes("legacy", "message", LEGACY_HEAD, [stream]) == {"chunks": ["Du"], "follow_up": None,
                                                                       "error": None}


def test_a_json_answer_inside_a_stream_is_delivered() -> None:
    stream = b'data: {"status":"success","data":"Hello"}\n\n'
    assert parse_bytes("legacy", "message", LEGACY_HEAD, [stream]) == {"chunks": ["Hello"], "follow_up": None,
                                                                       "error": None}


def test_deeply_nested_json_is_a_format_error() -> None:
    json_head = AnswerHead("", 200, (("content-type", "application/json"),))
    assert parse_bytes("legacy", "message", json_head, [b"[" * 100_000])["error"] == "AnswerFormatError"
    assert parse_bytes("aipkit", "stream", AIPKIT_HEAD, [b"data: " + b"[" * 100_000 + b"\n\n"])["error"] == (
        "AnswerFormatError")
