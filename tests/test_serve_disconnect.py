"""A client that goes away mid-stream cancels the site request at once, and frees its slot; the per-site
limit holds the site requests under way to its number, queueing the rest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
from aiohttp import web
from e2e_helpers import serve_app
from serve_helpers import config_for, user

from chatgpt_es.emulator import Emulator, EmulatorConfig
from chatgpt_es.emulator.server import build_app
from chatgpt_es.server import ServerThread

DELAY = 3.0  # between two pieces of the site's answer; the whole answer would take about 30 s


@contextlib.contextmanager
def watched_site(config: EmulatorConfig) -> Iterator[tuple[Emulator, list[tuple[str, float, float]]]]:
    """The local site, with a record of when each of its request handlers started and ended."""
    emu = Emulator(config)
    app = build_app(emu)
    handled: list[tuple[str, float, float]] = []

    @web.middleware
    async def record(request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        started = time.monotonic()
        try:
            return await handler(request)
        finally:
            handled.append((request.method + " " + request.path_qs, started, time.monotonic()))

    app.middlewares.append(record)
    with serve_app(app) as url:
        emu.base_url = url
        yield emu, handled


async def read_first_text_then_leave(url: str, message: str) -> float:
    """Stream an answer, hang up once its first text has arrived; returns the time of hanging up."""
    body = {"model": "gpt-4o", "messages": user(message), "stream": True}
    async with aiohttp.ClientSession() as session:
        response = await session.post(url + "/v1/chat/completions", json=body)
        async for line in response.content:
            if line.startswith(b"data: ") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break
        response.close()  # the connection goes away with the answer half read
        return time.monotonic()


def test_disconnect_cancels_the_site_request() -> None:
    """Hanging up frees the slot at once (not at the site's next piece) and the site's transfer is aborted:
    the site sees the connection gone at its very next write, instead of streaming the whole answer."""
    message = "a b c d e f g h"
    with watched_site(EmulatorConfig(stream=True, chunk_delay=DELAY)) as (emu, handled), \
            ServerThread(config_for(emu)) as url:
        left = asyncio.run(read_first_text_then_leave(url, message))
        freed = None
        while time.monotonic() < left + DELAY * 2:
            if asyncio.run(get_health(url))["sites"]["default"]["active"] == 0:
                freed = time.monotonic()
                break
            time.sleep(0.05)
        while time.monotonic() < left + DELAY * 3 and len(handled) < emu.counters.snapshot()["requests"]:
            time.sleep(0.05)
    assert freed is not None and freed - left < DELAY * 2 / 3  # the handler was cancelled with the client
    assert len(handled) == emu.counters.snapshot()["requests"] == 2  # the page, the message: both ended
    stream_ended = handled[-1][2]
    assert stream_ended - left < DELAY * 1.5  # at the site's first write after the hang-up, not one later


async def get_health(url: str) -> dict[str, dict[str, dict[str, int]]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/health") as response:
        data: dict[str, dict[str, dict[str, int]]] = await response.json()
        return data


def test_the_per_site_limit_queues_the_rest() -> None:
    async def ask_all(url: str, count: int) -> list[str]:
        async with aiohttp.ClientSession() as session:
            async def one(i: int) -> str:
                body = {"model": "gpt-4o", "messages": user(f"m{i}")}
                async with session.post(url + "/v1/chat/completions", json=body) as response:
                    data = await response.json()
                    return str(data["choices"][0]["message"]["content"])
            return await asyncio.gather(*(one(i) for i in range(count)))

    with watched_site(EmulatorConfig(latency=0.3)) as (emu, handled), \
            ServerThread(config_for(emu, concurrency=2)) as url:
        answers = asyncio.run(ask_all(url, 6))
    assert answers == [f"Echo: m{i}" for i in range(6)]
    posts = [(start, end) for what, start, end in handled if what.startswith("POST")]
    assert len(posts) == 6
    most = max(sum(1 for start, end in posts if start <= moment < end) for moment, _ in posts)
    assert most == 2  # never more than the limit at once, and the limit was used
