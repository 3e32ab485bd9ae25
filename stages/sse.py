"""Server-sent-events framing, as a pure incremental decoder.

``feed_sse(state, chunk)`` returns the new state and the events completed by
the chunk.  Lines are split on bytes (CRLF, LF or CR, even when a CRLF is
split across chunks) and decoded only once complete, so a multi-byte UTF-8
character split between chunks is never garbled: the same bytes give the same
events however they are cut.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .jsontext import UTF8_BOM

_LINE_END = re.compile(rb"\r\n|\r|\n")

#: a persistent stack, newest first: ``(item, rest)`` or ``()``.  Adding is O(1) and shares the rest, so a
#: frozen state can grow by one piece per chunk or per line without copying what it already holds
#: (rebuilding a tuple per piece made a long line or a long event quadratic).
Stack = tuple[Any, ...]


def push(stack: Stack, item: Any) -> Stack:
    return (item, stack)


def items(stack: Stack) -> list[Any]:
    """The stack's items, oldest first."""
    found: list[Any] = []
    while stack:
        found.append(stack[0])
        stack = stack[1]
    found.reverse()
    return found


@attrs.frozen
class SseEvent:
    event: str  # "message" when the event had no ``event:`` line
    data: str
    id: str | None = None


@attrs.frozen
class SseState:
    #: the parts of an incomplete line, a :data:`Stack` (joined only once its end arrives)
    pending: Stack = ()
    #: the last line ended with CR: a LF starting the next chunk belongs to it
    after_cr: bool = False
    #: bytes have arrived (a byte-order mark is only skipped at the very start)
    begun: bool = False
    event: str = ""
    #: the event's data lines so far, a :data:`Stack`
    data: Stack = ()
    id: str | None = None
    #: any field line seen since the last dispatch
    dirty: bool = False


def _lines(state: SseState, lines: list[bytes]) -> tuple[SseState, tuple[SseEvent, ...]]:
    """Apply complete lines; the fields live in locals until the end (one new state per chunk, not per line)."""
    events: list[SseEvent] = []
    event, data, id_, dirty = state.event, state.data, state.id, state.dirty
    for raw in lines:
        if raw:
            line = raw.decode("utf-8", "replace")
            if line.startswith(":"):
                continue  # comment (AIPKit's 4 KB preamble is one)
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                data, dirty = push(data, value), True
            elif name == "event":
                event, dirty = value, True
            elif name == "id":
                id_, dirty = value, True
            # "retry" and unknown fields are ignored, as the spec says
        elif dirty:
            if data:
                events.append(SseEvent(event or "message", "\n".join(items(data)), id_))
            event, data, id_, dirty = "", (), None, False
    return SseState(state.pending, state.after_cr, state.begun, event, data, id_, dirty), tuple(events)


def feed_sse(state: SseState, chunk: bytes) -> tuple[SseState, tuple[SseEvent, ...]]:
    """Add ``chunk`` to the stream; return the new state and the events it completed."""
    if not chunk:
        return state, ()
    if not state.begun:
        chunk = chunk.removeprefix(UTF8_BOM)  # as the SSE spec says, one leading BOM is not part of the stream
    if state.after_cr and chunk.startswith(b"\n"):
        chunk = chunk[1:]  # the LF of a CRLF split across chunks
    if b"\n" not in chunk and b"\r" not in chunk:
        if not chunk:
            return state, ()
        # the common case of a small chunk inside a line: one new state, built directly (evolve costs more)
        return SseState(push(state.pending, chunk), False, True, state.event, state.data, state.id, state.dirty), ()
    buffer = b"".join([*items(state.pending), chunk])
    parts = _LINE_END.split(buffer)
    rest = parts.pop()
    return _lines(SseState(push((), rest) if rest else (), buffer.endswith(b"\r"), True, state.event, state.data,
                           state.id, state.dirty), parts)


def end_sse(state: SseState) -> tuple[SseEvent, ...]:
    """The events left when the stream ends.

    A last event whose blank line never came is still delivered when its last
    line is complete; a half-received line is dropped (it is a cut, and the
    protocol layer reports the missing end marker).
    """
    if state.pending:
        return ()
    return _lines(state, [b""])[1]
