"""The measurements over HTTP: each takes a running local site and a contender, returns plain figures."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections import Counter
from typing import Any

import attrs

from .contenders import Contender, check_answer
from .site import LocalSite


@attrs.frozen
class Timing:
    first: float
    total: float
    chunks: int
    answer: str


async def timed(contender: Contender, text: str) -> Timing:
    """One message: seconds to the first chunk and to the end, the chunk count, the answer."""
    start = time.perf_counter()
    first: float | None = None
    chunks: list[str] = []
    async for chunk in contender.stream(text):
        if first is None:
            first = time.perf_counter() - start
        chunks.append(chunk)
    total = time.perf_counter() - start
    answer = "".join(chunks)
    check_answer(contender, text, answer)
    return Timing(first if first is not None else total, total, len(chunks), answer)


def failure(error: BaseException) -> str:
    """An error as ``Type: short message`` for the table."""
    message = " ".join(str(error).split())
    if len(message) > 90:
        message = message[:87] + "..."
    return f"{type(error).__name__}: {message}"


@attrs.frozen
class Traffic:
    """What the site saw, per message."""

    pages: float
    gets: float
    posts: float
    requests: float

    @classmethod
    def of(cls, counters: dict[str, Any], messages: int) -> Traffic:
        return cls(counters["pages"] / messages, counters["get"] / messages, counters["post"] / messages,
                   counters["requests"] / messages)


@attrs.frozen
class Sequential:
    per_message: float  # seconds, median of the repeats
    traffic: Traffic  # of the last repeat (every repeat starts cold)


async def sequential(site: LocalSite, contender: Contender, *, messages: int, repeats: int) -> Sequential:
    """Scenario 1: ``messages`` one after another from a cold start; seconds per message."""
    runs: list[float] = []
    counters: dict[str, Any] = {}
    for repeat in range(repeats):
        await contender.reset()
        site.reset()
        start = time.perf_counter()
        for i in range(messages):
            await timed(contender, f"sequential {repeat} {i}")
        runs.append((time.perf_counter() - start) / messages)
        counters = site.counters()
    return Sequential(statistics.median(runs), Traffic.of(counters, messages))


@attrs.frozen
class Single:
    cold: float  # a fresh client: page fetch + message
    warm: float  # the page's tokens already cached


async def single(site: LocalSite, contender: Contender, *, repeats: int) -> Single:
    """One message's latency, cold (fresh client) and warm (median of ``repeats``)."""
    cold: list[float] = []
    warm: list[float] = []
    for repeat in range(repeats):
        await contender.reset()
        cold.append((await timed(contender, f"single cold {repeat}")).total)
        warm.append((await timed(contender, f"single warm {repeat}")).total)
    return Single(statistics.median(cold), statistics.median(warm))


@attrs.frozen
class Concurrent:
    wall: float  # seconds, median of the repeats
    traffic: Traffic  # of the last repeat
    conversations: int


async def concurrent(site: LocalSite, contender: Contender, *, conversations: int, repeats: int) -> Concurrent:
    """Scenario 2/3: ``conversations`` cold conversations at once (asyncio.gather); wall time and page GETs."""
    runs: list[float] = []
    counters: dict[str, Any] = {}
    for repeat in range(repeats):
        await contender.reset()
        site.reset()
        start = time.perf_counter()
        await asyncio.gather(*(timed(contender, f"concurrent {repeat} {i}") for i in range(conversations)))
        runs.append(time.perf_counter() - start)
        counters = site.counters()
    return Concurrent(statistics.median(runs), Traffic.of(counters, conversations), conversations)


@attrs.frozen
class Streamed:
    cold: Timing  # median run (by total) with a fresh client
    warm: Timing  # median run with the page's tokens cached


async def streamed(contender: Contender, text: str, *, repeats: int) -> Streamed:
    """Scenario 4: time to the first chunk and to the end of a streamed answer."""
    cold: list[Timing] = []
    warm: list[Timing] = []
    for _ in range(repeats):
        await contender.reset()
        cold.append(await timed(contender, text))
        warm.append(await timed(contender, text))

    def median(runs: list[Timing]) -> Timing:
        return sorted(runs, key=lambda t: t.total)[len(runs) // 2]

    return Streamed(median(cold), median(warm))


@attrs.frozen
class Cpu:
    per_message: float  # CPU seconds of this process per message (the best round)
    wall: float  # wall seconds per message (the same round)
    messages: int  # per round
    rounds: int


async def cpu(contender: Contender, *, messages: int, rounds: int = 3) -> Cpu:
    """Scenario 5: this process's CPU time per message (the site runs in its own process).

    The best of ``rounds`` rounds: on a shared machine another process can slow a round down (caches, a
    sibling hardware thread), never speed it up.
    """
    await contender.reset()
    for i in range(5):  # warm up: the page's tokens, lazy imports, connection
        await timed(contender, f"warm-up {i}")
    best: tuple[float, float] | None = None
    for r in range(rounds):
        gc.collect()
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for i in range(messages):
            await timed(contender, f"cpu {r} {i}")
        got = ((time.process_time() - cpu_start) / messages, (time.perf_counter() - wall_start) / messages)
        best = got if best is None or got[0] < best[0] else best
    assert best is not None
    return Cpu(best[0], best[1], messages, rounds)


@attrs.frozen
class Cycles:
    per_message: float  # objects found unreachable by the cycle collector, per message
    kinds: tuple[str, ...]  # the most common kinds among them


async def cycles(contender: Contender, *, messages: int) -> Cycles:
    """Objects each message leaves in reference cycles: freed only when the cycle collector runs.

    With many messages in flight, such garbage is promoted to the oldest generation and waits for a full
    collection, which raises the peak memory of a long batch (scenario 7) without being a leak.
    """
    await contender.reset()
    for i in range(5):
        await timed(contender, f"warm-up {i}")
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for i in range(messages):
            await timed(contender, f"cycles {i}")
        found = gc.collect()
        kinds = Counter(type(item).__name__ for item in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()
    named = tuple(kind for kind, _ in kinds.most_common(12) if kind not in _PLAIN)[:4]
    return Cycles(found / messages, named)


_PLAIN = {"cell", "tuple", "list", "dict", "function", "method", "builtin_function_or_method", "ReferenceType",
          "frame", "coroutine", "async_generator", "set"}
