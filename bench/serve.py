"""``chatgpt-es serve`` under load: its overhead per message against the library called directly, and many
concurrent streams.  Prints figures; not a test.

    .venv/bin/python -m bench.serve [--messages N] [--streams N]

The local site (``chatgpt-es emulate``) and the server (``chatgpt-es serve``) each run as a subprocess of
their own; this process is the client.  Direct: ``pipeline.ask`` with one shared :class:`pipeline.Client`.
Served: an aiohttp client (one keep-alive session) posting ``/v1/chat/completions`` to the server, which
calls the same library against the same site.  The two alternate in rounds, so drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

import pipeline
from bench.site import _CLI, local_site

ROUNDS = 10


@contextlib.contextmanager
def served(site_url: str, concurrency: int) -> Iterator[str]:
    """``chatgpt-es serve`` in front of ``site_url`` on 127.0.0.1 (OS-picked port); yields its base URL."""
    args = [sys.executable, "-c", _CLI, "serve", "--host", "127.0.0.1", "--port", "0", "--url", site_url + "/",
            "--system", "", "--retries", "1", "--concurrency", str(concurrency)]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        assert process.stdout is not None
        base = process.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"serve did not start ({base!r})")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def direct(client: pipeline.Client, site: pipeline.Site, text: str) -> str:
    return "".join([chunk async for chunk in pipeline.ask(client, site, user(text))])


async def via_server(session: aiohttp.ClientSession, url: str, text: str, stream: bool) -> str:
    body = {"model": "gpt-4o", "messages": user(text), "stream": stream}
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
        if not stream:
            data: dict[str, Any] = await response.json()
            return str(data["choices"][0]["message"]["content"])
        parts: list[str] = []
        async for line in response.content:
            if line.startswith(b"data: {"):
                chunk = json.loads(line[6:])
                parts.extend(choice["delta"].get("content") or "" for choice in chunk["choices"])
        return "".join(parts)


async def overhead(site_url: str, server_url: str, messages: int, stream: bool) -> tuple[float, float]:
    """Mean seconds per message: (direct, served); every answer checked."""
    settings = pipeline.Settings(retry=pipeline.RetryPolicy(attempts=1))
    site = pipeline.Site(url=site_url + "/", system_prompt="")
    times: dict[str, list[float]] = {"direct": [], "served": []}
    async with pipeline.Client(settings) as client, aiohttp.ClientSession() as session:
        await direct(client, site, "warm up")
        await via_server(session, server_url, "warm up", stream)
        per_round = max(1, messages // ROUNDS)
        for round_ in range(ROUNDS):
            for kind in ("direct", "served") if round_ % 2 == 0 else ("served", "direct"):
                for i in range(per_round):
                    text = f"{kind} {round_} {i}"
                    started = time.perf_counter()
                    answer = (await direct(client, site, text) if kind == "direct"
                              else await via_server(session, server_url, text, stream))
                    times[kind].append(time.perf_counter() - started)
                    if answer != f"Echo: {text}":
                        raise RuntimeError(f"wrong answer {answer!r} to {text!r}")
    return statistics.fmean(times["direct"]), statistics.fmean(times["served"])


async def many_streams(server_url: str, count: int) -> tuple[float, int]:
    """``count`` streams at once: (wall seconds, exact answers)."""
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector) as session:
        await via_server(session, server_url, "warm up", True)
        started = time.perf_counter()
        answers = await asyncio.gather(*(via_server(session, server_url, f"stream {i}", True) for i in range(count)))
        wall = time.perf_counter() - started
    return wall, sum(answer == f"Echo: stream {i}" for i, answer in enumerate(answers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200, help="messages per kind and site (default 200)")
    parser.add_argument("--streams", type=int, default=256, help="concurrent streams (default 256)")
    options = parser.parse_args()
    print("overhead per message: the server against the library called directly, same local site, same run")
    print(f"{'site':<38} {'direct ms':>10} {'served ms':>10} {'extra ms':>9} {'ratio':>6}")
    cases: list[tuple[str, dict[str, Any], bool]] = [
             ("legacy JSON, no latency", {}, False), ("AIPKit stream, no latency", {"aipkit": True}, True),
             ("legacy JSON, 50 ms latency", {"latency": 0.05}, False),
             ("AIPKit stream, 50 ms latency", {"aipkit": True, "latency": 0.05}, True)]
    for name, knobs, stream in cases:
        with local_site(**knobs) as site, served(site.base, 16) as server:
            mean_direct, mean_served = asyncio.run(overhead(site.base, server, options.messages, stream))
        print(f"{name:<38} {mean_direct * 1000:>10.2f} {mean_served * 1000:>10.2f} "
              f"{(mean_served - mean_direct) * 1000:>9.2f} {mean_served / mean_direct:>5.2f}×")
    print(f"\n{options.streams} concurrent streams through one server (AIPKit local site, 20 ms between pieces)")
    for limit in (options.streams, 16):
        with local_site(aipkit=True, chunk_delay=0.02) as site, served(site.base, limit) as server:
            wall, exact = asyncio.run(many_streams(server, options.streams))
        print(f"  per-site limit {limit:>3}: {exact}/{options.streams} answers exact, wall {wall:.2f} s")


if __name__ == "__main__":
    main()
