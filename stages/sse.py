"""Server-sent-events framing, as a pure incremental decoder.

``feed_sse(state, chunk)`` returns the new state and the events completed by
the chunk.  Lines are split on bytes (CRLF, LF or CR, even when a CRLF is
split across chunks) and decoded only once complete, so a multi-byte UTF-8
character split between chunks is never garbled: the same bytes give the same
events however they are cut.
"""

from __future__ import annotations

import re

import attrs

from .jsontext import UTF8_BOM

_LINE_END = re.compile(rb"\r\n|\r|\n")


@attrs.frozen
class SseEvent:
    event: str  # "message" when the event had no ``event:`` line
    data: str
    id: str | None = None


@attrs.frozen
class SseState:
    #: the parts of an incomplete line (joined only once its end arrives: a long line costs linear time)
    pending: tuple[bytes, ...] = ()
    #: the last line ended with CR: a LF starting the next chunk belongs to it
    after_cr: bool = False
    #: bytes have arrived (a byte-order mark is only skipped at the very start)
    begun: bool = False
    event: str = ""
    data: tuple[str, ...] = ()
    id: str | None = None
    #: any field line seen since the last dispatch
    dirty: bool = False


def _field(state: SseState, line: str) -> SseState:
    if line.startswith(":"):
        return state  # comment (AIPKit's 4 KB preamble is one)
    name, colon, value = line.partition(":")
    if colon and value.startswith(" "):
        value = value[1:]
    if name == "data":
        return attrs.evolve(state, data=(*state.data, value), dirty=True)
    if name == "event":
        return attrs.evolve(state, event=value, dirty=True)
    if name == "id":
        return attrs.evolve(state, id=value, dirty=True)
    return state  # "retry" and unknown fields are ignored, as the spec says


def _dispatch(state: SseState) -> tuple[SseState, SseEvent | None]:
    event = SseEvent(state.event or "message", "\n".join(state.data), state.id) if state.data else None
    return SseState(pending=state.pending, after_cr=state.after_cr, begun=state.begun), event


def _lines(state: SseState, lines: list[bytes]) -> tuple[SseState, tuple[SseEvent, ...]]:
    events: list[SseEvent] = []
    for raw in lines:
        if raw:
            state = _field(state, raw.decode("utf-8", "replace"))
        elif state.dirty:
            state, event = _dispatch(state)
            if event is not None:
                events.append(event)
    return state, tuple(events)


def feed_sse(state: SseState, chunk: bytes) -> tuple[SseState, tuple[SseEvent, ...]]:
    """Add ``chunk`` to the stream; return the new state and the events it completed."""
    if not chunk:
        return state, ()
    if not state.begun:
        chunk = chunk.removeprefix(UTF8_BOM)  # as the SSE spec says, one leading BOM is not part of the stream
    if state.after_cr and chunk.startswith(b"\n"):
        chunk = chunk[1:]  # the LF of a CRLF split across chunks
    if b"\n" not in chunk and b"\r" not in chunk:
        pending = (*state.pending, chunk) if chunk else state.pending
        return attrs.evolve(state, pending=pending, after_cr=False, begun=True), ()
    buffer = b"".join(state.pending) + chunk
    parts = _LINE_END.split(buffer)
    rest = parts.pop()
    return _lines(attrs.evolve(state, pending=(rest,) if rest else (), after_cr=buffer.endswith(b"\r"),
                               begun=True), parts)


def end_sse(state: SseState) -> tuple[SseEvent, ...]:
    """The events left when the stream ends.

    A last event whose blank line never came is still delivered when its last
    line is complete; a half-received line is dropped (it is a cut, and the
    protocol layer reports the missing end marker).
    """
    if state.pending:
        return ()
    return _lines(state, [b""])[1]
