"""Figures for the README's reliability section: how the client fares against hostile sites.

    .venv/bin/python -m bench.hostile          # about a minute or two on 2 cores

* peak RSS of a client (in its own process) fetching a 1 GiB gzip bomb as its page (limit: 8 MiB);
* parse time of 8 MiB in one-byte chunks: the parse stage fed one byte at a time, and end to end, an
  answer a site sends as 8 MiB of one-byte HTTP chunks (the time in the parse stage, how many reads it
  saw, the whole exchange, the longest the event loop was held);
* time to recover after every transfer of a session is stuck: messages to pages of sites that drip their heads byte by
  byte (every curl handle of the session) give up at their 0.5 s deadline, then one message to a healthy
  site, on the same client.

The sites are raw asyncio servers on 127.0.0.1 in a thread of this process; nothing else is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pipeline
import stages.parse as parse_module
from stages.legacy import LEGACY
from stages.models import AnswerHead
from stages.session import MAX_TRANSFERS, PER_SITE
from stages.transport import TransportOptions

Handler = Callable[[str, asyncio.StreamWriter], Awaitable[None]]
PAGE = (b'<html><div class="wpaicg-chat-shortcode" data-nonce="1111111111" data-post-id="1"></div></html>')
MIB = 1024 * 1024


def http(body: bytes, kind: str = "text/html", **extra: str) -> bytes:
    lines = [f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Site:
    """A raw HTTP/1.1 server in its own thread: ``handler(method_and_target, writer)`` answers."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.port = handler, 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                size = next((int(line.split(":")[1]) for line in head.split("\r\n")
                             if line.lower().startswith("content-length:")), 0)
                await reader.readexactly(size)
                await self.handler(head.split("\r\n")[0], writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    def __enter__(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


CLIENT = r"""
import asyncio, json, resource, sys
import pipeline
from stages.fetch import fetch_page
async def main(url):
    async with pipeline.Client() as client:
        await fetch_page(client.session, url + "/small", client.settings.transport)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = asyncio.get_running_loop().time()
        try:
            await fetch_page(client.session, url + "/bomb", client.settings.transport)
            error = None
        except Exception as caught:
            error = type(caught).__name__
        print(json.dumps({"error": error, "before_kib": before, "peak_kib": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss, "seconds": asyncio.get_running_loop().time() - start}))
asyncio.run(main(sys.argv[1]))
"""


def gzip_bomb_rss() -> dict[str, Any]:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MIB
    bomb = b"".join(packer.compress(block) for _ in range(1024)) + packer.flush()

    async def handle(line: str, writer: asyncio.StreamWriter) -> None:
        writer.write(http(bomb, content_encoding="gzip") if "/bomb" in line else http(PAGE))
        await writer.drain()

    with Site(handle) as url:
        done = subprocess.run([sys.executable, "-c", CLIENT, url], capture_output=True, text=True, timeout=300)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["bomb_bytes"] = len(bomb)
    return result


def parse_stage(chunk_size: int, stream: bool) -> float:
    """The parse stage alone, fed an 8 MiB answer (one JSON body, or one event of one line) in chunks."""
    if stream:
        text = json.dumps({"choices": [{"delta": {"content": "y" * (8 * MIB - 64)}}]})
        body = f"data: {text}\n\ndata: [DONE]\n\n".encode()
    else:
        body = json.dumps({"status": "success", "data": "y" * (8 * MIB - 32)}).encode()
    kind = "text/event-stream" if stream else "application/json"
    state = parse_module.start_parse(LEGACY, "message", AnswerHead("http://site.test/", 200, (("content-type", kind),)),
                                     16 * MIB)
    start = time.perf_counter()
    for i in range(0, len(body), chunk_size):
        state, _ = parse_module.feed(state, body[i:i + chunk_size])
    state, _ = parse_module.finish(state)
    assert state.failure is None
    return time.perf_counter() - start


async def _with_lag(work: Awaitable[str]) -> tuple[str, float]:
    lag = 0.0

    async def ticker() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lag = max(lag, loop.time() - before - 0.01)

    tick = asyncio.create_task(ticker())
    text = await work
    tick.cancel()
    return text, lag


async def _ask(client: pipeline.Client, url: str) -> str:
    site = pipeline.Site(url=url + "/", system_prompt="")
    return "".join([c async for c in pipeline.ask(client, site, [{"role": "user", "content": "hi"}])])


def one_byte_http_chunks() -> dict[str, Any]:
    body = json.dumps({"status": "success", "data": "y" * (8 * MIB - 32)}).encode()
    wire = b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"

    async def handle(line: str, writer: asyncio.StreamWriter) -> None:
        if line.startswith("GET"):
            writer.write(http(PAGE))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(wire), MIB):
                writer.write(wire[i:i + MIB])
                await writer.drain()
        await writer.drain()

    reads: list[int] = []
    in_parse = 0.0
    original = parse_module.feed

    def timed(state: Any, chunk: bytes) -> Any:
        nonlocal in_parse
        reads.append(len(chunk))
        start = time.perf_counter()
        try:
            return original(state, chunk)
        finally:
            in_parse += time.perf_counter() - start

    parse_module.feed = timed
    try:
        with Site(handle) as url:
            settings = pipeline.Settings(transport=TransportOptions(max_answer_bytes=16 * MIB))
            start = time.perf_counter()

            async def run() -> tuple[str, float]:
                async with pipeline.Client(settings) as client:
                    return await _with_lag(_ask(client, url))

            text, lag = asyncio.run(run())
            total = time.perf_counter() - start
    finally:
        parse_module.feed = original
    assert len(text) == 8 * MIB - 32
    return {"total_s": total, "parse_s": in_parse, "reads": len(reads), "max_loop_lag_s": lag}


def recover_after_stuck() -> dict[str, Any]:
    async def drip(line: str, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        while True:
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.2)

    async def good(line: str, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({"status": "success", "data": "ok"}).encode()
        writer.write(http(PAGE) if line.startswith("GET") else http(body, "application/json"))
        await writer.drain()

    with contextlib.ExitStack() as stack, Site(good) as healthy:
        # sites × PER_SITE pages (a site's concurrent page fetches are shared, and a site gets PER_SITE transfers at
        # most): MAX_TRANSFERS live transfers, every curl handle of the session
        pages = [f"{stack.enter_context(Site(drip))}/page{i}"
                 for _ in range(MAX_TRANSFERS // PER_SITE) for i in range(PER_SITE)]

        async def run() -> tuple[int, float]:
            settings = pipeline.Settings(total_timeout=0.5, retry=pipeline.RetryPolicy(attempts=1))
            async with pipeline.Client(settings) as client:
                results = await asyncio.gather(*(_ask(client, page) for page in pages), return_exceptions=True)
                start = time.perf_counter()
                assert await _ask(client, healthy) == "ok"
                return sum(isinstance(r, pipeline.DeadlineExceededError) for r in results), \
                    time.perf_counter() - start

        gave_up, recovered = asyncio.run(run())
    return {"gave_up": gave_up, "recover_s": recovered}


def print_stuck() -> None:
    stuck = recover_after_stuck()
    print(f"{MAX_TRANSFERS} stuck transfers ({stuck['gave_up']} gave up at their 0.5 s deadline): the next message "
          f"to a healthy site answered {stuck['recover_s']:.3f} s later")


def main() -> None:
    """All figures; ``stuck`` as the only argument: the last one alone."""
    if sys.argv[1:] == ["stuck"]:
        print_stuck()
        return
    bomb = gzip_bomb_rss()
    print(f"1 GiB gzip bomb ({bomb['bomb_bytes'] / MIB:.1f} MiB on the wire) as the page: {bomb['error']} after "
          f"{bomb['seconds']:.2f} s; peak RSS {bomb['peak_kib'] / 1024:.0f} MiB "
          f"(+{(bomb['peak_kib'] - bomb['before_kib']) / 1024:.0f} MiB over the warm client)")
    print(f"parse stage, 8 MiB in one chunk: one-line event {parse_stage(8 * MIB + 99, True):.3f} s, JSON body "
          f"{parse_stage(8 * MIB + 99, False):.3f} s; in 8 KiB chunks: {parse_stage(8192, True):.3f} s / "
          f"{parse_stage(8192, False):.3f} s")
    print(f"parse stage, 8 MiB JSON body fed one byte at a time (8 M calls): {parse_stage(1, False):.1f} s")
    e2e = one_byte_http_chunks()
    print(f"8 MiB answer sent as one-byte HTTP chunks: {e2e['total_s']:.1f} s in all, {e2e['parse_s']:.3f} s in the "
          f"parse stage over {e2e['reads']} reads; event loop held at most {e2e['max_loop_lag_s']:.2f} s")
    print_stuck()


if __name__ == "__main__":
    main()
