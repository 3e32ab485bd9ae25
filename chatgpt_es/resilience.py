"""Retries and deadlines around the stages.

Retries (stamina: exponential backoff with jitter, bounded attempts and
time) are for transient failures only, and never once text has reached the
caller: repeating the message would repeat text.  A 429's ``Retry-After`` is
the wait.  Deadlines bound each await of a message, so nothing hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from stages.errors import ChatGptEsError, DeadlineExceededError, RateLimitedError

from .client import RetryPolicy
from .logs import get_logger

T = TypeVar("T")
log = get_logger()

def retry_args(policy: RetryPolicy, attempts: int | None = None) -> dict[str, Any]:
    """stamina's arguments for the policy (``attempts`` overrides the policy's count)."""
    return {"attempts": policy.attempts if attempts is None else attempts, "timeout": policy.timeout,
            "wait_initial": policy.wait_initial, "wait_max": policy.wait_max, "wait_jitter": policy.wait_jitter}


def retry_hook(delivered: list[str]) -> Any:
    """Retry transient failures only, and never once text has reached the caller (it would repeat)."""

    def hook(error: Exception) -> bool | float:
        if delivered or not isinstance(error, ChatGptEsError) or not error.transient:
            return False
        wait = error.retry_after if isinstance(error, RateLimitedError) else None
        log.info("retry", error=type(error).__name__, detail=str(error)[:200], retry_after=wait)
        return True if wait is None else wait

    return hook


def deadline_in(seconds: float | None) -> float | None:
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


async def bounded(deadline: float | None, awaitable: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout_at(deadline):
            return await awaitable
    except TimeoutError:
        raise DeadlineExceededError("the message's total deadline ran out") from None


async def within(deadline: float | None, items: AsyncIterator[T], stall: float = 0.0) -> AsyncIterator[T]:
    """``items``, each within the deadline.

    ``stall`` is how long the transport itself lets one read wait (curl's stall limit): while more than
    that is left, no timer is needed for the next item, which saves one per chunk of a long stream.
    """
    iterator = aiter(items)
    loop = asyncio.get_running_loop()
    while True:
        try:
            if deadline is None or (stall > 0 and deadline - loop.time() > stall):
                item = await anext(iterator)
            else:
                async with asyncio.timeout_at(deadline):
                    item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            await _close(iterator)
            raise DeadlineExceededError("the message's total deadline ran out while reading the answer") from None
        yield item


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
