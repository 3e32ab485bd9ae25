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


def retry_hook(delivered: list[str], deadline: float | None) -> Any:
    """Retry transient failures only; never once text has reached the caller (it would repeat), and never
    past the message's deadline (a wait that would cross it ends the retries instead)."""

    def hook(error: Exception) -> bool | float:
        if delivered or not isinstance(error, ChatGptEsError) or not error.transient:
            return False
        wait = error.retry_after if isinstance(error, RateLimitedError) else None
        if deadline is not None and asyncio.get_running_loop().time() + (wait or 0.0) >= deadline:
            return False
        log.info("retry", error=type(error).__name__, detail=str(error)[:200], retry_after=wait)
        return True if wait is None else wait

    return hook


def deadline_in(seconds: float | None) -> float | None:
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


def deadline_error(while_: str) -> DeadlineExceededError:
    """The message's own deadline ran out: final, unlike a transport timeout, so never retried."""
    error = DeadlineExceededError(f"the message's total deadline ran out {while_}")
    error.transient = False
    return error


async def bounded(deadline: float | None, awaitable: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout_at(deadline):
            return await awaitable
    except TimeoutError:
        raise deadline_error("while waiting for the site") from None


async def within(deadline: float | None, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """``items``, each within the deadline (keep-alive comments in a stream do not reset it)."""
    iterator = aiter(items)
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            await _close(iterator)
            raise deadline_error("while reading the answer") from None
        yield item


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
