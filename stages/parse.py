"""Stage 6: parse an answer, incrementally.

``start_parse`` → ``feed`` (once per received chunk) → ``finish``: each a
pure function over a frozen :class:`ParseState`, returning the outcomes
(:class:`~stages.models.Text`, :class:`~stages.models.FollowUp`, …) that the
bytes so far decide.  What is generic lives here — choosing between a body
and an event stream, size limits, the HTTP-level errors every WordPress site
shares (Cloudflare, 429, 5xx, WordPress's own 403/400) — and what a protocol
generation means by its JSON and events lives in its :class:`ChatProtocol`.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import attrs

from .errors import (
    AnswerFormatError,
    BadStatusError,
    ChatGptEsError,
    CloudflareChallengeError,
    NonceRejectedError,
    RateLimitedError,
    ResponseError,
    ServerError,
    StreamInterruptedError,
    TooLargeError,
    UnknownActionError,
)
from .jsontext import loads
from .models import (
    AnswerHead,
    ChatBox,
    Conversation,
    FollowUp,
    Headers,
    HttpRequest,
    Outcome,
    Prompt,
    Stamp,
    Text,
    header,
)
from .sse import SseEvent, SseState, Stack, end_sse, feed_sse, items, push

DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: a longer Retry-After is read as this (a day): no sane wait is longer, and the deadline bounds it anyway
MAX_RETRY_AFTER = 86_400.0


@attrs.frozen
class StreamProgress:
    """What a protocol remembers while reading an event stream."""

    started: bool = False
    ended: bool = False
    #: text held back until the protocol knows what it is (e.g. the start of a refusal)
    held: str = ""
    #: the answer is known to be an answer: nothing more is held back
    settled: bool = False


@attrs.frozen
class ChatProtocol:
    """A protocol generation: data plus its stage functions, chosen after extraction."""

    name: str
    #: payload stage: the first request of a message
    build_request: Callable[[Prompt, ChatBox, Conversation, str, Stamp, str], HttpRequest]
    #: payload stage: the request a :class:`FollowUp` asks for (None: the protocol has none)
    follow_up: Callable[[FollowUp, ChatBox, Conversation, str, Stamp], HttpRequest] | None
    #: payload stage: a request for a fresh nonce (None: fetch the page again)
    refresh_nonce: Callable[[ChatBox, str], HttpRequest] | None
    #: parse: a whole non-stream body (status already checked for the shared errors)
    on_body: Callable[[str, AnswerHead, bytes], tuple[Outcome, ...]]
    #: parse: one server-sent event
    on_event: Callable[[StreamProgress, SseEvent], tuple[StreamProgress, tuple[Outcome, ...]]]
    #: parse: the stream ended: the last outcomes, or raise when it ended too early
    on_end: Callable[[StreamProgress], tuple[Outcome, ...]]
    #: parse: a whole body's protocol-specific error, decided before the shared HTTP-level ones (None: none)
    screen: Callable[[AnswerHead, bytes], ResponseError | None] | None = None


@attrs.frozen
class ParseState:
    protocol: ChatProtocol
    purpose: str
    head: AnswerHead
    stream: bool
    max_bytes: int
    received: int = 0
    #: the parts of a non-stream body received so far, a :data:`~stages.sse.Stack` (joined once, at the end)
    parts: Stack = ()
    sse: SseState = SseState()
    progress: StreamProgress = StreamProgress()
    #: an error an event decided; the outcomes before it are still delivered, then it is raised
    failure: ChatGptEsError | None = None


def is_event_stream(head: AnswerHead) -> bool:
    return head.status == 200 and head.content_type.startswith("text/event-stream")


def retry_after_seconds(headers: Headers, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    value = header(headers, "retry-after").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError):
            return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def is_challenge(status: int, headers: Headers, body: bytes | str) -> bool:
    """A Cloudflare challenge: ``cf-mitigated: challenge``, or its "Just a moment..." page on 403/503."""
    if header(headers, "cf-mitigated").lower() == "challenge":
        return True
    sample = body[:20_000] if isinstance(body, bytes) else body[:20_000].encode("utf-8", "replace")
    return status in (403, 429, 503) and (b"Just a moment..." in sample or b"_cf_chl_opt" in sample)


def shared_error(head: AnswerHead, body: bytes) -> ResponseError | None:
    """The errors any WordPress site behind any CDN may answer, whatever the protocol."""
    status = head.status
    if is_challenge(status, head.headers, body):
        return CloudflareChallengeError("Cloudflare answered with a challenge page", status=status, body=body)
    if status == 429:
        return RateLimitedError(
            "the site is rate limiting", status=status, body=body,
            retry_after=retry_after_seconds(head.headers),
        )
    if status >= 500:
        return ServerError("the site failed", status=status, body=body)
    return None


def leftover_error(head: AnswerHead, body: bytes) -> ResponseError:
    """A non-200 answer that the protocol did not recognise either."""
    if head.status == 403 and b"The link you followed has expired" in body:
        return NonceRejectedError("WordPress rejected the nonce", status=403, body=body)
    if head.status == 400 and body.strip() == b"0":
        return UnknownActionError("WordPress does not know this AJAX action", status=400, body=body)
    return BadStatusError("unexpected HTTP status", status=head.status, body=body)


def start_parse(protocol: ChatProtocol, purpose: str, head: AnswerHead,
                max_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> ParseState:
    return ParseState(protocol, purpose, head, is_event_stream(head), max_bytes)


def feed(state: ParseState, chunk: bytes) -> tuple[ParseState, tuple[Outcome, ...]]:
    """Add received bytes; return the new state and what they decided.

    Errors do not escape: when the bytes mean one, the outcomes before it are
    returned and the error is in ``state.failure`` for the caller to raise
    once it has delivered them.
    """
    if state.failure is not None:
        return state, ()
    received = state.received + len(chunk)
    if received > state.max_bytes:
        error = TooLargeError(f"the answer exceeded {state.max_bytes} bytes", status=state.head.status)
        return attrs.evolve(state, failure=error), ()
    if not state.stream:
        return _moved(state, received, push(state.parts, chunk), state.sse), ()
    sse, events = feed_sse(state.sse, chunk)
    state = _moved(state, received, state.parts, sse)
    return _events(state, events) if events else (state, ())


def _moved(state: ParseState, received: int, parts: Stack, sse: SseState) -> ParseState:
    """``state`` with more bytes in: built directly, as this runs once per received chunk."""
    return ParseState(state.protocol, state.purpose, state.head, state.stream, state.max_bytes, received, parts,
                      sse, state.progress, state.failure)


def _events(state: ParseState, events: tuple[SseEvent, ...]) -> tuple[ParseState, tuple[Outcome, ...]]:
    outcomes: list[Outcome] = []
    progress = state.progress
    for event in events:
        if progress.ended:
            break  # nothing after the end marker counts
        try:
            progress, decided = state.protocol.on_event(progress, event)
        except ChatGptEsError as error:
            return attrs.evolve(state, progress=progress, failure=error), tuple(outcomes)
        outcomes.extend(decided)
    return _progressed(state, progress), tuple(outcomes)


def _progressed(state: ParseState, progress: StreamProgress) -> ParseState:
    """``state`` with the protocol's new progress: built directly, as this runs once per chunk of events."""
    return ParseState(state.protocol, state.purpose, state.head, state.stream, state.max_bytes, state.received,
                      state.parts, state.sse, progress, state.failure)


