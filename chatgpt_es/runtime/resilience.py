"""Retries and deadlines around the stages.

Retries (exponential backoff with jitter, bounded attempts and time) are
for transient failures only, and never once text has reached the caller:
repeating the message would repeat text.  A 429's ``Retry-After`` is the
wait.  Deadlines bound each await of a message, so nothing hangs.  The
README's "Errors and retries" table is this policy, error by error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from stages.errors import ChatGptEsError, DeadlineExceededError, RateLimitedError

from .client import RetryPolicy
from .logs import get_logger
from .trace import Trace

T = TypeVar("T")
log = get_logger()

class Retries:
    """The retry policy of one message: after a failed send, whether to send again and after what wait.

    Sends again only what can succeed on a second try (``error.transient``), never once text reached the
    caller (it would repeat), never more often than the policy's attempts or the error's own ``max_sends``,
    and never past the message's deadline or the policy's retry time.  Logs ``retry`` only when it will
    send again, numbered ``attempt`` of ``attempts``; ``giving_up`` says why a transient error was final.
    """

    def __init__(self, policy: RetryPolicy, deadline: float | None) -> None:
        self.policy = policy
        self.deadline = deadline
        self.started = asyncio.get_running_loop().time()

    def wait_after(self, error: BaseException, attempt: int, delivered: bool) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``; None: ``error`` is final."""
        if not isinstance(error, ChatGptEsError) or not error.transient:
            return None
        name = type(error).__name__
        if delivered:
            log.info("giving_up", error=name, attempts=attempt, reason="text already reached the caller")
            return None
        limit = min(self.policy.attempts, error.max_sends or self.policy.attempts)
        if attempt >= limit:
            if limit > 1:
                log.info("giving_up", error=name, attempts=attempt, reason=f"{limit} attempts made")
            return None
        wait = error.retry_after if isinstance(error, RateLimitedError) and error.retry_after is not None \
            else self.backoff(attempt)
        now = asyncio.get_running_loop().time()
        if self.deadline is not None and now + wait >= self.deadline:
            log.info("giving_up", error=name, attempts=attempt, reason="the wait would cross the deadline")
            return None
        if now + wait - self.started > self.policy.timeout:
            log.info("giving_up", error=name, attempts=attempt, reason="the retry time is spent")
            return None
        log.info("retry", attempt=attempt + 1, attempts=limit, error=name, detail=str(error)[:200],
                 wait=round(wait, 3))
        return wait

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, as stamina computes it."""
        policy = self.policy
        return min(policy.wait_max, policy.wait_initial * 2.0 ** (attempt - 1) + random.uniform(0, policy.wait_jitter))


async def retrying(attempt: Callable[[list[str]], AsyncIterator[str]], policy: RetryPolicy, deadline: float | None,
                   trace: Trace) -> AsyncIterator[str]:
    """The text of ``attempt(delivered)``, run again as :class:`Retries` decides; ``delivered`` is the text the
    caller already has.  An error after any text carries that text as ``partial_text``."""
    delivered: list[str] = []
    retries: Retries | None = None  # made on the first failure: most messages need no retry machinery at all
    number = 1
    while True:
        try:
            async for text in attempt(delivered):
                delivered.append(text)
                yield text
            return
        except ChatGptEsError as error:
            if delivered and not error.partial_text:
                error.partial_text = "".join(delivered)
            retries = retries or Retries(policy, deadline)
            wait = retries.wait_after(error, number, bool(delivered))
            if wait is None:
                raise
        await bounded(deadline, asyncio.sleep(wait))
        number += 1
        trace.note("retry", {"attempt": number}, "a transient failure before any text")


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
    """``items``, each within the deadline (keep-alive comments in a stream do not reset it).

    One timer for the whole answer, not one per item: it cancels the task only while it waits for an item
    (as ``asyncio.timeout_at`` would); once it has fired, the next wait does not start.
    """
    iterator = aiter(items)
    if deadline is None:
        while True:
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            yield item
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    waiting = expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        if waiting:
            task.cancel()

    timer = loop.call_at(deadline, expire)
    try:
        while True:
            if expired or loop.time() >= deadline:
                await _close(iterator)
                raise deadline_error("while reading the answer")
            cancelling = task.cancelling()
            waiting = True
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if expired and task.uncancel() <= cancelling:  # our timer's cancellation, nobody else's
                    await _close(iterator)
                    raise deadline_error("while reading the answer") from None
                raise
            finally:
                waiting = False
            yield item
    finally:
        timer.cancel()


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
