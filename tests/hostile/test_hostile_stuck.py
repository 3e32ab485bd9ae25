"""Item 3: abandoned transfers are aborted at once and one stuck site cannot starve the others."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from hostile_sites import Request, Server, ask, client, json_answer, legacy_site, site

from stages.errors import DeadlineExceededError
from stages.session import MAX_TRANSFERS, PER_SITE


async def drip_head(request: Request, writer: asyncio.StreamWriter) -> None:
    """Starts an answer and never finishes its head: one byte every 0.2 s."""
    writer.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        writer.write(b"X")
        await writer.drain()
        await asyncio.sleep(0.2)


def test_every_abandoned_message_frees_its_connection_at_once() -> None:
    # stuck sites × PER_SITE pages: every curl handle of the session (MAX_TRANSFERS) holds a live transfer
    sites = MAX_TRANSFERS // PER_SITE
    assert sites * PER_SITE == MAX_TRANSFERS and sites >= 2
    with contextlib.ExitStack() as stack, Server(legacy_site(json_answer)) as good:
        stuck = [stack.enter_context(Server(drip_head)) for _ in range(sites)]

        async def body() -> tuple[list[BaseException | str], float, str]:
            async with client(total_timeout=1.0) as shared:
                pages = [site(f"{server.url}/page{i}") for server in stuck for i in range(PER_SITE)]
                results = await asyncio.gather(*(ask(shared, page) for page in pages), return_exceptions=True)
                start = time.monotonic()
                answer = await ask(shared, site(good.url))
                return results, time.monotonic() - start, answer

        results, took, answer = asyncio.run(body())
        assert len(results) == MAX_TRANSFERS
        assert all(isinstance(r, DeadlineExceededError) for r in results), results[:3]
        assert sum(server.connections for server in stuck) == MAX_TRANSFERS  # all really were stuck at once
        assert answer == "Hola"
        assert took < 5.0  # at once, not after the stuck transfers' own timeouts (tens of seconds)
        assert all(server.wait_until(lambda s: s.open == 0, 5.0) for server in stuck)  # all were closed


def test_a_stuck_site_holds_only_its_own_slots() -> None:
    with Server(drip_head) as stuck, Server(legacy_site(json_answer)) as good:
        async def body() -> tuple[str, float, int]:
            async with client(total_timeout=60.0) as shared:
                # more pages of the stuck site than its slots (each its own page fetch: a site's fetches are shared)
                waiting = [asyncio.create_task(ask(shared, site(f"{stuck.url}/page{i}")))
                           for i in range(PER_SITE + 16)]
                assert await asyncio.to_thread(stuck.wait_until, lambda s: s.open >= PER_SITE, 10.0)
                await asyncio.sleep(0.3)  # time enough for more connections, were they allowed
                start = time.monotonic()
                answer = await ask(shared, site(good.url))
                took = time.monotonic() - start
                held = stuck.open
                for task in waiting:
                    task.cancel()
                await asyncio.gather(*waiting, return_exceptions=True)
                return answer, took, held

        answer, took, held = asyncio.run(body())
        assert answer == "Hola" and took < 5.0
        assert held <= PER_SITE  # more messages wait, but the site holds no more than its share of connections
        assert stuck.wait_until(lambda s: s.open == 0, 5.0)  # cancelled: their transfers ended with them


@pytest.mark.parametrize("stop_after", [1, 3])
def test_a_consumer_that_stops_reading_frees_the_connection(stop_after: int) -> None:
    async def endless(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        n = 0
        while True:
            event = f'data: {{"choices":[{{"delta":{{"content":"w{n} "}}}}]}}\n\n'.encode()
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            n += 1
            await asyncio.sleep(0.05)

    with Server(legacy_site(endless)) as server:
        async def body() -> list[str]:
            import pipeline

            async with client() as shared:
                got: list[str] = []
                chunks = pipeline.ask(shared, site(server.url), [{"role": "user", "content": "Hi"}])
                async with contextlib.aclosing(chunks):  # type: ignore[type-var]  # ask is an async generator
                    async for chunk in chunks:
                        got.append(chunk)
                        if len(got) == stop_after:
                            break
                return got

        assert len(asyncio.run(body())) == stop_after
        assert server.wait_until(lambda s: s.open == 0, 3.0)