def finish(state: ParseState) -> tuple[ParseState, tuple[Outcome, ...]]:
    """The answer is complete: its last outcomes; ``state.failure`` says if it was an error after all."""
    if state.failure is not None:
        return state, ()
    if state.stream:
        state, outcomes = _events(state, end_sse(state.sse))
        if state.failure is None:
            try:
                outcomes += state.protocol.on_end(state.progress)
            except ChatGptEsError as error:
                state = attrs.evolve(state, failure=error)
        return state, outcomes
    body = b"".join(items(state.parts))
    screen = state.protocol.screen
    shared = (screen(state.head, body) if screen is not None else None) or shared_error(state.head, body)
    if shared is not None:
        return attrs.evolve(state, failure=shared), ()
    try:
        return state, state.protocol.on_body(state.purpose, state.head, body)
    except ChatGptEsError as error:
        return attrs.evolve(state, failure=error), ()


def load_json(head: AnswerHead, body: bytes) -> Any:
    """The body as JSON, or :class:`AnswerFormatError` saying what it was instead."""
    try:
        return loads(body)
    except ValueError:  # UnicodeDecodeError is one too
        if head.status != 200:
            raise leftover_error(head, body) from None
        raise AnswerFormatError("the answer is not valid JSON", status=head.status, body=body) from None


#: the parse stage takes a big chunk in slices of this size, letting other tasks run between them
SLICE_BYTES = 64 * 1024


def _slices(chunk: bytes) -> list[bytes]:
    if len(chunk) <= SLICE_BYTES:
        return [chunk]
    view = memoryview(chunk)
    return [bytes(view[i:i + SLICE_BYTES]) for i in range(0, len(chunk), SLICE_BYTES)]


async def parse_answer(protocol: ChatProtocol, purpose: str, head: AnswerHead, chunks: AsyncIterable[bytes],
                       max_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> AsyncIterator[Outcome]:
    """Drive the parse stage over received chunks; errors carry the text that had arrived.

    An event stream is complete at its end marker (``[DONE]``, ``done``): the rest is not waited for and
    the connection is released at once.  A big chunk is parsed in slices, yielding to the event loop.
    """
    state = start_parse(protocol, purpose, head, max_bytes)
    text: list[str] = []
    try:
        async for chunk in chunks:
            pieces = _slices(chunk)
            for index, piece in enumerate(pieces):
                if index:
                    await asyncio.sleep(0)  # long synchronous work lets the other tasks run
                state, outcomes = feed(state, piece)
                for outcome in _delivered(outcomes, text):
                    yield outcome
                if state.failure is not None:
                    raise state.failure
                if state.progress.ended:
                    break
            if state.progress.ended:
                break  # the answer is complete: do not wait for the server to close the stream
        state, outcomes = finish(state)
        for outcome in _delivered(outcomes, text):
            yield outcome
        if state.failure is not None:
            raise state.failure
    except StreamInterruptedError as error:
        if not error.partial_text:
            error.partial_text = "".join(text)
        raise
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()  # an answer given up early frees its connection now, not when collected


def _delivered(outcomes: tuple[Outcome, ...], text: list[str]) -> tuple[Outcome, ...]:
    text.extend(o.text for o in outcomes if isinstance(o, Text))
    return outcomes
