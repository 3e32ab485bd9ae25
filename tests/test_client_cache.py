"""The client's token cache: reuse, expiry, single flight, and incremental delivery."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pipeline
from chatgpt_es.emulator import Emulator

HELLO = [{"role": "user", "content": "Hello there"}]


def site_of(emulator: Emulator) -> pipeline.Site:
    return pipeline.Site(url=emulator.base_url + "/", system_prompt="")


async def answer(client: pipeline.Client, site: pipeline.Site, text: str = "Hello there",
                 trace: pipeline.Trace | None = None) -> str:
    messages = [{"role": "user", "content": text}]
    return "".join([chunk async for chunk in pipeline.ask(client, site, messages, trace=trace)])


def test_the_page_is_fetched_once_and_reused(legacy_site: Emulator) -> None:
    async def run() -> list[str]:
        async with pipeline.Client() as client:
            return [await answer(client, site_of(legacy_site), f"message {n}") for n in range(5)]

    assert asyncio.run(run()) == [f"Echo: message {n}" for n in range(5)]
    counts = legacy_site.counters.snapshot()
    assert (counts["get"], counts["post"]) == (1, 5)


def test_cached_tokens_expire_after_their_lifetime(legacy_site: Emulator) -> None:
    async def run() -> None:
        async with pipeline.Client(pipeline.Settings(token_ttl=0.3)) as client:
            await answer(client, site_of(legacy_site))
            await answer(client, site_of(legacy_site))
            await asyncio.sleep(0.4)
            await answer(client, site_of(legacy_site))

    asyncio.run(run())
    assert legacy_site.counters.snapshot()["get"] == 2


def test_64_cold_concurrent_conversations_share_one_page_fetch(start_emulator: Any) -> None:
    site = start_emulator(latency=0.05)

    async def run() -> list[str]:
        async with pipeline.Client() as client:
            return list(await asyncio.gather(*(answer(client, site_of(site), f"m{n}") for n in range(64))))

    assert asyncio.run(run()) == [f"Echo: m{n}" for n in range(64)]
    counts = site.counters.snapshot()
    assert (counts["get"], counts["post"]) == (1, 64)


def test_a_failed_shared_fetch_fails_every_waiter_with_the_same_typed_error(start_emulator: Any) -> None:
    site = start_emulator(cloudflare=True, latency=0.05)

    async def run() -> list[BaseException | str]:
        client = pipeline.Client(pipeline.Settings(retry=pipeline.RetryPolicy(attempts=1)))
        async with client:
            return list(await asyncio.gather(*(answer(client, site_of(site)) for _ in range(8)),
                                             return_exceptions=True))

    results = asyncio.run(run())
    assert all(isinstance(r, pipeline.CloudflareChallengeError) for r in results)
    assert site.counters.snapshot()["get"] == 1


def test_a_stream_reaches_the_caller_chunk_by_chunk(start_emulator: Any) -> None:
    site = start_emulator(stream=True, chunk_delay=0.1)
    text = "one two three four five six"

    async def run() -> list[tuple[float, str]]:
        arrivals = []
        async with pipeline.Client() as client:
            began = time.perf_counter()
            async for chunk in pipeline.ask(client, site_of(site), [{"role": "user", "content": text}]):
                arrivals.append((time.perf_counter() - began, chunk))
        return arrivals

    arrivals = asyncio.run(run())
    assert "".join(chunk for _, chunk in arrivals) == f"Echo: {text}"
    first, last = arrivals[0][0], arrivals[-1][0]
    assert len(arrivals) == 8
    assert last - first >= 0.5  # chunks came one by one, as the site sent them
    assert first < (last - first) / 2


def test_a_conversation_held_by_the_provider_continues_on_the_next_call(aipkit_site: Emulator) -> None:
    class Local(pipeline.ChatGptEs):
        url = aipkit_site.base_url + "/"

    async def run() -> tuple[str, str]:
        client = pipeline.Client()
        messages: list[dict[str, str]] = [{"role": "user", "content": "first"}]
        one = "".join([c async for c in Local.create_async_generator("gpt-4o", messages, system_prompt="",
                                                                    client=client)])
        messages += [{"role": "assistant", "content": one}, {"role": "user", "content": "second"}]
        two = "".join([c async for c in Local.create_async_generator("gpt-4o", messages, system_prompt="",
                                                                    client=client)])
        await client.aclose()
        return one, two

    one, two = asyncio.run(run())
    assert (one, two) == ("Echo: first", "Echo: second (after 2 earlier turns)")
    assert aipkit_site.last_form["message"] == "second"


def test_a_waiter_survives_the_cancellation_of_the_task_doing_the_shared_fetch(start_emulator: Any) -> None:
    site = start_emulator(latency=0.3)

    async def run() -> str:
        async with pipeline.Client() as client:
            owner = asyncio.create_task(answer(client, site_of(site), "owner"))
            await asyncio.sleep(0.05)  # the owner's page fetch is under way
            waiter = asyncio.create_task(answer(client, site_of(site), "waiter"))
            await asyncio.sleep(0.05)
            owner.cancel()
            return await waiter

    assert asyncio.run(run()) == "Echo: waiter"
    assert site.counters.snapshot()["get"] >= 1


def test_waiters_of_a_cancelled_fetch_share_one_new_fetch(start_emulator: Any) -> None:
    site = start_emulator(latency=0.3)

    async def run() -> list[str]:
        async with pipeline.Client() as client:
            owner = asyncio.create_task(answer(client, site_of(site), "owner"))
            await asyncio.sleep(0.05)
            waiters = [asyncio.create_task(answer(client, site_of(site), f"w{n}")) for n in range(3)]
            await asyncio.sleep(0.05)
            owner.cancel()
            return list(await asyncio.gather(*waiters))

    assert asyncio.run(run()) == ["Echo: w0", "Echo: w1", "Echo: w2"]
    assert site.counters.snapshot()["pages"] == 2  # the cancelled one, and one shared by the three waiters
