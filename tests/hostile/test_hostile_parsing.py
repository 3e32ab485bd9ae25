"""Items 4 and 6: parsing takes time linear in the bytes, however they are cut, and never blocks the event
loop for long; a stream is complete at its end marker even when the server keeps the connection open."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hostile_sites import Request, Server, ask, client, legacy_site, site, whole

from stages.errors import AnswerFormatError
from stages.legacy import LEGACY
from stages.models import AnswerHead, Text
from stages.parse import feed, finish, start_parse

T = TypeVar("T")
SSE = AnswerHead("http://site.test/", 200, (("content-type", "text/event-stream"),))
JSON = AnswerHead("http://site.test/", 200, (("content-type", "application/json"),))


def event(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


def parse_all(head: AnswerHead, chunks: list[bytes]) -> tuple[str, BaseException | None, float]:
    start = time.perf_counter()
    state = start_parse(LEGACY, "message", head, 64 * 1024 * 1024)
    texts: list[str] = []
    for chunk in chunks:
        state, outcomes = feed(state, chunk)
        texts += [o.text for o in outcomes if isinstance(o, Text)]
    state, outcomes = finish(state)
    texts += [o.text for o in outcomes if isinstance(o, Text)]
    return "".join(texts), state.failure, time.perf_counter() - start


def test_eight_mib_in_one_line_parses_in_well_under_a_few_seconds() -> None:
    big = "y" * (8 * 1024 * 1024)
    text, failure, seconds = parse_all(SSE, [event(big) + b"data: [DONE]\n\n"])
    assert failure is None and text == big
    text, failure, seconds_json = parse_all(JSON, [json.dumps({"status": "success", "data": big}).encode()])
    assert failure is None and text == big
    assert seconds < 5 and seconds_json < 5  # quadratic line joining took minutes


@pytest.mark.parametrize("head", [SSE, JSON], ids=["event-stream", "json"])
def test_one_byte_chunks_parse_in_linear_time(head: AnswerHead) -> None:
    body = (event("z" * 200_000) + b"data: [DONE]\n\n" if head is SSE
            else json.dumps({"status": "success", "data": "z" * 200_000}).encode())
    text, failure, seconds = parse_all(head, [body[i:i + 1] for i in range(len(body))])
    assert failure is None and text == "z" * 200_000
    assert seconds < 30  # 200 KB in one-byte chunks: rebuilt tuples made this ~90 s; linear, it is ~1 s


def test_many_data_lines_of_one_event_parse_in_linear_time() -> None:
    lines = b"data: 1234567\n" * 100_000  # 800 KB, never a blank line
    _, failure, seconds = parse_all(SSE, [lines[i:i + 4096] for i in range(0, len(lines), 4096)])
    assert isinstance(failure, AnswerFormatError)  # the joined lines are no JSON (and the stream never ended)
    assert seconds < 10  # tuples rebuilt per line took 16 s


async def with_lag(work: Callable[[], Awaitable[T]]) -> tuple[T | BaseException, float]:
    """``work``'s result (or error) and the longest the event loop was held meanwhile."""
    lag = 0.0

    async def ticker() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lag = max(lag, loop.time() - before - 0.01)

    tick = asyncio.create_task(ticker())
    try:
        result: T | BaseException = await work()
    except Exception as error:
        result = error
    tick.cancel()
    return result, lag


def test_a_long_event_without_end_does_not_hold_the_loop() -> None:
    async def lines(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        writer.write(b"data: 1234567\n" * 100_000)
        await writer.drain()
        writer.close()

    with Server(legacy_site(lines)) as server:
        start = time.monotonic()
        result, lag = asyncio.run(with_lag(lambda: ask(client(total_timeout=5.0), site(server.url))))
    assert isinstance(result, AnswerFormatError)
    assert time.monotonic() - start < 5.0
    assert lag < 1.0  # the old parser held the loop for 16 s


def test_eight_mib_in_one_byte_http_chunks_arrives_whole_without_holding_the_loop() -> None:
    payload = json.dumps({"status": "success", "data": "y" * (2 * 1024 * 1024)}).encode()
    wire = b"".join(b"1\r\n" + payload[i:i + 1] + b"\r\n" for i in range(len(payload))) + b"0\r\n\r\n"

    async def drip(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(wire), 1 << 20):
            writer.write(wire[i:i + (1 << 20)])
            await writer.drain()

    reads: list[int] = []
    import stages.parse as parse_module

    original = parse_module.feed

    def counting(state: Any, chunk: bytes) -> Any:
        reads.append(len(chunk))
        return original(state, chunk)

    with Server(legacy_site(drip)) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_module, "feed", counting)
        result, lag = asyncio.run(with_lag(lambda: ask(client(max_answer_bytes=16 << 20), site(server.url))))
    assert result == "y" * (2 * 1024 * 1024)
    assert len(reads) < len(payload) // 10  # the transport hands over what arrived, not one parse step per byte
    assert lag < 1.0


def test_the_answer_is_complete_at_done_even_if_the_server_keeps_the_stream_open() -> None:
    async def lingering(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (event("Hola "), event("mundo"), b"data: [DONE]\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        await writer.drain()
        while True:  # never ends the response; a keep-alive comment now and then (which notices a close)
            await asyncio.sleep(0.2)
            writer.write(b"9\r\n: ping\n\n\n\r\n")
            await writer.drain()

    with Server(legacy_site(lingering)) as server:
        start = time.monotonic()
        assert asyncio.run(ask(client(total_timeout=60.0), site(server.url))) == "Hola mundo"
        assert time.monotonic() - start < 5.0  # not the 60 s deadline
        assert server.wait_until(lambda s: s.open == 0, 3.0)  # and the connection was let go


def test_an_aipkit_stream_is_complete_at_its_done_event() -> None:
    config = '{"nonce":"abc123","postId":"1","botId":"5","ajaxUrl":"/wp-admin/admin-ajax.php"}'
    page = f"<html><div class='aipkit_chat_container' data-config='{config}'></div></html>".encode()

    async def aipkit(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "GET" and "aipkit_frontend_chat_stream" not in request.target:
            writer.write(whole(page))
        elif request.method == "POST":
            answer = json.dumps({"success": True, "data": {"cache_key": "key-1"}}).encode()
            writer.write(whole(answer, content_type="application/json"))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b'event: message_start\ndata: {"message_id":"m1"}\n\n', b'data: {"delta":"Hola"}\n\n',
                          b"event: done\ndata: {}\n\n"):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            while True:  # the stream stays open after done
                await writer.drain()
                await asyncio.sleep(0.2)
                writer.write(b"9\r\n: ping\n\n\n\r\n")
        await writer.drain()

    with Server(aipkit) as server:
        start = time.monotonic()
        assert asyncio.run(ask(client(total_timeout=60.0), site(server.url))) == "Hola"
        assert time.monotonic() - start < 5.0
        assert server.wait_until(lambda s: s.open <= 1, 3.0)  # the stream's connection was let go
