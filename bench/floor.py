"""Client CPU per message against a bare curl_cffi exchange of the same requests (issue: "close to the floor").

The floor is what any client must do: one curl_cffi ``AsyncSession`` request per site request and decoding
the answer. For the legacy protocol that is one POST (JSON answer, ``.json()``); for AIPKit the cache POST
(``.json()``) and the stream GET (its body read). The form fields are the ones this project sends (built once,
before timing). Both run in this process against the same local site (a subprocess, so its CPU is not counted),
interleaved round by round; the figure is the median over rounds of CPU seconds per message
(``time.process_time``). Goal: ours ≤ 1.25× the floor for both protocols.

    python -m bench.floor [--messages 300] [--rounds 5] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import attrs

import pipeline
from stages.extract import extract_chatbox
from stages.models import ChatBox

from .site import local_site

GOAL = 1.25
Exchange = Callable[[int], Awaitable[str]]


async def chat_box(base: str) -> ChatBox:
    from curl_cffi.requests import AsyncSession

    async with AsyncSession(impersonate="chrome") as session:
        page = await session.get(base + "/")
        return extract_chatbox(page.text)


def ours(base: str, client: pipeline.Client) -> Exchange:
    class Local(pipeline.ChatGptEs):
        url: ClassVar[str] = base + "/"

    async def run(i: int) -> str:
        text = f"floor {i}"
        chunks = [c async for c in Local.create_async_generator("", [{"role": "user", "content": text}],
                                                                system_prompt="", client=client)]
        return "".join(chunks)

    return run


def bare_legacy(base: str, box: ChatBox, session: Any) -> Exchange:
    endpoint = base + "/wp-admin/admin-ajax.php"
    headers = {"accept": "*/*", "referer": base + "/", "origin": base}

    async def run(i: int) -> str:
        form = {"_wpnonce": box.nonce.value, "post_id": box.post_id.value, "url": base,
                "action": "wpaicg_chat_shortcode_message", "message": f"floor {i}", "bot_id": "0",
                "chatbot_identity": "shortcode", "wpaicg_chat_history": "[]", "wpaicg_chat_client_id": "c1903ecfcc"}
        answer = await session.post(endpoint, data=form, headers=headers)
        return str(answer.json()["data"])

    return run


def bare_aipkit(base: str, box: ChatBox, session: Any) -> Exchange:
    endpoint = base + "/wp-admin/admin-ajax.php"
    headers = {"accept": "*/*", "referer": base + "/", "origin": base}
    stream_headers = {**headers, "accept": "text/event-stream", "cache-control": "no-cache"}

    async def run(i: int) -> str:
        form = {"action": "aipkit_cache_sse_message", "message": f"floor {i}", "_ajax_nonce": box.nonce.value,
                "bot_id": box.bot_number, "user_client_message_id": f"aipkit-client-msg-{i}"}
        cached = await session.post(endpoint, data=form, headers=headers)
        key = cached.json()["data"]["cache_key"]
        query = {"action": "aipkit_frontend_chat_stream", "cache_key": key, "bot_id": box.bot_number,
                 "session_id": "s-floor", "conversation_uuid": f"c-{i}", "post_id": box.post_id.value,
                 "_ts": "1", "_ajax_nonce": box.nonce.value}
        streamed = await session.get(endpoint, params=query, headers=stream_headers)
        return str(streamed.text)

    return run


async def cpu_per_message(run: Exchange, messages: int, offset: int) -> float:
    gc.collect()
    start = time.process_time()
    for i in range(messages):
        await run(offset + i)
    return (time.process_time() - start) / messages


async def measure(aipkit: bool, messages: int, rounds: int) -> tuple[float, float]:
    from curl_cffi.requests import AsyncSession

    with local_site(aipkit=aipkit) as site:
        box = await chat_box(site.base)
        async with AsyncSession(impersonate="chrome") as session, pipeline.Client() as client:
            mine = ours(site.base, client)
            floor = bare_aipkit(site.base, box, session) if aipkit else bare_legacy(site.base, box, session)
            expected = await mine(0)
            assert expected == "Echo: floor 0", expected
            for i in range(5):  # warm up both: connections, caches, lazy imports
                await mine(i)
                await floor(i)
            ours_cpu, floor_cpu = [], []
            for r in range(rounds):
                ours_cpu.append(await cpu_per_message(mine, messages, r * messages))
                floor_cpu.append(await cpu_per_message(floor, messages, r * messages))
    return statistics.median(ours_cpu), statistics.median(floor_cpu)


#: the two protocols the row measures: (label, AIPKit site?)
PROTOCOLS = (("legacy (one POST)", False), ("AIPKit (cache POST + stream GET)", True))


@attrs.frozen
class Floor:
    """One protocol's row: medians over interleaved rounds of CPU seconds per message."""

    label: str
    ours: float
    bare: float
    messages: int
    rounds: int

    @property
    def ratio(self) -> float:
        return self.ours / self.bare

    @property
    def ok(self) -> bool:
        return self.ratio <= GOAL


def floors(messages: int, rounds: int) -> list[Floor]:
    """Both protocols, each against its own local site (started and stopped here)."""
    return [Floor(label, *asyncio.run(measure(aipkit, messages, rounds)), messages, rounds)
            for label, aipkit in PROTOCOLS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio misses the goal")
    args = parser.parse_args()
    missed = []
    for row in floors(args.messages, args.rounds):
        if not row.ok:
            missed.append(row.label)
        print(f"{row.label:34} ours {row.ours * 1000:.3f} ms, bare curl_cffi {row.bare * 1000:.3f} ms CPU per "
              f"message: {row.ratio:.2f}× (goal ≤ {GOAL}× {'✓' if row.ok else '✗ MISSED'})")
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
