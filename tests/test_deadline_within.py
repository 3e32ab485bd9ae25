"""The message deadline over an answer's items (``resilience.within``): one timer per answer, not per item."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatgpt_es.runtime.resilience import within
from pipeline import DeadlineExceededError


class Items:
    """An async iterator that waits ``pause`` seconds before each item and records whether it was closed."""

    def __init__(self, count: int, pause: float) -> None:
        self.count, self.pause, self.closed = count, pause, False

    async def run(self) -> AsyncIterator[int]:
        try:
            for i in range(self.count):
                await asyncio.sleep(self.pause)
                yield i
        finally:
            self.closed = True


async def collect(deadline: float | None, items: Items) -> list[int]:
    return [item async for item in within(deadline, items.run())]


def test_items_within_the_deadline_all_arrive() -> None:
    async def main() -> list[int]:
        return await collect(asyncio.get_running_loop().time() + 5, Items(5, 0.001))

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_no_deadline_passes_items_through() -> None:
    assert asyncio.run(collect(None, Items(3, 0))) == [0, 1, 2]


def test_a_wait_past_the_deadline_ends_it_and_closes_the_items() -> None:
    items = Items(3, 10.0)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(DeadlineExceededError, match="while reading the answer") as caught:
            await collect(start + 0.05, items)
        assert not caught.value.transient  # the message's own deadline: never retried
        return loop.time() - start

    assert asyncio.run(main()) < 2.0
    assert items.closed


def test_the_deadline_passing_while_the_consumer_works_stops_before_the_next_wait() -> None:
    items = Items(3, 0)

    async def main() -> list[int]:
        got: list[int] = []
        loop = asyncio.get_running_loop()
        with pytest.raises(DeadlineExceededError):
            async for item in within(loop.time() + 0.05, items.run()):
                got.append(item)
                await asyncio.sleep(0.1)  # the consumer's own await is not cancelled by the deadline
        return got

    assert asyncio.run(main()) == [0]
    assert items.closed


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(collect(loop.time() + 5, Items(3, 10.0)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_outside_cancellation_at_the_deadline_is_not_swallowed() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.05
        task = asyncio.ensure_future(collect(deadline, Items(3, 10.0)))
        loop.call_at(deadline, task.cancel)  # the same loop step as the deadline's timer
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
